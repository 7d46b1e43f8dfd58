ALTER TABLE `config` ADD `version` text;--> statement-breakpoint
-- The document stored before versions existed gets one, so isolates cache it by version at once.
UPDATE `config` SET `version` = lower(hex(randomblob(16))) WHERE `version` IS NULL;
