import { ticketKey } from "../domain/ticket";
import type { OutboxItem } from "../notify";
import type { TicketRow } from "../store/tickets";
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
  return { seq: row.clockSeq, policy: row.policy, startedAt: row.clockStartedAt, dueAt: row.responseDueAt };
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
    event,
    deliveries,
  });
}
