-- The knowledge base: resolved public tickets, full-text searchable (FTS5). Rows are written by the
-- desk when a public ticket is resolved and removed when it is reopened or made private; rowid is
-- the ticket number. drizzle-kit cannot describe virtual tables, so this migration is hand-written.
CREATE VIRTUAL TABLE `knowledge_base` USING fts5(`subject`, `body`, tokenize = 'porter unicode61');
--> statement-breakpoint
UPDATE `tickets` SET `first_due_at` = `response_due_at` WHERE `first_due_at` IS NULL AND `clock_seq` = 1;
