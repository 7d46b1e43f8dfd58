ALTER TABLE `surveys` ADD `expires_at` integer;--> statement-breakpoint
ALTER TABLE `surveys` ADD `revoked_at` integer;