import type { Channel } from "../domain/inbound";
import { ticketKey } from "../domain/ticket";
import type { DeskEnv } from "../env";
import type { OutboxItem } from "../notify";
import { database, isUniqueViolation } from "../store/db";
import { findIdempotencyRecord, findThread, getTicketRow, type TicketRow } from "../store/tickets";
import { recordTimerDebt } from "../store/timer-syncs";
import { newTimerDebt, payTimerDebt } from "../timer/client";
import { patchTicket, type TicketPatch } from "./tickets";

export type ChannelPatchResult =
  | { ok: true; ticket: string; ticketNumber: number; replay: boolean }
  | { ok: false; reason: "not_threaded" | "conflict" };

/**
 * A state change a channel reports (GitHub `closed`, `reopened`, a critical label) applied like an
 * agent's PATCH, exactly once per event: the event's idempotency key is written in the same batch
 * as the change, so a redelivery finds it and changes nothing.
 */
export async function patchFromChannel(
  env: DeskEnv,
  input: {
    channel: Channel;
    idempotencyKey: string;
    threadKeys: string[];
    patch: TicketPatch;
    actor: string;
  },
): Promise<ChannelPatchResult> {
  const db = database(env.DB);
  const seen = await findIdempotencyRecord(db, input.channel, input.idempotencyKey);
  if (seen?.ticketNumber !== null && seen?.ticketNumber !== undefined) {
    return { ok: true, ticket: ticketKey(seen.ticketNumber), ticketNumber: seen.ticketNumber, replay: true };
  }
  const thread = await findThread(db, input.channel, input.threadKeys);
  if (thread === null) return { ok: false, reason: "not_threaded" };
  const replay = {
    ok: true,
    ticket: ticketKey(thread.ticketNumber),
    ticketNumber: thread.ticketNumber,
  } as const;
  try {
    const result = await patchTicket(env, thread.ticketNumber, input.patch, input.actor, {
      idempotency: { channel: input.channel, key: input.idempotencyKey },
    });
    if (result.ok) return { ...replay, replay: false };
    return { ok: false, reason: result.reason === "conflict" ? "conflict" : "not_threaded" };
  } catch (error) {
    // A concurrent delivery of the same event won the race on the idempotency key.
    if (isUniqueViolation(error)) return { ...replay, replay: true };
    throw error;
  }
}

/**
 * Queue outbound calls a channel owes for a ticket (a GitHub label, a notice) on the ticket's
 * timer outbox. Item ids must be deterministic: the outbox ignores an id it has seen, so calling
 * this again for a redelivered event sends nothing twice.
 */
export async function queueTicketCalls(
  env: DeskEnv,
  ticketNumber: number,
  build: (row: TicketRow) => OutboxItem[],
): Promise<void> {
  const db = database(env.DB);
  const row = await getTicketRow(db, ticketNumber);
  if (row === undefined) return;
  const items = build(row);
  if (items.length === 0) return;
  // Recorded before the call, paid by it (or by the reconciler if it fails).
  const debt = newTimerDebt("updated", items);
  await recordTimerDebt(db, { id: debt.id, ticketNumber, payload: debt.payload, createdAt: Date.now() });
  await payTimerDebt(env, db, debt.id, row, debt.debt);
}
