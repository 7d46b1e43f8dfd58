-- One stored message per channel id per ticket. Older databases may hold duplicates from before
-- this index: keep the first of each.
DELETE FROM `messages` WHERE `external_id` IS NOT NULL AND rowid NOT IN (
  SELECT min(rowid) FROM `messages` WHERE `external_id` IS NOT NULL GROUP BY `ticket_number`, `external_id`);
--> statement-breakpoint
CREATE UNIQUE INDEX `messages_external` ON `messages` (`ticket_number`,`external_id`) WHERE `external_id` IS NOT NULL;
