import { asc, eq, inArray, lt, type SQL, sql } from "drizzle-orm";
import type { Database, Statement } from "./db";
import { guardedInsert } from "./guarded";
import { prepared, slot } from "./prepared";
import { tickets, timerSyncs } from "./schema";

/**
 * A write's debt to its ticket's TicketTimer, stored in the same D1 batch as the write: the timer
 * event and the outbound calls it owes, as JSON. Deleted once the timer has them; the reconciler
 * pays whatever a crash left behind.
 */
export type TimerDebtRow = typeof timerSyncs.$inferSelect;

/** Record a debt of a known ticket (guarded: written only when `guard` holds at that point of the batch). */
export function timerDebtInsert(
  db: Database,
  debt: { id: string; ticketNumber: number; payload: string; createdAt: number },
  guard?: SQL,
): Statement {
  if (guard === undefined) {
    return prepared(
      db,
      "timer-debt:insert",
      (d) =>
        d.insert(timerSyncs).values({
          id: slot("id"),
          ticketNumber: slot("ticketNumber"),
          payload: slot("payload"),
          createdAt: slot("createdAt"),
        }),
      { id: debt.id, ticketNumber: debt.ticketNumber, payload: debt.payload, createdAt: debt.createdAt },
    );
  }
  return db.run(guardedInsert(timerSyncs, debt, guard));
}

/**
 * Record the debt of the ticket the same batch just inserted. Its number is not known before the
 * batch runs, so the payload carries `placeholder` wherever the number goes (its key, its links)
 * and SQL puts the number in.
 */
export function newTicketDebtInsert(
  db: Database,
  debt: { id: string; payload: string; placeholder: string; createdAt: number },
  justInserted: SQL,
): Statement {
  return prepared(
    db,
    // `justInserted` is the same SQL for every caller (tickets.ts JUST_INSERTED).
    "timer-debt:insert-new",
    (d) =>
      d.insert(timerSyncs).values({
        id: slot("id"),
        ticketNumber: justInserted,
        payload: sql`replace(${slot("payload")}, ${slot("placeholder")}, ${justInserted})`,
        createdAt: slot("createdAt"),
      }),
    { id: debt.id, payload: debt.payload, placeholder: debt.placeholder, createdAt: debt.createdAt },
  );
}

/** Record a debt on its own (a write that is only the debt). */
export async function recordTimerDebt(
  db: Database,
  debt: { id: string; ticketNumber: number; payload: string; createdAt: number },
): Promise<void> {
  await db.insert(timerSyncs).values(debt);
}

/** The timer has it: the debt is paid. */
export async function deleteTimerDebts(db: Database, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db.delete(timerSyncs).where(inArray(timerSyncs.id, [...ids]));
}

/**
 * Paid debts whose rows are still to be deleted, in this isolate. Deleting a paid debt is a D1 round
 * trip of its own after every write; instead the delete rides along with the next intake lookup this
 * isolate sends (`paidDebtDeletes`), and whatever no lookup took within `PAID_DEBT_FLUSH_MS` is
 * deleted on its own (`flushPaidDebts`, run after the response by the caller's `waitUntil`). A row
 * that outlives both (the isolate was evicted in between) is paid again by the reconciler, which is
 * harmless: the timer is told D1's current state and ignores calls it already has.
 */
const paidDebts = new Set<string>();
/** At most this many ids ride along in one statement (D1 binds at most 100 parameters). */
const PAID_DEBTS_PER_STATEMENT = 90;
export const PAID_DEBT_FLUSH_MS = 50;

export function notePaidDebt(id: string): void {
  paidDebts.add(id);
}

function takePaidDebts(): string[] {
  const ids = [...paidDebts].slice(0, PAID_DEBTS_PER_STATEMENT);
  for (const id of ids) paidDebts.delete(id);
  return ids;
}

/**
 * The delete of paid debts for the caller's next batch, and what to do if that batch fails (the
 * ids go back, for the next one). Empty when nothing is owed a delete.
 */
export function paidDebtDeletes(db: Database): { statements: Statement[]; failed: () => void } {
  const ids = takePaidDebts();
  if (ids.length === 0) return { statements: [], failed: () => {} };
  return {
    statements: [paidDebtDelete(db, ids)],
    failed: () => {
      for (const id of ids) paidDebts.add(id);
    },
  };
}

/** The paid debts' delete; prepared for the usual few ids (it rides along with every intake lookup). */
function paidDebtDelete(db: Database, ids: readonly string[]): Statement {
  if (ids.length > 16) return db.delete(timerSyncs).where(inArray(timerSyncs.id, [...ids]));
  return prepared(
    db,
    `timer-debt:delete:${ids.length}`,
    (d) =>
      d.delete(timerSyncs).where(
        inArray(
          timerSyncs.id,
          ids.map((_, i) => slot(`id${i}`)),
        ),
      ),
    Object.fromEntries(ids.map((id, i) => [`id${i}`, id])),
  );
}

/** After `PAID_DEBT_FLUSH_MS`, delete the paid debts no batch has taken. Never throws. */
export async function flushPaidDebts(db: Database): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, PAID_DEBT_FLUSH_MS));
  for (let ids = takePaidDebts(); ids.length > 0; ids = takePaidDebts()) {
    try {
      await deleteTimerDebts(db, ids);
    } catch (error) {
      // Paying again is harmless (the timer ignores what it has); the reconciler will.
      console.warn("paid timer debts could not be deleted; the reconciler pays them again", error);
      return;
    }
  }
}

/** Debts older than `before`, oldest first (index `timer_syncs_created`: nothing behind reads nothing). */
export async function overdueTimerDebts(
  db: Database,
  before: number,
  limit: number,
): Promise<TimerDebtRow[]> {
  return db
    .select()
    .from(timerSyncs)
    .where(lt(timerSyncs.createdAt, before))
    .orderBy(asc(timerSyncs.createdAt))
    .limit(limit)
    .all();
}

/** Every debt of one ticket, oldest first (index `timer_syncs_ticket`). */
export async function ticketTimerDebts(db: Database, ticketNumber: number): Promise<TimerDebtRow[]> {
  return db
    .select()
    .from(timerSyncs)
    .where(eq(timerSyncs.ticketNumber, ticketNumber))
    .orderBy(asc(timerSyncs.createdAt))
    .limit(100)
    .all();
}

/** The tickets behind a set of debts, in one read. */
export async function ticketRowsByNumber(db: Database, numbers: readonly number[]) {
  if (numbers.length === 0) return [];
  return db
    .select()
    .from(tickets)
    .where(inArray(tickets.number, [...new Set(numbers)]))
    .all();
}
