/**
 * The limits of the two text searches (README "Limits"): the knowledge base's full-text query
 * and the queue's subject filter.
 */

/** Longest `q` either search takes, in characters (`/v1/search`, `/kb`, the queue). */
export const SEARCH_MAX_QUERY_CHARS = 200;

/** Knowledge-base words shorter than this are ignored: a one-letter prefix matches nearly every row. */
export const KB_MIN_TERM_CHARS = 2;

/** Knowledge-base words past this many (after dropping short ones and repeats) are ignored. */
export const KB_MAX_TERMS = 8;

export interface KnowledgeBaseTerms {
  /** The words searched for, in order: each a required prefix. */
  terms: string[];
  /** Words left out: shorter than KB_MIN_TERM_CHARS, or past the first KB_MAX_TERMS. */
  ignored: string[];
}

/**
 * The words of a knowledge-base query. A query whose words are all ignored searches for nothing
 * and finds nothing (an empty result, not an error: the search box never scolds a reader).
 */
export function knowledgeBaseTerms(q: string): KnowledgeBaseTerms {
  const terms: string[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const word of q.match(/[\p{L}\p{N}_]+/gu) ?? []) {
    const folded = word.toLowerCase();
    if (seen.has(folded)) continue;
    seen.add(folded);
    if ([...word].length < KB_MIN_TERM_CHARS || terms.length >= KB_MAX_TERMS) ignored.push(word);
    else terms.push(word);
  }
  return { terms, ignored };
}

/** D1 (SQLite's SQLITE_MAX_LIKE_PATTERN_LENGTH) refuses a LIKE pattern longer than this many bytes. */
export const LIKE_PATTERN_MAX_BYTES = 50;

const utf8 = new TextEncoder();

export type SubjectPattern = { ok: true; pattern: string | null } | { ok: false; bytes: number };

/**
 * The queue's `q` as a LIKE pattern: `%q%` with `\`, `%` and `_` escaped. Null for an empty `q`
 * (no filter); not ok when the pattern would be over D1's limit, with the bytes it would take.
 */
export function subjectPattern(q: string): SubjectPattern {
  const text = q.trim();
  if (text === "") return { ok: true, pattern: null };
  const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const bytes = utf8.encode(pattern).length;
  return bytes <= LIKE_PATTERN_MAX_BYTES ? { ok: true, pattern } : { ok: false, bytes };
}

/** Why a `q` is refused, naming the limit (the API's 400 and the console's queue page say this). */
export function subjectFilterProblem(bytes: number): string {
  return (
    `q may be at most ${LIKE_PATTERN_MAX_BYTES - 2} bytes of UTF-8 (\\, % and _ count twice): ` +
    `D1 refuses a LIKE pattern over ${LIKE_PATTERN_MAX_BYTES} bytes, and this one would be ${bytes}.`
  );
}
