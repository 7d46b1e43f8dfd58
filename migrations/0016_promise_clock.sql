CREATE TABLE `promises` (
	`ticket_number` integer NOT NULL,
	`seq` integer NOT NULL,
	`made_at` integer NOT NULL,
	`due_at` integer NOT NULL,
	`made_by` text NOT NULL,
	`message_id` text NOT NULL,
	`kept_at` integer,
	`escalated_at` integer,
	PRIMARY KEY(`ticket_number`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `promises_made` ON `promises` (`made_at`,`ticket_number`,`due_at`,`kept_at`);--> statement-breakpoint
CREATE INDEX `promises_open` ON `promises` (`ticket_number`) WHERE "promises"."kept_at" is null;--> statement-breakpoint
ALTER TABLE `tickets` ADD `promise_seq` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tickets` ADD `promise_made_at` integer;--> statement-breakpoint
ALTER TABLE `tickets` ADD `next_update_due_at` integer;--> statement-breakpoint
CREATE INDEX `tickets_status_queue` ON `tickets` (`status`,`queue_due_at`,`number`);