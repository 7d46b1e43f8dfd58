ALTER TABLE `messages` ADD `sender` text;--> statement-breakpoint
ALTER TABLE `messages` ADD `subject` text;