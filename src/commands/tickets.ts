import {
  customerDelivery,
  type EmailThreading,
  needsThreadKeys,
  newEmailMessageId,
  noDeliveryReason,
  replyTargetOf,
  slackNotice,
  ticketChangeCalls,
} from "../channels/outbound";
import type { Config } from "../domain/config";
import { randomToken } from "../domain/encoding";
import { slackLine } from "../domain/escalation";
import type { Channel, Priority, Visibility } from "../domain/inbound";
import { parseNextUpdateBy, promiseDueAt, promiseTimeZone, replyWithPromise } from "../domain/promise";
import { findTeam, policyFor, replyFromAddress } from "../domain/routing";
import { clockTiming, parseTimeScale } from "../domain/sla";
import { deskUrl, type TicketStatus, ticketKey } from "../domain/ticket";
import type { DeskEnv } from "../env";
import { publishChange } from "../live/publish";
import type { OutboxItem } from "../notify";
import { loadConfig } from "../store/config";
import { type Database, database, isUniqueViolation } from "../store/db";
import {
  applyPatch,
  type CommandOnce,
  commandRecord,
  emailThreadIds,
  insertReply,
  type NewEscalationRow,
  type PatchWrite,
  type SurveyWrite,
} from "../store/ticket-changes";
import {
  getTicketRow,
  type MessageRow,
  messagesAfter,
  type NewTicketRow,
  QUEUE_PENDING,
  QUEUE_RESOLVED,
  type TicketRow,
  ticketThreadKeys,
} from "../store/tickets";
import { newTimerDebt, payTimerDebt, type TimerSync } from "../timer/client";
import { reconcileTimers } from "../timer/reconcile";

/**
 * An email reply answers the customer's latest message and carries the thread's references
 * (customer Message-IDs and our own), oldest first, so every mail client threads it.
 */
export async function emailReplyThreading(
  env: DeskEnv,
  db: Database,
  ticket: TicketRow,
  config?: Config,
): Promise<EmailThreading | undefined> {
  const support = env.SUPPORT_ADDRESS?.trim();
  if (ticket.channel !== "email" || support === undefined || support === "") return undefined;
  const ids = await emailThreadIds(db, ticket.number);
  const inReplyTo = ids.latestCustomerMessageId;
  const references = ids.keys.filter((k) => k !== inReplyTo);
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
  visibility?: Visibility;
  /**
   * Making a `security` ticket public is a disclosure: it needs this set to true, deliberately, in
   * the same request (the console asks with a checkbox).
   */
  confirmSecurityDisclosure?: boolean;
}

export type PatchResult =
  | { ok: true; row: TicketRow }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "unknown_team"; team: string }
  | { ok: false; reason: "security_disclosure_unconfirmed" }
  | { ok: false; reason: "conflict" };

/** How often a patch is re-planned when the ticket changed under it before it gives up (409). */
const PATCH_RACE_ATTEMPTS = 3;

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
  for (let attempt = 0; attempt < PATCH_RACE_ATTEMPTS; attempt++) {
    const current = await getTicketRow(db, number);
    if (current === undefined) return { ok: false, reason: "not_found" };
    if (disclosesSecurity(current, patch) && patch.confirmSecurityDisclosure !== true) {
      return { ok: false, reason: "security_disclosure_unconfirmed" };
    }
    const { write, debt } = await planPatchWrite(env, db, current, patch, config, agent, options);
    const row = await applyPatch(db, write);
    if (row === undefined) continue;
    await payTimerDebt(env, db, debt.id, row, debt.debt);
    return { ok: true, row };
  }
  return { ok: false, reason: "conflict" };
}

/**
 * What the ticket's own thread on its channel owes for a change made on the desk (SPEC §13: a
 * resolved `github` ticket closes its issue, a reopened one reopens it, critical adds the label).
 * Nothing when the change came from that channel itself: GitHub already did it.
 */
async function threadFollowUps(
  db: Database,
  current: TicketRow,
  plan: PatchPlan,
  config: Config,
  revision: number,
  fromChannel: string | undefined,
): Promise<OutboxItem[]> {
  if (fromChannel === current.channel) return [];
  const status =
    plan.set.status === "resolved"
      ? ("resolved" as const)
      : current.status === "resolved" && plan.set.status !== undefined
        ? ("open" as const)
        : undefined;
  const critical = plan.set.priority === "critical";
  if (status === undefined && !critical) return [];
  const keys = needsThreadKeys(current.channel)
    ? await ticketThreadKeys(db, current.channel, current.number)
    : [];
  return ticketChangeCalls(
    replyTargetOf(current, keys),
    { revision, ...(status === undefined ? {} : { status }), ...(critical ? { critical } : {}) },
    config,
  );
}

/**
 * Everything one patch writes and owes, planned from the ticket as read: the columns, the
 * escalations, the survey of a resolve, the knowledge-base change, the note, the timer debt. A
 * single patch and a bulk action from the queue plan each ticket through this one function.
 */
export async function planPatchWrite(
  env: DeskEnv,
  db: Database,
  current: TicketRow,
  patch: TicketPatch,
  config: Config,
  agent: string,
  options: PatchOptions = {},
): Promise<{ write: PatchWrite; debt: ReturnType<typeof newTimerDebt> }> {
  const now = Date.now();
  const plan = planPatch(current, patch, config, now, parseTimeScale(env.SLA_TIME_SCALE), agent);
  const resolving = plan.set.status === "resolved";
  const reopening =
    current.status === "resolved" && plan.set.status !== undefined && plan.set.status !== "resolved";
  const survey = resolving ? await planSurvey(env, db, current, now, config) : null;
  // The update is guarded by the revision it was planned from, so the revision after it is known.
  const revisionAfter = current.revision + 1;
  const deliveries: OutboxItem[] = plan.notify.map((n) => ({
    id: `reassign:${revisionAfter}:${n.to}`,
    label: `Slack notice to ${n.to} (reassign)`,
    delivery: slackNotice(n.to, n.text),
  }));
  if (survey?.delivery) deliveries.push(survey.delivery);
  deliveries.push(
    ...(await threadFollowUps(db, current, plan, config, revisionAfter, options.idempotency?.channel)),
  );
  if (options.alsoDeliver !== undefined) deliveries.push(...options.alsoDeliver({ revision: revisionAfter }));
  const debt = newTimerDebt(plan.event, deliveries);
  const write: PatchWrite = {
    number: current.number,
    revision: current.revision,
    set: plan.set,
    escalations: plan.escalations,
    survey: survey?.write ?? null,
    knowledgeBase: resolving || plan.visibilityChanged ? "reindex" : reopening ? "remove" : null,
    revokeSurveys: reopening,
    note:
      plan.note === null
        ? null
        : {
            id: crypto.randomUUID(),
            direction: "outbound",
            kind: "note",
            author: agent,
            text: plan.note,
            createdAt: now,
          },
    ...(options.idempotency === undefined ? {} : { idempotency: options.idempotency }),
    timerDebt: { id: debt.id, payload: debt.payload },
    now,
  };
  return { write, debt };
}

export interface PatchOptions {
  /**
   * A channel event behind this patch (GitHub `closed`, `labeled`…): its key is recorded in the
   * same batch, so a redelivery finds it and changes nothing. A second delivery racing this one
   * fails the batch on the key's primary key and the caller reports a replay.
   */
  idempotency?: { channel: Channel | "linear"; key: string };
  /**
   * Further calls this patch owes (a Slack notice updated to say who claimed the ticket), queued on
   * the ticket's timer with the patch's own; ids must be deterministic.
   */
  alsoDeliver?: (after: { revision: number }) => OutboxItem[];
}

export interface PatchPlan {
  set: Partial<NewTicketRow>;
  event: TimerSync["event"];
  escalations: Omit<NewEscalationRow, "ticketNumber">[];
  notify: { to: string; text: string }[];
  /** The visibility changes: the knowledge base follows in the same batch. */
  visibilityChanged: boolean;
  /** An internal note for the record (who changed the visibility, and how). */
  note: string | null;
}

/** Whether a patch makes a `security` ticket public: allowed only when confirmed. */
export function disclosesSecurity(current: Pick<TicketRow, "visibility" | "security">, patch: TicketPatch) {
  return patch.visibility === "public" && current.visibility !== "public" && current.security;
}

/** What a patch changes, pure: the columns, the timer event, the escalations to record, who to tell. */
export function planPatch(
  current: TicketRow,
  patch: TicketPatch,
  config: Config,
  now: number,
  scale: number,
  agent: string,
): PatchPlan {
  const set: PatchPlan["set"] = { updatedAt: now };
  let event: TimerSync["event"] = "updated";
  const plan: PatchPlan = { set, event, escalations: [], notify: [], visibilityChanged: false, note: null };

  if (patch.assignee !== undefined) set.assignee = patch.assignee;

  if (patch.visibility !== undefined && patch.visibility !== current.visibility) {
    set.visibility = patch.visibility;
    plan.visibilityChanged = true;
    plan.note =
      patch.visibility === "private"
        ? `${agent} made this ticket private: it is out of the knowledge base.`
        : `${agent} made this ticket public${current.security ? " — a security-sensitive ticket, disclosure confirmed" : ""}: ` +
          "once resolved it is in the knowledge base, searchable by anyone.";
  }

  if (patch.priority !== undefined && patch.priority !== current.priority) {
    set.priority = patch.priority;
    // A person chose this priority: the ticket is no longer critical by a stranger's keyword alone.
    set.pagingCapped = false;
    const customer = config.customers.find((c) => c.id === current.customer);
    const policy = policyFor(current.channel, patch.priority, customer);
    if (policy !== current.policy) {
      set.policy = policy;
      if (current.clockStartedAt !== null) {
        const timing = clockTiming(policy, current.clockStartedAt, config, scale);
        const due = timing.dueAt;
        set.responseDueAt = due;
        set.queueDueAt = due;
        set.clockStepsAt = timing.stepsAt;
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
        text: `:inbox_tray: ${ticketKey(current.number)} was handed to ${slackLine(team.name)} by ${slackLine(agent)} (from ${slackLine(current.team)}).`,
      });
    }
  }

  if (patch.status !== undefined && patch.status !== current.status) {
    set.status = patch.status;
    if (patch.status === "resolved") {
      set.resolvedAt = now;
      Object.assign(set, {
        clockStartedAt: null,
        responseDueAt: null,
        clockStepsAt: null,
        queueDueAt: QUEUE_RESOLVED,
      });
      // Resolving keeps a promised update (SPEC §16): the promise clock stops with it.
      if (current.nextUpdateDueAt !== null) set.nextUpdateDueAt = null;
      event = "resolved";
    } else if (patch.status === "pending") {
      // Waiting on the customer: no reply is owed, but this is not a response either.
      Object.assign(set, {
        clockStartedAt: null,
        responseDueAt: null,
        clockStepsAt: null,
        queueDueAt: QUEUE_PENDING,
      });
      event = "updated";
    } else {
      // Reopened by an agent: we owe a reply again, on a fresh clock.
      const policy = set.policy ?? current.policy;
      const timing = clockTiming(policy, now, config, scale);
      const due = timing.dueAt;
      Object.assign(set, {
        clockStepsAt: timing.stepsAt,
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
  | {
      ok: true;
      row: TicketRow;
      messageId: string;
      /** An `Idempotency-Key` seen before: this is the first reply, nothing was sent again. */
      replay: boolean;
    }
  | { ok: false; reason: "not_found" }
  /** `nextUpdateBy` is not a time we can promise (past, too far, unreadable), or on an internal note. */
  | { ok: false; reason: "invalid_next_update"; problem: string }
  /** A resolved ticket owes no update: reopen it first. */
  | { ok: false; reason: "resolved" }
  /** `ifLastMessageId` is not a message of this ticket. */
  | { ok: false; reason: "unknown_message" }
  /** `ifLastMessageId` given and newer messages exist: nothing was stored or sent. */
  | { ok: false; reason: "stale"; newer: MessageRow[] };

/**
 * An internal note changes nothing but the conversation. A public reply is a staff response: it
 * stops the clock (and acknowledges a PagerDuty page), moves open → pending, and goes out on the
 * ticket's own channel through the timer's outbox.
 */
export async function replyToTicket(
  env: DeskEnv,
  number: number,
  reply: {
    text: string;
    internal: boolean;
    nextUpdateBy?: string | undefined;
    ifLastMessageId?: string | undefined;
  },
  agent: string,
  options: { idempotencyKey?: string } = {},
): Promise<ReplyResult> {
  const db = database(env.DB);
  const once = commandOnce("reply", agent, number, options.idempotencyKey);
  // A retry of a reply already stored answers with it first: its own message is "newer" now.
  const first = once === undefined ? undefined : await replayOf(env, db, once, number);
  if (first !== undefined) return first;
  const now = Date.now();
  let promisedAt: number | undefined;
  if (reply.nextUpdateBy !== undefined) {
    if (reply.internal) {
      return {
        ok: false,
        reason: "invalid_next_update",
        problem: "an internal note promises the customer nothing",
      };
    }
    const parsed = parseNextUpdateBy(reply.nextUpdateBy, now);
    if (!parsed.ok) return { ok: false, reason: "invalid_next_update", problem: parsed.problem };
    promisedAt = parsed.at;
  }
  const current = await getTicketRow(db, number);
  if (current === undefined) return { ok: false, reason: "not_found" };
  if (promisedAt !== undefined && current.status === "resolved") return { ok: false, reason: "resolved" };
  // Collision detection (SPEC §7): the reply was written against a conversation that has moved on.
  // Checked just before the write; D1 has no interactive transaction, so two replies submitted in
  // the same few milliseconds can both pass — the check is for people, who are slower than that.
  if (reply.ifLastMessageId !== undefined) {
    const after = await messagesAfter(db, number, reply.ifLastMessageId);
    if (!after.found) return { ok: false, reason: "unknown_message" };
    if (after.newer.length > 0) return { ok: false, reason: "stale", newer: after.newer };
  }
  const messageId = crypto.randomUUID();
  const config = promisedAt === undefined ? undefined : await loadConfig(db);
  // The promise clock runs to the promised time (SLA_TIME_SCALE divides its window); the reply
  // as sent names that time in the promise's zone.
  const promiseDue =
    promisedAt === undefined ? undefined : promiseDueAt(now, promisedAt, parseTimeScale(env.SLA_TIME_SCALE));
  const text =
    promiseDue === undefined || config === undefined
      ? reply.text
      : replyWithPromise(reply.text, promiseDue, now, promiseTimeZone(config, current.policy));
  const email = reply.internal ? undefined : await emailReplyThreading(env, db, current, config);
  const delivery = reply.internal
    ? null
    : customerDelivery(
        replyTargetOf(
          current,
          needsThreadKeys(current.channel) ? await ticketThreadKeys(db, current.channel, number) : [],
        ),
        { kind: "reply", text, messageId, email },
      );
  const emailMessageId = email !== undefined && delivery !== null ? email.messageId : null;
  const debt = reply.internal ? null : newTimerDebt("staff-response", delivery === null ? [] : [delivery]);
  let row: TicketRow | undefined;
  try {
    row = await insertReply(db, {
      number,
      message: {
        id: messageId,
        ticketNumber: number,
        direction: "outbound",
        kind: reply.internal ? "note" : "staff",
        author: agent,
        text,
        createdAt: now,
        deliveryStatus: reply.internal ? null : delivery === null ? "skipped" : "pending",
        externalId: emailMessageId,
        deliveryError: reply.internal || delivery !== null ? null : noDeliveryReason(current.channel),
      },
      staffResponse: !reply.internal,
      emailMessageId,
      ...(once === undefined ? {} : { once }),
      ...(debt === null ? {} : { timerDebt: { id: debt.id, payload: debt.payload } }),
      ...(promiseDue === undefined ? {} : { promise: { dueAt: promiseDue, madeBy: agent } }),
      now,
    });
  } catch (error) {
    // The same Idempotency-Key racing this request won: answer with its reply.
    const raced =
      once !== undefined && isUniqueViolation(error) ? await replayOf(env, db, once, number) : undefined;
    if (raced !== undefined) return raced;
    throw error;
  }
  if (row === undefined) return { ok: false, reason: "not_found" };
  if (debt !== null) await payTimerDebt(env, db, debt.id, row, debt.debt);
  else publishChange(env, number, "note");
  return { ok: true, row, messageId, replay: false };
}

/** An agent command made idempotent by its `Idempotency-Key`: scoped to the agent and the ticket. */
export function commandOnce(
  command: "reply" | "incident" | "engineering",
  agent: string,
  number: number,
  idempotencyKey: string | undefined,
): CommandOnce | undefined {
  if (idempotencyKey === undefined) return undefined;
  return { scope: `command:${command}`, key: `${agent}\u0000${number}\u0000${idempotencyKey}` };
}

/** The first reply of a command seen before, after paying whatever its write still owes the timer. */
async function replayOf(
  env: DeskEnv,
  db: Database,
  once: CommandOnce,
  number: number,
): Promise<ReplyResult | undefined> {
  const seen = await commandRecord(db, once);
  if (seen?.messageId === null || seen?.messageId === undefined) return undefined;
  await reconcileTimers(env, { ticketNumber: number });
  const row = await getTicketRow(db, number);
  return row === undefined ? undefined : { ok: true, row, messageId: seen.messageId, replay: true };
}

export const SURVEY_QUESTION = "How easy was it to get help?";

/** A survey link posted on a public channel counts for this long (single use, revoked by a reopen). */
export const PUBLIC_SURVEY_LIFETIME_MS = 7 * 86_400_000;

/**
 * A survey link goes out on the ticket's channel; on GitHub and Discord (and for any public
 * ticket) that is a place where passers-by read it too.
 */
function surveyIsPublic(ticket: Pick<TicketRow, "channel" | "visibility">): boolean {
  return ticket.channel === "github" || ticket.channel === "discord" || ticket.visibility === "public";
}

/** A single-use customer-effort survey, sent on the ticket's channel when it is resolved. */
async function planSurvey(
  env: DeskEnv,
  db: Database,
  ticket: TicketRow,
  now: number,
  config: Config,
): Promise<{ write: SurveyWrite; delivery: OutboxItem | null }> {
  const token = randomToken();
  const messageId = crypto.randomUUID();
  const key = ticketKey(ticket.number);
  const url = `${deskUrl(env.PUBLIC_URL)}/survey/${token}`;
  const text = `${key} is resolved. ${SURVEY_QUESTION} Answer from 1 (very hard) to 7 (very easy): ${url}`;
  const email = await emailReplyThreading(env, db, ticket, config);
  const keys = needsThreadKeys(ticket.channel)
    ? await ticketThreadKeys(db, ticket.channel, ticket.number)
    : [];
  const delivery = customerDelivery(replyTargetOf(ticket, keys), {
    kind: "survey",
    text,
    messageId,
    url,
    email,
  });
  const emailMessageId = email !== undefined && delivery !== null ? email.messageId : null;
  return {
    delivery,
    write: {
      token,
      // Where anyone can read the link, it counts for a week; a reopen revokes it anyway.
      expiresAt: surveyIsPublic(ticket) ? now + PUBLIC_SURVEY_LIFETIME_MS : null,
      emailMessageId,
      message: {
        id: messageId,
        direction: "outbound",
        kind: "system",
        author: "switchboard",
        text,
        createdAt: now,
        externalId: emailMessageId,
        deliveryStatus: delivery === null ? "skipped" : "pending",
        deliveryError: delivery === null ? noDeliveryReason(ticket.channel) : null,
      },
    },
  };
}
