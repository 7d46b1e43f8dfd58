CREATE TABLE `clock_retimes` (
	`id` text PRIMARY KEY NOT NULL,
	`policy` text NOT NULL,
	`after` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `clock_retimes_created` ON `clock_retimes` (`created_at`);--> statement-breakpoint
ALTER TABLE `tickets` ADD `clock_steps_at` text;--> statement-breakpoint
CREATE INDEX `tickets_running_clocks` ON `tickets` (`policy`,`number`) WHERE clock_started_at is not null;