import { type SQL, sql } from "drizzle-orm";
import { escapeHtml } from "../domain/encoding";
import { knowledgeBaseTerms } from "../domain/search";
import { ticketKey } from "../domain/ticket";
import type { Database } from "./db";

export interface KnowledgeBaseHit {
  key: string;
  number: number;
  subject: string;
  /** Plain text around the matches. */
  snippet: string;
  /** The same, HTML-escaped, with matches in <mark>. Safe to render. */
  snippetHtml: string;
  resolvedAt: string | null;
  score: number;
}

const OPEN = "\u0001";
const CLOSE = "\u0002";

/**
 * Words of the query as FTS5 prefix terms, all required: `"expor"* "csv"*`. Quoting every term
 * means no user input is ever read as FTS5 syntax. Short words and words past the cap are left
 * out (`knowledgeBaseTerms`); null when nothing is left to search for.
 */
export function ftsQuery(q: string): string | null {
  const { terms } = knowledgeBaseTerms(q);
  if (terms.length === 0) return null;
  return terms.map((w) => `"${w.replace(/"/g, '""')}"*`).join(" ");
}

/** Ranked search (BM25, subject weighted 5×) over resolved public tickets only. */
export async function searchKnowledgeBase(
  db: Database,
  q: string,
  limit: number,
): Promise<KnowledgeBaseHit[]> {
  const match = ftsQuery(q);
  if (match === null) return [];
  const rows = await db.all<{
    number: number;
    subject: string;
    snippet: string;
    score: number;
    resolved_at: number | null;
  }>(sql`
    select k.rowid as number, t.subject as subject, t.resolved_at as resolved_at,
      snippet(knowledge_base, 1, ${OPEN}, ${CLOSE}, '…', 24) as snippet,
      bm25(knowledge_base, 5.0, 1.0) as score
    from knowledge_base k join tickets t on t.number = k.rowid
    where knowledge_base match ${match} and t.visibility = 'public' and t.status = 'resolved'
    order by score limit ${limit}`);
  return rows.map((row) => ({
    key: ticketKey(row.number),
    number: row.number,
    subject: row.subject,
    snippet: row.snippet.replaceAll(OPEN, "").replaceAll(CLOSE, ""),
    snippetHtml: escapeHtml(row.snippet).replaceAll(OPEN, "<mark>").replaceAll(CLOSE, "</mark>"),
    resolvedAt: row.resolved_at === null ? null : new Date(row.resolved_at).toISOString(),
    score: -row.score,
  }));
}

/** A resolved public ticket in the knowledge base: its subject and the public conversation. */
export function addToKnowledgeBase(number: number, guard: SQL): SQL {
  return sql`insert into knowledge_base (rowid, subject, body)
    select t.number, t.subject,
      coalesce((select group_concat(m.text, char(10)) from messages m
                where m.ticket_number = t.number and m.kind in ('customer', 'staff', 'community') and m.deleted_at is null), '')
    from tickets t where t.number = ${number} and t.visibility = 'public' and t.status = 'resolved' and ${guard}`;
}

/**
 * The ticket's entry rebuilt from its subject and current, non-deleted messages, in the batch of
 * the edit or deletion that changed them: removed, then re-added only if it is still resolved and
 * public. Text that was edited away or deleted is never findable afterwards.
 */
export function rebuildKnowledgeBaseEntry(number: number): [SQL, SQL] {
  return [removeFromKnowledgeBase(number), addToKnowledgeBase(number, sql`1`)];
}

/** The ticket leaves the knowledge base (reopened, or about to be re-indexed). */
export function removeFromKnowledgeBase(number: number, guard: SQL = sql`1`): SQL {
  return sql`delete from knowledge_base where rowid = ${number} and ${guard}`;
}
