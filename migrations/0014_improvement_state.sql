ALTER TABLE `improvements` ADD `state` text DEFAULT 'open' NOT NULL;--> statement-breakpoint
ALTER TABLE `improvements` ADD `shipped_at` integer;--> statement-breakpoint
ALTER TABLE `improvements` ADD `source` text DEFAULT 'manual' NOT NULL;--> statement-breakpoint
ALTER TABLE `improvements` ADD `ref` text;--> statement-breakpoint
ALTER TABLE `improvements` ADD `external_id` text;--> statement-breakpoint
CREATE UNIQUE INDEX `improvements_external` ON `improvements` (`source`,`external_id`,`ticket_number`) WHERE "improvements"."external_id" is not null;