CREATE TABLE `attachments` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`ticket_number` integer NOT NULL,
	`filename` text NOT NULL,
	`content_type` text NOT NULL,
	`size` integer NOT NULL,
	`storage_key` text NOT NULL,
	`content_id` text
);
--> statement-breakpoint
CREATE INDEX `attachments_ticket` ON `attachments` (`ticket_number`);--> statement-breakpoint
CREATE TABLE `config` (
	`id` text PRIMARY KEY NOT NULL,
	`document` text NOT NULL,
	`updated_at` integer NOT NULL,
	`updated_by` text
);
--> statement-breakpoint
CREATE TABLE `escalations` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_number` integer NOT NULL,
	`dedupe_key` text NOT NULL,
	`kind` text NOT NULL,
	`level` integer NOT NULL,
	`target` text NOT NULL,
	`detail` text,
	`at` integer NOT NULL,
	`due_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `escalations_dedupe` ON `escalations` (`ticket_number`,`dedupe_key`);--> statement-breakpoint
CREATE TABLE `idempotency_keys` (
	`channel` text NOT NULL,
	`key` text NOT NULL,
	`ticket_number` integer,
	`message_id` text,
	`created` integer DEFAULT false NOT NULL,
	`response_due_at` integer,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`channel`, `key`)
);
--> statement-breakpoint
CREATE TABLE `improvements` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_number` integer NOT NULL,
	`kind` text NOT NULL,
	`title` text NOT NULL,
	`url` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `improvements_ticket` ON `improvements` (`ticket_number`);--> statement-breakpoint
CREATE TABLE `messages` (
	`id` text PRIMARY KEY NOT NULL,
	`ticket_number` integer NOT NULL,
	`direction` text NOT NULL,
	`kind` text NOT NULL,
	`author` text NOT NULL,
	`text` text NOT NULL,
	`html` text,
	`created_at` integer NOT NULL,
	`external_id` text,
	`delivery_status` text,
	`delivery_error` text,
	`edited_at` integer,
	`deleted_at` integer,
	`threaded_by` text
);
--> statement-breakpoint
CREATE INDEX `messages_ticket` ON `messages` (`ticket_number`,`created_at`);--> statement-breakpoint
CREATE TABLE `quarantine` (
	`id` text PRIMARY KEY NOT NULL,
	`channel` text NOT NULL,
	`reason` text NOT NULL,
	`sender` text,
	`recipient` text,
	`subject` text,
	`external_id` text,
	`storage_key` text,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `quarantine_received` ON `quarantine` (`received_at`);--> statement-breakpoint
CREATE TABLE `surveys` (
	`token` text PRIMARY KEY NOT NULL,
	`ticket_number` integer NOT NULL,
	`score` integer,
	`sent_at` integer NOT NULL,
	`answered_at` integer
);
--> statement-breakpoint
CREATE INDEX `surveys_ticket` ON `surveys` (`ticket_number`);--> statement-breakpoint
CREATE TABLE `thread_keys` (
	`channel` text NOT NULL,
	`key` text NOT NULL,
	`ticket_number` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`channel`, `key`)
);
--> statement-breakpoint
CREATE INDEX `thread_keys_ticket` ON `thread_keys` (`ticket_number`);--> statement-breakpoint
CREATE TABLE `tickets` (
	`number` integer PRIMARY KEY NOT NULL,
	`channel` text NOT NULL,
	`subject` text DEFAULT '' NOT NULL,
	`status` text NOT NULL,
	`priority` text NOT NULL,
	`policy` text NOT NULL,
	`team` text NOT NULL,
	`assignee` text,
	`customer` text,
	`visibility` text NOT NULL,
	`security` integer DEFAULT false NOT NULL,
	`escalation_level` integer NOT NULL,
	`requester_name` text,
	`requester_email` text,
	`requester_handle` text,
	`channel_name` text,
	`callback_url` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`first_response_at` integer,
	`resolved_at` integer,
	`clock_seq` integer DEFAULT 0 NOT NULL,
	`clock_started_at` integer,
	`response_due_at` integer,
	`queue_due_at` integer DEFAULT 8640000000000000 NOT NULL,
	`breached` integer DEFAULT false NOT NULL,
	`acknowledged_at` integer,
	`revision` integer DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `tickets_queue` ON `tickets` (`status`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_team_queue` ON `tickets` (`team`,`status`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_channel_queue` ON `tickets` (`channel`,`status`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_assignee_queue` ON `tickets` (`assignee`,`status`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_created` ON `tickets` (`created_at`);