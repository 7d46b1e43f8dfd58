import { and, eq, sql } from "drizzle-orm";
import type { Config } from "../domain/config";
import type { Priority } from "../domain/inbound";
import { findTeam, policyFor } from "../domain/routing";
import { dueAt, parseTimeScale } from "../domain/sla";
import type { TicketStatus } from "../domain/ticket";
import { ticketKey } from "../domain/ticket";
import { customerDelivery, noDeliveryReason } from "../notify/replies";
import type { OutboxItem } from "../notify/types";
import { loadConfig } from "../store/config";
import { database } from "../store/db";
import { escalations, messages, NO_DEADLINE, tickets } from "../store/schema";
import { firstThreadKey, getTicketRow, staffResponseUpdate, type TicketRow } from "../store/tickets";
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
          threadKey: await firstThreadKey(db, current.channel, number),
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
    deliveryError: reply.internal || delivery !== null ? null : noDeliveryReason(current.channel),
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
