import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Config } from "../domain/config";
import type { Channel, Priority } from "../domain/inbound";
import { findTeam, policyFor, replyFromAddress } from "../domain/routing";
import { dueAt, parseTimeScale } from "../domain/sla";
import type { TicketStatus } from "../domain/ticket";
import { ticketKey } from "../domain/ticket";
import {
  customerDelivery,
  type EmailThreading,
  needsThreadKeys,
  newEmailMessageId,
  noDeliveryReason,
  replyTargetOf,
} from "../notify/replies";
import type { OutboxItem } from "../notify/types";
import { loadConfig } from "../store/config";
import { batch, type Database, database } from "../store/db";
import { guardedInsert, ticketAtRevision } from "../store/guarded";
import {
  escalations,
  idempotencyKeys,
  messages,
  QUEUE_PENDING,
  QUEUE_RESOLVED,
  surveys,
  threadKeys,
  tickets,
} from "../store/schema";
import { getTicketRow, staffResponseUpdate, type TicketRow, ticketThreadKeys } from "../store/tickets";
import { syncTimer } from "../timer/client";
import type { TimerSync } from "../timer/ticket-timer";

export interface DeskEnv {
  DB: D1Database;
  TICKET_TIMER: Env["TICKET_TIMER"];
  SLA_TIME_SCALE?: string;
  PUBLIC_URL?: string;
  SUPPORT_ADDRESS?: string;
}

/**
 * An email reply answers the customer's latest message and carries the thread's references
 * (customer Message-IDs and our own), oldest first, so every mail client threads it.
 */
async function emailReplyThreading(
  env: DeskEnv,
  db: Database,
  ticket: TicketRow,
  config?: Config,
): Promise<EmailThreading | undefined> {
  const support = env.SUPPORT_ADDRESS?.trim();
  if (ticket.channel !== "email" || support === undefined || support === "") return undefined;
  const [latest, keys] = await db.batch([
    db
      .select({ externalId: messages.externalId })
      .from(messages)
      .where(
        and(
          eq(messages.ticketNumber, ticket.number),
          eq(messages.direction, "inbound"),
          eq(messages.kind, "customer"),
        ),
      )
      .orderBy(desc(messages.createdAt))
      .limit(1),
    db
      .select({ key: threadKeys.key })
      .from(threadKeys)
      .where(and(eq(threadKeys.ticketNumber, ticket.number), eq(threadKeys.channel, "email")))
      .orderBy(asc(threadKeys.createdAt))
      .limit(50),
  ]);
  const inReplyTo = latest[0]?.externalId ?? undefined;
  const references = keys.map((k) => k.key).filter((k) => k !== inReplyTo);
  return {
    messageId: newEmailMessageId(support),
    ...(inReplyTo === undefined ? {} : { inReplyTo }),
    references: [...references, ...(inReplyTo === undefined ? [] : [inReplyTo])].slice(-20),
    from: replyFromAddress(config ?? (await loadConfig(db)), support, ticket.channelName),
    supportAddress: support,
  };
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
    const now = Date.now();
    const plan = planPatch(current, patch, config, now, parseTimeScale(env.SLA_TIME_SCALE), agent);
    const guard = ticketAtRevision(number, current.revision);
    const resolving = plan.set.status === "resolved";
    const reopening =
      current.status === "resolved" && plan.set.status !== undefined && plan.set.status !== "resolved";
    const survey = resolving ? await planSurvey(env, db, current, now, config) : null;
    // Everything but the update is guarded by the revision it was planned from and runs first, so a
    // lost race writes nothing at all; the update then moves the revision on.
    const update = db
      .update(tickets)
      .set({ ...plan.set, revision: sql`${tickets.revision} + 1` })
      .where(and(eq(tickets.number, number), eq(tickets.revision, current.revision)))
      .returning();
    const before = [
      ...plan.escalations.map((e) =>
        db.run(guardedInsert(escalations, { ...e, ticketNumber: number }, guard)),
      ),
      ...(survey === null ? [] : survey.statements(guard).map((statement) => db.run(statement))),
      ...(resolving || reopening ? [db.run(removeFromKnowledgeBase(number, guard))] : []),
    ];
    // After the update the ticket is at revision + 1 exactly when this batch's update won.
    const after = [
      ...(options.idempotency === undefined
        ? []
        : [recordEventOnce(db, options.idempotency, number, current.revision + 1)]),
      ...(resolving
        ? [db.run(addToKnowledgeBase(number, ticketAtRevision(number, current.revision + 1)))]
        : []),
    ];
    const results = await batch(db, [...before, update, ...after]);
    const row = (results[before.length] as TicketRow[])[0];
    if (row === undefined) continue;
    const deliveries: OutboxItem[] = plan.notify.map((n) => ({
      id: `reassign:${row.revision}:${n.to}`,
      label: `Slack notice to ${n.to} (reassign)`,
      delivery: { service: "slack", body: { channel: n.to, text: n.text } },
    }));
    if (survey?.delivery) deliveries.push(survey.delivery);
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
        if (current.clockSeq === 1 && current.firstResponseAt === null) set.firstDueAt = due;
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
      Object.assign(set, { clockStartedAt: null, responseDueAt: null, queueDueAt: QUEUE_RESOLVED });
      event = "resolved";
    } else if (patch.status === "pending") {
      // Waiting on the customer: no reply is owed, but this is not a response either.
      Object.assign(set, { clockStartedAt: null, responseDueAt: null, queueDueAt: QUEUE_PENDING });
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
  const email = reply.internal ? undefined : await emailReplyThreading(env, db, current);
  const delivery = reply.internal
    ? null
    : customerDelivery(
        replyTargetOf(
          current,
          needsThreadKeys(current.channel) ? await ticketThreadKeys(db, current.channel, number) : [],
        ),
        "reply",
        reply.text,
        messageId,
        { email },
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
    externalId: email !== undefined && delivery !== null ? email.messageId : null,
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
  // Our own Message-ID answers to the ticket too, so the customer's reply to this email threads.
  const registerOwnId =
    email !== undefined && delivery !== null
      ? [
          db
            .insert(threadKeys)
            .values({ channel: "email", key: email.messageId, ticketNumber: number, createdAt: now })
            .onConflictDoNothing(),
        ]
      : [];
  const [, updated] = await db.batch([insert, update, ...registerOwnId]);
  const row = updated[0];
  if (row === undefined) return { ok: false, reason: "not_found" };
  if (!reply.internal) await syncTimer(env, row, "staff-response", delivery === null ? [] : [delivery]);
  return { ok: true, row, messageId };
}

/** A resolved public ticket in the knowledge base: its subject and the public conversation. */
function addToKnowledgeBase(number: number, guard: SQL): SQL {
  return sql`insert into knowledge_base (rowid, subject, body)
    select t.number, t.subject,
      coalesce((select group_concat(m.text, char(10)) from messages m
                where m.ticket_number = t.number and m.kind in ('customer', 'staff') and m.deleted_at is null), '')
    from tickets t where t.number = ${number} and t.visibility = 'public' and t.status = 'resolved' and ${guard}`;
}

function removeFromKnowledgeBase(number: number, guard: SQL): SQL {
  return sql`delete from knowledge_base where rowid = ${number} and ${guard}`;
}

export const SURVEY_QUESTION = "How easy was it to get help?";

/** A single-use customer-effort survey, sent on the ticket's channel when it is resolved. */
async function planSurvey(env: DeskEnv, db: Database, ticket: TicketRow, now: number, config: Config) {
  const token = surveyToken();
  const messageId = crypto.randomUUID();
  const key = ticketKey(ticket.number);
  const url = `${(env.PUBLIC_URL || "http://localhost:8787").replace(/\/+$/, "")}/survey/${token}`;
  const text = `${key} is resolved. ${SURVEY_QUESTION} Answer from 1 (very hard) to 7 (very easy): ${url}`;
  const email = await emailReplyThreading(env, db, ticket, config);
  const keys = needsThreadKeys(ticket.channel)
    ? await ticketThreadKeys(db, ticket.channel, ticket.number)
    : [];
  const delivery = customerDelivery(replyTargetOf(ticket, keys), "survey", text, messageId, { url, email });
  const emailId = email !== undefined && delivery !== null ? email.messageId : null;
  return {
    delivery,
    statements: (guard: SQL): SQL[] => [
      guardedInsert(surveys, { token, ticketNumber: ticket.number, sentAt: now }, guard),
      guardedInsert(
        messages,
        {
          id: messageId,
          ticketNumber: ticket.number,
          direction: "outbound",
          kind: "system",
          author: "switchboard",
          text,
          createdAt: now,
          externalId: emailId,
          deliveryStatus: delivery === null ? "skipped" : "pending",
          deliveryError: delivery === null ? noDeliveryReason(ticket.channel) : null,
        },
        guard,
      ),
      ...(emailId === null
        ? []
        : [
            guardedInsert(
              threadKeys,
              { channel: "email", key: emailId, ticketNumber: ticket.number, createdAt: now },
              guard,
            ),
          ]),
    ],
  };
}

function surveyToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}
