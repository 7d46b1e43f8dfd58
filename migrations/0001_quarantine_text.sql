ALTER TABLE `quarantine` ADD `text` text;--> statement-breakpoint
ALTER TABLE `quarantine` ADD `attachment_count` integer DEFAULT 0 NOT NULL;