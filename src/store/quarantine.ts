import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { Database } from "./db";
import { quarantine } from "./schema";

export type QuarantineRow = typeof quarantine.$inferSelect;

/** One quarantined message by its id (the primary key). */
export async function getQuarantined(db: Database, id: string): Promise<QuarantineRow | undefined> {
  return db.select().from(quarantine).where(eq(quarantine.id, id)).get();
}

/** Quarantined messages, newest first (index `quarantine_received`), before `before` when paging. */
export async function listQuarantine(db: Database, limit: number, before?: number): Promise<QuarantineRow[]> {
  return db
    .select()
    .from(quarantine)
    .where(before === undefined ? undefined : sql`${quarantine.receivedAt} < ${before}`)
    .orderBy(sql`${quarantine.receivedAt} desc`)
    .limit(limit)
    .all();
}

/**
 * Mark a quarantined message promoted to `ticketNumber` (an expression: the ticket the same batch
 * inserts). Written once: a row already promoted keeps its ticket.
 */
export function promotionUpdate(db: Database, id: string, ticketNumber: SQL) {
  return db
    .update(quarantine)
    .set({ promotedTicket: ticketNumber })
    .where(and(eq(quarantine.id, id), isNull(quarantine.promotedTicket)));
}
