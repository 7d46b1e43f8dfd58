import { customerDelivery, needsThreadKeys, replyTargetOf, slackNotice } from "../channels/outbound";
import type { Config } from "../domain/config";
import { assigneeNoticeTarget, slackLine } from "../domain/escalation";
import {
  announcementText,
  type ImprovementSource,
  type ImprovementState,
  improvementStateOfLinear,
  linearIssueRef,
  shippedText,
} from "../domain/improvements";
import { parseTimeScale } from "../domain/sla";
import { type ImprovementKind, ticketKey, ticketUrl } from "../domain/ticket";
import type { DeskEnv } from "../env";
import { publishChange } from "../live/publish";
import { findLinearIssue, type LinearEnv, type LinearIssue, type OutboxItem } from "../notify";
import { loadConfig } from "../store/config";
import { type Database, database, isUniqueViolation } from "../store/db";
import {
  emailThreadKeyWrite,
  eventSeen,
  improvementStateWrites,
  insertLinkedNotes,
  linkedImprovements,
  linkImprovement,
  type NewImprovementRow,
  ticketImprovements,
} from "../store/improvements";
import { applyPatch, type NewEscalationRow, type NewMessageRow } from "../store/ticket-changes";
import { getTicketRow, type TicketRow, ticketThreadKeys } from "../store/tickets";
import { newTimerDebt, payTimerDebt } from "../timer/client";
import { emailReplyThreading, planPatch } from "./tickets";

/**
 * Closing the loop with engineering (SPEC §13): link tickets to tracked issues (many tickets to
 * one), and when an issue ships or is dropped, tell every linked ticket — a `system` message, a
 * fresh response clock (the desk owes the customer the news) or, with `linear.announceShipped`,
 * the news posted on the ticket's channel. Every write is one batch per ticket with what it owes
 * (timer debt, outbox calls), and every event is applied to a ticket at most once.
 */

export type ImprovementEnv = DeskEnv & LinearEnv;

export interface ImprovementInput {
  kind?: ImprovementKind | undefined;
  title?: string | undefined;
  url?: string | undefined;
  /** A Linear issue to link: identifier or URL. */
  linear?: string | undefined;
}

export interface LinkedImprovement {
  kind: ImprovementKind;
  title: string;
  url: string | null;
  at: number;
  state: ImprovementState;
  shippedAt: number | null;
  source: ImprovementSource;
  ref: string | null;
}

export type ImprovementResult =
  | { ok: true; improvement: LinkedImprovement; created: boolean }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "linear_not_configured" | "linear_not_found" | "linear_failed"; detail: string };

/**
 * Link a ticket to an improvement. A Linear issue (by `linear`, or a Linear URL in `url`) is
 * looked up and linked like a filed one — source `linear`, its state, and the ticket's link
 * attached to the issue; anything else is a `manual` improvement.
 */
export async function addImprovement(
  env: ImprovementEnv,
  number: number,
  input: ImprovementInput,
  agent = "agent",
): Promise<ImprovementResult> {
  const db = database(env.DB);
  const ticket = await getTicketRow(db, number);
  if (ticket === undefined) return { ok: false, reason: "not_found" };
  const ref =
    input.linear !== undefined
      ? linearIssueRef(input.linear)
      : input.url === undefined
        ? null
        : linearIssueRef(input.url);
  if (ref !== null) {
    const found = await findLinearIssue(env, ref);
    if (!found.ok) {
      const reason =
        found.reason === "not_configured"
          ? "linear_not_configured"
          : found.reason === "not_found"
            ? "linear_not_found"
            : "linear_failed";
      return { ok: false, reason, detail: found.detail };
    }
    return linkLinearIssue(env, ticket, found.issue, {
      kind: input.kind ?? "bug",
      ...(input.title === undefined ? {} : { title: input.title }),
      agent,
    });
  }
  const now = Date.now();
  const improvement: NewImprovementRow = {
    id: crypto.randomUUID(),
    ticketNumber: number,
    kind: input.kind ?? "other",
    title: input.title ?? "(untitled)",
    url: input.url ?? null,
    createdAt: now,
    state: "open",
    source: "manual",
  };
  await linkImprovement(db, { improvement, timerDebt: null, now });
  publishChange(env, number, "improvement");
  return { ok: true, improvement: viewOf(improvement), created: true };
}

function viewOf(row: NewImprovementRow): LinkedImprovement {
  return {
    kind: row.kind,
    title: row.title,
    url: row.url ?? null,
    at: row.createdAt,
    state: row.state ?? "open",
    shippedAt: row.shippedAt ?? null,
    source: row.source ?? "manual",
    ref: row.ref ?? null,
  };
}

/**
 * Link one ticket to a Linear issue (filed just now or long ago) in one batch: the improvement,
 * the attachment call it owes (the ticket's link on the issue, so engineers see every affected
 * customer) as a timer debt, and for an escalation its record and level. Linking an issue the
 * ticket already links changes nothing but pays the attachment again (Linear keeps one per URL).
 */
export async function linkLinearIssue(
  env: ImprovementEnv,
  ticket: TicketRow,
  issue: LinearIssue,
  options: {
    kind: ImprovementKind;
    title?: string;
    agent: string;
    escalation?: Omit<NewEscalationRow, "ticketNumber">;
    level?: number;
    before?: Parameters<typeof linkImprovement>[1]["before"];
  },
): Promise<ImprovementResult & { row?: TicketRow }> {
  const db = database(env.DB);
  const now = Date.now();
  const key = ticketKey(ticket.number);
  const existing = (await ticketImprovements(db, ticket.number)).find(
    (i) => i.source === "linear" && i.externalId === issue.id,
  );
  const state = improvementStateOfLinear(issue.stateType);
  const improvement: NewImprovementRow = existing ?? {
    id: crypto.randomUUID(),
    ticketNumber: ticket.number,
    kind: options.kind,
    title: (options.title ?? `${issue.identifier}: ${issue.title || key}`).slice(0, 300),
    url: issue.url,
    createdAt: now,
    state,
    shippedAt: state === "shipped" ? now : null,
    source: "linear",
    ref: issue.identifier,
    externalId: issue.id,
  };
  const attachment: OutboxItem = {
    id: `linear-attachment:${issue.id}:${key}`,
    label: `link ${key} on Linear issue ${issue.identifier}`,
    delivery: {
      service: "linear",
      action: "attachment",
      issueId: issue.id,
      url: ticketUrl(env.PUBLIC_URL, key),
      title: `${key}: ${ticket.subject || "(no subject)"}`.slice(0, 250),
      subtitle:
        `Support ticket · ${ticket.channel}${ticket.customer === null ? "" : ` · ${ticket.customer}`}`.slice(
          0,
          250,
        ),
    },
  };
  const debt = newTimerDebt("updated", [attachment]);
  const row = await linkImprovement(db, {
    improvement: { ...improvement, ticketNumber: ticket.number },
    timerDebt: { id: debt.id, payload: debt.payload },
    ...(options.escalation === undefined
      ? {}
      : { escalation: { ...options.escalation, ticketNumber: ticket.number } }),
    ...(options.level === undefined ? {} : { level: options.level }),
    ...(options.before === undefined ? {} : { before: options.before }),
    now,
  });
  if (row === undefined) return { ok: false, reason: "not_found" };
  await payTimerDebt(env, db, debt.id, row, debt.debt);
  return { ok: true, improvement: viewOf(improvement), created: existing === undefined, row };
}

/** What happened to an issue, as the linked tickets are told. */
export interface IssueChange {
  source: ImprovementSource;
  /** Linear's issue uuid; GitHub's `owner/repo#n`, lower-cased. */
  externalId: string;
  /** `ENG-12`, `acme/app#42`. */
  ref: string;
  title: string;
  url: string | null;
  state: ImprovementState;
  /** Where it happened, for the message ("completed in Linear", "merged on GitHub"). */
  where: string;
  /** The event's idempotency scope and key: each ticket is changed once per event. */
  event: { channel: "linear" | "github"; key: string };
  /** When it happened. */
  at: number;
}

export interface IssueChangeResult {
  /** Tickets changed by this event now. */
  changed: string[];
  /** Linked tickets this event had already changed, or that already were in the new state. */
  unchanged: string[];
}

/** An issue changed state: every ticket linked to it follows (each once). */
export async function applyIssueChange(env: ImprovementEnv, change: IssueChange): Promise<IssueChangeResult> {
  const db = database(env.DB);
  const rows = await linkedImprovements(db, change.source, change.externalId);
  const config = await loadConfig(db);
  const result: IssueChangeResult = { changed: [], unchanged: [] };
  for (const number of [...new Set(rows.map((r) => r.ticketNumber))].sort((a, b) => a - b)) {
    const done = await changeOneTicket(env, db, config, number, change, undefined);
    (done ? result.changed : result.unchanged).push(ticketKey(number));
  }
  return result;
}

/**
 * A merged pull request names tickets: each gets the improvement shipped, created if the ticket
 * was not linked to that pull request yet.
 */
export async function shipOnTickets(
  env: ImprovementEnv,
  numbers: readonly number[],
  change: IssueChange,
): Promise<IssueChangeResult> {
  const db = database(env.DB);
  const config = await loadConfig(db);
  const result: IssueChangeResult = { changed: [], unchanged: [] };
  for (const number of numbers) {
    const done = await changeOneTicket(env, db, config, number, change, {
      id: `github:${change.externalId}:${number}`,
      kind: "bug",
      title: `${change.ref}: ${change.title}`.slice(0, 300),
      url: change.url,
      createdAt: change.at,
      source: change.source,
      ref: change.ref,
      externalId: change.externalId,
    });
    if (done !== null) (done ? result.changed : result.unchanged).push(ticketKey(number));
  }
  return result;
}

const RACE_ATTEMPTS = 3;

/**
 * One ticket follows one issue change, in one guarded batch: the improvement's state, the
 * `system` message (or the announcement), the status and clock, the event's per-ticket key and
 * the timer debt. Returns true when it changed, false when there was nothing to do, null when the
 * ticket does not exist.
 */
async function changeOneTicket(
  env: ImprovementEnv,
  db: Database,
  config: Config,
  number: number,
  change: IssueChange,
  create: Omit<NewImprovementRow, "ticketNumber" | "state" | "shippedAt"> | undefined,
): Promise<boolean | null> {
  const eventKey = `${change.event.key}:${number}`;
  for (let attempt = 0; attempt < RACE_ATTEMPTS; attempt++) {
    const current = await getTicketRow(db, number);
    if (current === undefined) return null;
    if (await eventSeen(db, change.event.channel, eventKey)) return false;
    const linked = (await ticketImprovements(db, number)).find(
      (i) => i.source === change.source && i.externalId === change.externalId,
    );
    if (linked === undefined && create === undefined) return false;
    if (linked !== undefined && linked.state === change.state) return false;
    const now = Date.now();
    const plan = await planTicketChange(env, db, config, current, change, now);
    const debt = newTimerDebt(plan.event, plan.deliveries);
    try {
      const row = await applyPatch(db, {
        number,
        revision: current.revision,
        set: plan.set,
        escalations: [],
        survey: null,
        knowledgeBase: plan.reopened ? "remove" : null,
        revokeSurveys: plan.reopened,
        note: plan.message,
        idempotency: { channel: change.event.channel === "linear" ? "linear" : "github", key: eventKey },
        also: (guard) => [
          ...improvementStateWrites(
            {
              ticketNumber: number,
              source: change.source,
              externalId: change.externalId,
              state: change.state,
              at: change.at,
              ...(linked === undefined && create !== undefined ? { create } : {}),
            },
            guard,
          ),
          ...(plan.emailMessageId === null
            ? []
            : [emailThreadKeyWrite(number, plan.emailMessageId, now, guard)]),
        ],
        timerDebt: { id: debt.id, payload: debt.payload },
        now,
      });
      if (row === undefined) continue;
      await payTimerDebt(env, db, debt.id, row, debt.debt);
      return true;
    } catch (error) {
      // The same event racing this one won on its per-ticket key.
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }
  // Never report a ticket as done that was not: the delivery stays unrecorded and is retried.
  throw new Error(`${ticketKey(number)} kept changing; the ${change.event.channel} event will be retried`);
}

interface TicketChangePlan {
  set: Partial<TicketRow>;
  event: "customer-message" | "updated";
  deliveries: OutboxItem[];
  message: Omit<NewMessageRow, "ticketNumber">;
  reopened: boolean;
  emailMessageId: string | null;
}

async function planTicketChange(
  env: ImprovementEnv,
  db: Database,
  config: Config,
  current: TicketRow,
  change: IssueChange,
  now: number,
): Promise<TicketChangePlan> {
  const key = ticketKey(current.number);
  const messageId = crypto.randomUUID();
  const base = {
    id: messageId,
    direction: "outbound" as const,
    kind: "system" as const,
    author: "switchboard",
    createdAt: now,
  };
  const quiet: TicketChangePlan = {
    set: { updatedAt: now },
    event: "updated",
    deliveries: [],
    message: { ...base, text: "" },
    reopened: false,
    emailMessageId: null,
  };
  if (change.state === "open") {
    return { ...quiet, message: { ...base, text: `${change.ref} is open again (${change.where}).` } };
  }
  const text = shippedText(change.ref, change.title, change.state, change.where);
  if (change.state === "canceled") {
    // Nobody owes the customer anything new; the assignee (or the team) should know, though.
    const target = assigneeNoticeTarget(config, current);
    const link = ticketUrl(env.PUBLIC_URL, key);
    const deliveries: OutboxItem[] =
      target === null
        ? []
        : [
            {
              id: `improvement-canceled:${change.event.key}:${key}`,
              label: `notice to ${target.to} (${change.ref} canceled)`,
              delivery: slackNotice(
                target.to,
                `${target.mention === null ? "" : `${target.mention}: `}:no_entry_sign: ${slackLine(change.ref)} was canceled (${slackLine(change.where)}). <${link}|${key}> “${slackLine(current.subject || "(no subject)")}” was waiting on it: tell the customer what happens instead.`,
              ),
            },
          ];
    return { ...quiet, deliveries, message: { ...base, text } };
  }
  // Shipped: the customer is owed the news.
  if (config.linear.announceShipped) {
    const email = await emailReplyThreading(env, db, current, config);
    const keys = needsThreadKeys(current.channel)
      ? await ticketThreadKeys(db, current.channel, current.number)
      : [];
    // A pull request is public; a Linear identifier is the engineers' own and stays off the channel.
    const announcement = announcementText(key, change.source === "github" ? change.ref : null);
    const delivery = customerDelivery(replyTargetOf(current, keys), {
      kind: "reply",
      text: announcement,
      messageId,
      email,
    });
    if (delivery !== null) {
      const emailMessageId = email === undefined ? null : email.messageId;
      return {
        ...quiet,
        deliveries: [delivery],
        message: {
          ...base,
          // What the customer was sent, exactly; the improvement itself shows which fix shipped.
          text: announcement,
          externalId: emailMessageId,
          deliveryStatus: "pending",
        },
        emailMessageId,
      };
    }
    // No way back to this customer on the channel: an agent must tell them, on a clock.
  }
  if (current.status === "open") return { ...quiet, message: { ...base, text } };
  const reopen = planPatch(
    current,
    { status: "open" },
    config,
    now,
    parseTimeScale(env.SLA_TIME_SCALE),
    "switchboard",
  );
  return {
    set: reopen.set,
    event: "customer-message",
    deliveries: [],
    message: { ...base, text: `${text} The customer is owed the news: the ticket is open on a fresh clock.` },
    reopened: current.status === "resolved",
    emailMessageId: null,
  };
}

/** An engineer's comment on a tracked issue: an internal note on every linked ticket (each once). */
export async function noteOnLinkedTickets(
  env: ImprovementEnv,
  input: {
    source: ImprovementSource;
    externalId: string;
    commentId: string;
    author: string;
    text: string;
    ref: string;
  },
): Promise<IssueChangeResult> {
  const db = database(env.DB);
  const rows = await linkedImprovements(db, input.source, input.externalId);
  const numbers = [...new Set(rows.map((r) => r.ticketNumber))].sort((a, b) => a - b);
  const now = Date.now();
  const notes = numbers.map((ticketNumber) => ({
    id: `${input.source}-comment:${input.commentId}:${ticketNumber}`,
    ticketNumber,
    direction: "inbound" as const,
    kind: "note" as const,
    author: input.author,
    text: `${input.ref} (comment in ${input.source === "linear" ? "Linear" : "GitHub"}): ${input.text}`.slice(
      0,
      20_000,
    ),
    createdAt: now,
    externalId: `${input.source}-comment:${input.commentId}`,
  }));
  const written = new Set(await insertLinkedNotes(db, notes));
  for (const n of written) publishChange(env, n, "note");
  return {
    changed: numbers.filter((n) => written.has(n)).map(ticketKey),
    unchanged: numbers.filter((n) => !written.has(n)).map(ticketKey),
  };
}
