import { z } from "zod";
import { ticketKey } from "../domain/ticket";
import { outboxItemSchema } from "../notify";
import { database } from "../store/db";
import {
  deleteTimerDebts,
  overdueTimerDebts,
  type TimerDebtRow,
  ticketRowsByNumber,
  ticketTimerDebts,
} from "../store/timer-syncs";
import { syncTimer, type TimerDebt } from "./client";
import { timerSyncSchema } from "./ticket-timer";

/** A debt younger than this is probably still being paid by the request that wrote it. */
export const RECONCILE_GRACE_MS = 10_000;

/** Debts paid per round; rounds repeat until none is left or the run's budget is spent. */
const RECONCILE_BATCH = 50;

const debtSchema = z.object({
  event: timerSyncSchema.shape.event,
  deliveries: z.array(outboxItemSchema),
});

export interface ReconcileRun {
  /** Debts found and paid (the timer has them now). */
  paid: number;
  /** Debts whose timer still could not be reached; they stay for the next run. */
  failed: number;
  /** Debts whose ticket no longer exists, or whose payload could not be read: dropped, with a log line. */
  dropped: number;
  /** Tickets whose timers were brought in line. */
  tickets: string[];
}

/**
 * Bring behind timers in line: every debt a committed write left unpaid (a crash, a deploy, an
 * unreachable object) is synced now. The timer is told the ticket's *current* state from D1 (the
 * truth) with the debt's event and calls; it ignores calls it already has, so a debt paid twice
 * sends nothing twice. Runs from the cron every minute (`olderThan`: a grace for requests still in
 * flight) and for one ticket on every replay of a message or a command (`ticketNumber`: no grace).
 */
export async function reconcileTimers(
  env: { DB: D1Database; TICKET_TIMER: Env["TICKET_TIMER"] },
  scope: { ticketNumber: number } | { olderThan: number; maxRounds?: number },
): Promise<ReconcileRun> {
  const db = database(env.DB);
  const run: ReconcileRun = { paid: 0, failed: 0, dropped: 0, tickets: [] };
  const rounds = "ticketNumber" in scope ? 1 : (scope.maxRounds ?? 20);
  const skipped = new Set<string>();
  for (let round = 0; round < rounds; round++) {
    const debts = (
      "ticketNumber" in scope
        ? await ticketTimerDebts(db, scope.ticketNumber)
        : await overdueTimerDebts(db, scope.olderThan, RECONCILE_BATCH + skipped.size)
    ).filter((d) => !skipped.has(d.id));
    if (debts.length === 0) break;
    await payDebts(env, db, debts.slice(0, RECONCILE_BATCH), run, skipped);
    if (debts.length < RECONCILE_BATCH) break;
  }
  return run;
}

async function payDebts(
  env: { TICKET_TIMER: Env["TICKET_TIMER"] },
  db: ReturnType<typeof database>,
  debts: TimerDebtRow[],
  run: ReconcileRun,
  skipped: Set<string>,
): Promise<void> {
  const rows = new Map(
    (
      await ticketRowsByNumber(
        db,
        debts.map((d) => d.ticketNumber),
      )
    ).map((r) => [r.number, r]),
  );
  const done: string[] = [];
  for (const debt of debts) {
    const row = rows.get(debt.ticketNumber);
    const parsed = debtSchema.safeParse(safeJson(debt.payload));
    if (row === undefined || !parsed.success) {
      console.error(
        `timer debt ${debt.id} of ${ticketKey(debt.ticketNumber)} dropped: ${row === undefined ? "no such ticket" : "unreadable payload"}`,
      );
      run.dropped++;
      done.push(debt.id);
      continue;
    }
    const owed: TimerDebt = parsed.data;
    try {
      await syncTimer(env, row, owed.event, owed.deliveries);
      run.paid++;
      done.push(debt.id);
      if (!run.tickets.includes(ticketKey(row.number))) run.tickets.push(ticketKey(row.number));
    } catch (error) {
      console.error(`${ticketKey(row.number)}: its timer is still unreachable; the next run retries`, error);
      run.failed++;
      skipped.add(debt.id);
    }
  }
  await deleteTimerDebts(db, done);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
