CREATE TABLE `paging_decisions` (
	`ticket_number` integer NOT NULL,
	`step` text NOT NULL,
	`at` integer NOT NULL,
	`paged` integer NOT NULL,
	PRIMARY KEY(`ticket_number`, `step`)
);
--> statement-breakpoint
CREATE INDEX `paging_decisions_window` ON `paging_decisions` (`paged`,`at`);--> statement-breakpoint
ALTER TABLE `tickets` ADD `paging_capped` integer DEFAULT false NOT NULL;