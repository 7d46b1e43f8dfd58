import { sql } from "drizzle-orm";
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

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * Words of the query as FTS5 prefix terms, all required: `"expor"* "csv"*`. Quoting every term
 * means no user input is ever read as FTS5 syntax.
 */
export function ftsQuery(q: string): string | null {
  const words = q.match(/[\p{L}\p{N}_]+/gu)?.slice(0, 12) ?? [];
  if (words.length === 0) return null;
  return words.map((w) => `"${w.replace(/"/g, '""')}"*`).join(" ");
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
