DROP INDEX `tickets_queue`;--> statement-breakpoint
DROP INDEX `tickets_team_queue`;--> statement-breakpoint
DROP INDEX `tickets_channel_queue`;--> statement-breakpoint
DROP INDEX `tickets_assignee_queue`;--> statement-breakpoint
CREATE INDEX `tickets_priority_queue` ON `tickets` (`priority`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_breached_queue` ON `tickets` (`breached`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_queue` ON `tickets` (`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_team_queue` ON `tickets` (`team`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_channel_queue` ON `tickets` (`channel`,`queue_due_at`,`number`);--> statement-breakpoint
CREATE INDEX `tickets_assignee_queue` ON `tickets` (`assignee`,`queue_due_at`,`number`);--> statement-breakpoint
UPDATE `tickets` SET `queue_due_at` = 8640000000000001 WHERE `status` = 'resolved';
