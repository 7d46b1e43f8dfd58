import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../domain/config";
import type { Channel, Priority } from "../domain/inbound";
import { findTeam, policyFor } from "../domain/routing";
import { dueAt, parseTimeScale } from "../domain/sla";
import type { TicketStatus } from "../domain/ticket";
import { ticketKey } from "../domain/ticket";
import { customerDelivery, noDeliveryReason } from "../notify/replies";
import type { OutboxItem } from "../notify/types";
import { loadConfig } from "../store/config";
import { database } from "../store/db";
import { escalations, idempotencyKeys, messages, NO_DEADLINE, tickets } from "../store/schema";
import { getTicketRow, staffResponseUpdate, type TicketRow, ticketThreadKeys } from "../store/tickets";
import { syncTimer } from "../timer/client";
import type { TimerSync } from "../timer/ticket-timer";

export interface DeskEnv {
  DB: D1Database;
  TICKET_TIMER: Env["TICKET_TIMER"];
  SLA_TIME_SCALE?: string;
  PUBLIC_URL?: string;
}

export interface TicketPatch {
  status?: TicketStatus;
  priority?: Priority;
  team?: string;
  assignee?: string | null;
}

export type PatchResult =
  | { ok: true; row: TicketRow }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "unknown_team"; team: string }
  | { ok: false; reason: "conflict" };

const MAX_ATTEMPTS = 3;

/**
 * Status, priority, team and assignee in one call. A priority change re-times the running clock
 * from when it started; a team change is recorded as a `reassign` escalation and the new team is
 * told at once; resolving stops the clock; reopening starts a new one.
 */
export async function patchTicket(
  env: DeskEnv,
  number: number,
  patch: TicketPatch,
  agent: string,
  options: PatchOptions = {},
): Promise<PatchResult> {
  const db = database(env.DB);
  const config = await loadConfig(db);
  if (patch.team !== undefined && findTeam(config, patch.team) === undefined) {
    return { ok: false, reason: "unknown_team", team: patch.team };
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const current = await getTicketRow(db, number);
    if (current === undefined) return { ok: false, reason: "not_found" };
    const plan = planPatch(current, patch, config, Date.now(), parseTimeScale(env.SLA_TIME_SCALE), agent);
    // Optimistic concurrency on `revision`: if someone else wrote in between, plan again from their result.
    const update = db
      .update(tickets)
      .set({ ...plan.set, revision: sql`${tickets.revision} + 1` })
      .where(and(eq(tickets.number, number), eq(tickets.revision, current.revision)))
      .returning();
    const results = await db.batch([
      update,
      ...(options.idempotency === undefined
        ? []
        : [recordEventOnce(db, options.idempotency, number, current.revision + 1)]),
      ...plan.escalations.map((e) =>
        db
          .insert(escalations)
          .values({ ...e, ticketNumber: number })
          .onConflictDoNothing(),
      ),
    ]);
    const row = (results[0] as TicketRow[])[0];
    if (row === undefined) continue;
    const deliveries: OutboxItem[] = plan.notify.map((n) => ({
      id: `reassign:${row.revision}:${n.to}`,
      label: `Slack notice to ${n.to} (reassign)`,
      delivery: { service: "slack", body: { channel: n.to, text: n.text } },
    }));
    await syncTimer(env, row, plan.event, deliveries);
    return { ok: true, row };
  }
  return { ok: false, reason: "conflict" };
}

export interface PatchOptions {
  /**
   * A channel event behind this patch (GitHub `closed`, `labeled`…): its key is recorded in the
   * same batch, so a redelivery finds it and changes nothing. A second delivery racing this one
   * fails the batch on the key's primary key and the caller reports a replay.
   */
  idempotency?: { channel: Channel; key: string };
}

/** Insert the event's idempotency key only if the update before it in the batch went through. */
function recordEventOnce(
  db: ReturnType<typeof database>,
  event: { channel: Channel; key: string },
  number: number,
  revisionAfter: number,
) {
  return db.insert(idempotencyKeys).select(
    db
      .select({
        channel: sql<string>`${event.channel}`.as("channel"),
        key: sql<string>`${event.key}`.as("key"),
        ticketNumber: tickets.number,
        messageId: sql<null>`null`.as("message_id"),
        created: sql<boolean>`0`.as("created"),
        responseDueAt: sql<null>`null`.as("response_due_at"),
        createdAt: sql<number>`${Date.now()}`.as("created_at"),
      })
      .from(tickets)
      .where(and(eq(tickets.number, number), eq(tickets.revision, revisionAfter))),
  );
}

interface PatchPlan {
  set: Partial<typeof tickets.$inferInsert>;
  event: TimerSync["event"];
  escalations: Omit<typeof escalations.$inferInsert, "ticketNumber">[];
  notify: { to: string; text: string }[];
}

function planPatch(
  current: TicketRow,
  patch: TicketPatch,
  config: Config,
  now: number,
  scale: number,
  agent: string,
): PatchPlan {
  const set: PatchPlan["set"] = { updatedAt: now };
  let event: TimerSync["event"] = "updated";
  const plan: PatchPlan = { set, event, escalations: [], notify: [] };

  if (patch.assignee !== undefined) set.assignee = patch.assignee;

  if (patch.priority !== undefined && patch.priority !== current.priority) {
    set.priority = patch.priority;
    const customer = config.customers.find((c) => c.id === current.customer);
    const policy = policyFor(current.channel, patch.priority, customer);
    if (policy !== current.policy) {
      set.policy = policy;
      if (current.clockStartedAt !== null) {
        const due = dueAt(policy, current.clockStartedAt, config, scale);
        set.responseDueAt = due;
        set.queueDueAt = due;
        event = "retimed";
      }
    }
  }

  if (patch.team !== undefined && patch.team !== current.team) {
    set.team = patch.team;
    const team = findTeam(config, patch.team);
    plan.escalations.push({
      id: crypto.randomUUID(),
      dedupeKey: `reassign:${current.revision}`,
      kind: "reassign",
      level: current.escalationLevel,
      target: `team:${patch.team}`,
      detail: `from ${current.team} by ${agent}`,
      at: now,
      dueAt: null,
    });
    if (team?.slackChannel !== undefined) {
      plan.notify.push({
        to: team.slackChannel,
        text: `:inbox_tray: ${ticketKey(current.number)} was handed to ${team.name} by ${agent} (from ${current.team}).`,
      });
    }
  }

  if (patch.status !== undefined && patch.status !== current.status) {
    set.status = patch.status;
    if (patch.status === "resolved") {
      set.resolvedAt = now;
      Object.assign(set, { clockStartedAt: null, responseDueAt: null, queueDueAt: NO_DEADLINE });
      event = "resolved";
    } else if (patch.status === "pending") {
      // Waiting on the customer: no reply is owed, but this is not a response either.
      Object.assign(set, { clockStartedAt: null, responseDueAt: null, queueDueAt: NO_DEADLINE });
      event = "updated";
    } else {
      // Reopened by an agent: we owe a reply again, on a fresh clock.
      const policy = set.policy ?? current.policy;
      const due = dueAt(policy, now, config, scale);
      Object.assign(set, {
        resolvedAt: null,
        clockSeq: current.clockSeq + 1,
        clockStartedAt: now,
        responseDueAt: due,
        queueDueAt: due,
      });
      event = "customer-message";
    }
  }
  plan.event = event;
  return plan;
}

export type ReplyResult =
  | { ok: true; row: TicketRow; messageId: string }
  | { ok: false; reason: "not_found" };

/**
 * An internal note changes nothing but the conversation. A public reply is a staff response: it
 * stops the clock (and acknowledges a PagerDuty page), moves open → pending, and goes out on the
 * ticket's own channel through the timer's outbox.
 */
export async function replyToTicket(
  env: DeskEnv,
  number: number,
  reply: { text: string; internal: boolean },
  agent: string,
): Promise<ReplyResult> {
  const db = database(env.DB);
  const current = await getTicketRow(db, number);
  if (current === undefined) return { ok: false, reason: "not_found" };
  const now = Date.now();
  const messageId = crypto.randomUUID();
  const key = ticketKey(number);
  const delivery = reply.internal
    ? null
    : customerDelivery(
        {
          key,
          channel: current.channel,
          callbackUrl: current.callbackUrl,
          channelName: current.channelName,
          threadKeys: needsThreadKeys(current.channel)
            ? await ticketThreadKeys(db, current.channel, number)
            : [],
        },
        "reply",
        reply.text,
        messageId,
      );
  const insert = db.insert(messages).values({
    id: messageId,
    ticketNumber: number,
    direction: "outbound",
    kind: reply.internal ? "note" : "staff",
    author: agent,
    text: reply.text,
    createdAt: now,
    deliveryStatus: reply.internal ? null : delivery === null ? "skipped" : "pending",
    deliveryError:
      reply.internal || delivery !== null ? null : "this channel has no outbound path configured",
  });
  const update = db
    .update(tickets)
    .set({
      updatedAt: now,
      revision: sql`${tickets.revision} + 1`,
      ...(reply.internal ? {} : staffResponseUpdate(now)),
    })
    .where(eq(tickets.number, number))
    .returning();
  const [, updated] = await db.batch([insert, update]);
  const row = updated[0];
  if (row === undefined) return { ok: false, reason: "not_found" };
  if (!reply.internal) await syncTimer(env, row, "staff-response", delivery === null ? [] : [delivery]);
  return { ok: true, row, messageId };
}

/** Channels whose reply address is one of the ticket's thread keys (an issue, an interaction webhook). */
function needsThreadKeys(channel: TicketRow["channel"]): boolean {
  return channel === "github" || channel === "discord";
}
