-- Porter stemming breaks FTS5 prefix queries ("zyxay"* is stemmed to "zyxai"* and stops matching
-- "zyxay…"): the knowledge base keeps words as written (accents folded) and relies on prefix terms.
DROP TABLE IF EXISTS `knowledge_base`;
--> statement-breakpoint
CREATE VIRTUAL TABLE `knowledge_base` USING fts5(`subject`, `body`, tokenize = 'unicode61 remove_diacritics 2');
--> statement-breakpoint
INSERT INTO `knowledge_base` (rowid, `subject`, `body`)
SELECT t.`number`, t.`subject`,
  coalesce((SELECT group_concat(m.`text`, char(10)) FROM `messages` m
            WHERE m.`ticket_number` = t.`number` AND m.`kind` IN ('customer', 'staff') AND m.`deleted_at` IS NULL), '')
FROM `tickets` t WHERE t.`status` = 'resolved' AND t.`visibility` = 'public';
