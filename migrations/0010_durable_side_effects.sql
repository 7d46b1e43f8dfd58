CREATE TABLE `timer_syncs` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_number` integer NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `timer_syncs_created` ON `timer_syncs` (`created_at`);--> statement-breakpoint
CREATE INDEX `timer_syncs_ticket` ON `timer_syncs` (`ticket_number`);--> statement-breakpoint
ALTER TABLE `quarantine` ADD `promoted_ticket` integer;