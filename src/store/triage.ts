import { and, asc, eq, inArray } from "drizzle-orm";
import type { Database } from "./db";
import { idempotencyKeys, threadKeys, tickets } from "./schema";

/** Scope of the digest's once-per-week markers in `idempotency_keys` (not a channel). */
const DIGEST_SCOPE = "cron";

const MAX_TICKETS = 2000;

/** Open and pending GitHub tickets (served by `tickets_channel_queue`). */
export async function openGithubTickets(db: Database) {
  return db
    .select()
    .from(tickets)
    .where(and(eq(tickets.channel, "github"), inArray(tickets.status, ["open", "pending"])))
    .orderBy(asc(tickets.queueDueAt), asc(tickets.number))
    .limit(MAX_TICKETS)
    .all();
}

/** Each ticket's GitHub thread keys (`owner/repo#n`), in chunks under D1's 100 bound parameters. */
export async function githubThreadKeysOf(
  db: Database,
  numbers: readonly number[],
): Promise<Map<number, string[]>> {
  const keys = new Map<number, string[]>();
  for (let i = 0; i < numbers.length; i += 90) {
    const rows = await db
      .select({ ticketNumber: threadKeys.ticketNumber, key: threadKeys.key, createdAt: threadKeys.createdAt })
      .from(threadKeys)
      .where(
        and(eq(threadKeys.channel, "github"), inArray(threadKeys.ticketNumber, numbers.slice(i, i + 90))),
      )
      .all();
    for (const row of rows.sort((a, b) => b.createdAt - a.createdAt)) {
      keys.set(row.ticketNumber, [...(keys.get(row.ticketNumber) ?? []), row.key]);
    }
  }
  return keys;
}

/** Claim a once-only job key (`digest:<team>:<iso-week>`); false when it was claimed before. */
export async function claimOnce(db: Database, key: string, now: number): Promise<boolean> {
  const inserted = await db
    .insert(idempotencyKeys)
    .values({ channel: DIGEST_SCOPE, key, createdAt: now })
    .onConflictDoNothing()
    .returning({ key: idempotencyKeys.key });
  return inserted.length > 0;
}

/** Give a claim back after the job failed, so the next run tries again. */
export async function releaseClaim(db: Database, key: string): Promise<void> {
  await db
    .delete(idempotencyKeys)
    .where(and(eq(idempotencyKeys.channel, DIGEST_SCOPE), eq(idempotencyKeys.key, key)));
}
