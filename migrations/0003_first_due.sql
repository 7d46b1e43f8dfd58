DROP INDEX `tickets_created`;--> statement-breakpoint
ALTER TABLE `tickets` ADD `first_due_at` integer;--> statement-breakpoint
CREATE INDEX `tickets_created` ON `tickets` (`created_at`,`channel`,`team`);