import { and, eq, inArray, sql } from "drizzle-orm";
import { batchAround, type Database } from "./db";
import { pagingDecisions } from "./schema";

/** The cap counts the pages of the last 60 minutes (a sliding window, not the clock hour). */
export const PAGING_WINDOW_MS = 3_600_000;

/** Decisions are kept a week: long enough for any alarm re-run to read its own back. */
const KEEP_DECISIONS_MS = 7 * 86_400_000;

/**
 * Whether each of a capped ticket's page steps goes to on-call (SPEC §11): the step keys that page.
 *
 * Each step decides once. `insert or ignore … select` writes the decision with the count of pages
 * in the last hour taken in the same statement; D1 runs statements and batches one at a time, so
 * two timers deciding at once are serialised and the second sees the first's page. A step already
 * decided (an alarm that runs twice, or wakes late) keeps its first decision: the insert is
 * ignored and the decision is read back. Only pages count toward the cap, so the count reads at most
 * the cap's worth of index entries.
 */
export async function decideCappedPages(
  db: Database,
  input: { ticketNumber: number; steps: readonly string[]; now: number; perHour: number },
): Promise<Set<string>> {
  const { ticketNumber, steps, now, perHour } = input;
  if (steps.length === 0) return new Set();
  const decide = steps.map((step) =>
    db.run(sql`insert or ignore into ${pagingDecisions} (ticket_number, step, at, paged)
      select ${ticketNumber}, ${step}, ${now},
        (select count(*) from ${pagingDecisions} where paged = 1 and at > ${now - PAGING_WINDOW_MS}) < ${perHour}`),
  );
  const prune = db.run(
    sql`delete from ${pagingDecisions} where paged in (0, 1) and at < ${now - KEEP_DECISIONS_MS}`,
  );
  const decided = await batchAround(
    db,
    [...decide, prune],
    db
      .select({ step: pagingDecisions.step, paged: pagingDecisions.paged })
      .from(pagingDecisions)
      .where(and(eq(pagingDecisions.ticketNumber, ticketNumber), inArray(pagingDecisions.step, [...steps]))),
  );
  return new Set(decided.filter((row) => row.paged).map((row) => row.step));
}
