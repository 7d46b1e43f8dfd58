DROP INDEX `tickets_created`;--> statement-breakpoint
CREATE INDEX `tickets_created` ON `tickets` (`created_at`,`channel`,`team`,`first_response_at`,`first_due_at`,`resolved_at`);