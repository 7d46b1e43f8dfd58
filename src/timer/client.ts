import { waitUntil } from "cloudflare:workers";
import { ticketKey } from "../domain/ticket";
import { type FeedEnv, publishChange } from "../live/publish";
import type { OutboxItem } from "../notify";
import type { Database } from "../store/db";
import type { TicketRow } from "../store/tickets";
import { deleteTimerDebts, flushPaidDebts, notePaidDebt } from "../store/timer-syncs";
import type { TicketTimer, TimerSync } from "./ticket-timer";

export type { TimerSync };

export function timerStub(
  env: { TICKET_TIMER: Env["TICKET_TIMER"] },
  number: number,
): DurableObjectStub<TicketTimer> {
  const namespace = env.TICKET_TIMER as unknown as DurableObjectNamespace<TicketTimer>;
  return namespace.get(namespace.idFromName(ticketKey(number)));
}

/** The running clock of a ticket row, as its timer wants it; null when no reply is owed. */
export function timerClock(row: TicketRow): TimerSync["clock"] {
  if (row.clockStartedAt === null || row.responseDueAt === null) return null;
  return {
    seq: row.clockSeq,
    policy: row.policy,
    startedAt: row.clockStartedAt,
    dueAt: row.responseDueAt,
    ...(row.clockStepsAt === null ? {} : { stepsAt: row.clockStepsAt }),
  };
}

/** The promise clock of a ticket row (SPEC §16); null when no update is promised. */
export function timerPromise(row: TicketRow): NonNullable<TimerSync["promise"]> | null {
  if (row.nextUpdateDueAt === null || row.promiseMadeAt === null || row.promiseSeq === 0) return null;
  return { seq: row.promiseSeq, madeAt: row.promiseMadeAt, dueAt: row.nextUpdateDueAt };
}

/** Tell the ticket's timer what a write just did, with the calls that write owes. */
export async function syncTimer(
  env: { TICKET_TIMER: Env["TICKET_TIMER"] },
  row: TicketRow,
  event: TimerSync["event"],
  deliveries: OutboxItem[],
): Promise<void> {
  await timerStub(env, row.number).sync({
    ticketNumber: row.number,
    revision: row.revision,
    clock: timerClock(row),
    promise: timerPromise(row),
    event,
    deliveries,
  });
}

/** What a write owes its ticket's timer, as the write's own batch records it (`timer_syncs`). */
export interface TimerDebt {
  event: TimerSync["event"];
  deliveries: OutboxItem[];
}

/** A new debt: its id and the payload the write's batch stores. */
export function newTimerDebt(event: TimerSync["event"], deliveries: OutboxItem[]) {
  const debt: TimerDebt = { event, deliveries };
  return { id: crypto.randomUUID(), debt, payload: JSON.stringify(debt) };
}

/**
 * Pay a debt the write just committed: sync the timer (one immediate second try, which covers an
 * object reset by a deploy), then delete the debt. When the timer still cannot be reached the
 * debt stays and the reconciler pays it within a minute: the write is stored either way, so the
 * caller answers success. Returns whether the timer has it now.
 *
 * Every write that owes a debt is stored by now, so this is also where the live console hears of
 * it (`publishChange`: fire-and-forget, never slower than a `waitUntil`, never a failure).
 */
export async function payTimerDebt(
  env: { TICKET_TIMER: Env["TICKET_TIMER"] } & FeedEnv,
  db: Database,
  debtId: string,
  row: TicketRow,
  debt: TimerDebt,
): Promise<boolean> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await syncTimer(env, row, debt.event, debt.deliveries);
      break;
    } catch (error) {
      if (attempt === 2) {
        console.error(
          `${ticketKey(row.number)}: its timer could not be reached; the reconciler will sync it`,
          error,
        );
        // Stored all the same: the console hears of it.
        publishChange(env, row.number, debt.event);
        return false;
      }
    }
  }
  // After the timer has it, so the feed's call never competes with the request's own critical path.
  publishChange(env, row.number, debt.event);
  // The timer has it. Its row's delete rides along with this isolate's next intake lookup, or is
  // sent on its own ~50 ms after this response (store/timer-syncs.ts, paidDebtDeletes): one D1
  // round trip fewer per write. Where nothing can run after the response, it is deleted now.
  notePaidDebt(debtId);
  try {
    waitUntil(flushPaidDebts(db));
  } catch {
    try {
      await deleteTimerDebts(db, [debtId]);
    } catch (error) {
      // Paying it again is harmless (the timer ignores what it has); the reconciler will.
      console.warn(`${ticketKey(row.number)}: a paid timer debt could not be deleted`, error);
    }
  }
  return true;
}
