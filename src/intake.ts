import {
  customerDelivery,
  type EmailThreading,
  newEmailMessageId,
  replyTargetOf,
  slackNotice,
} from "./channels/outbound";
import { classify, securityFlipKeyword } from "./domain/classify";
import type { Config } from "./domain/config";
import { securityFlipNotice, slackLine } from "./domain/escalation";
import { type InboundMessage, type InboundMessageInput, inboundMessageSchema } from "./domain/inbound";
import {
  defaultVisibility,
  findCustomer,
  policyFor,
  replyFromAddress,
  route,
  startingLevel,
} from "./domain/routing";
import { clockAcknowledgementText, clockTiming, formatDeadline, parseTimeScale } from "./domain/sla";
import { acceptsTicketReference } from "./domain/threading";
import { TICKET_PREFIX, ticketKey, ticketUrl } from "./domain/ticket";
import type { DeskEnv } from "./env";
import { publishChange } from "./live/publish";
import type { OutboxItem } from "./notify";
import { configFromRow } from "./store/config";
import { type Database, database, isUniqueViolation } from "./store/db";
import {
  appendToTicket,
  changeMessage,
  findIdempotencyRecord,
  findMessageByExternalId,
  getTicketRow,
  type IdempotencyRecord,
  type IntakeLookup,
  insertNewTicket,
  insertQuarantine,
  lookupForIntake,
  owedResponseDueAt,
  type TicketRow,
} from "./store/tickets";
import { newTimerDebt, payTimerDebt } from "./timer/client";
import { reconcileTimers } from "./timer/reconcile";

export type IntakeResult =
  | {
      ok: true;
      ticketNumber: number;
      ticket: string;
      created: boolean;
      /** This idempotency key was seen before: nothing was written. */
      replay: boolean;
      messageId: string | null;
      responseDueAt: number | null;
      acknowledgement: string | null;
      threadedBy: string | null;
    }
  | { ok: false; reason: "not_threaded"; detail: string }
  | { ok: false; reason: "quarantined"; detail: string; quarantineId: string | null };

/** Email acknowledgements answer the customer's mail in its own thread, from the address they wrote to. */
function emailThreading(env: DeskEnv, message: InboundMessage, config: Config): EmailThreading | undefined {
  const support = env.SUPPORT_ADDRESS?.trim();
  if (message.channel !== "email" || support === undefined || support === "") return undefined;
  const own = message.externalId;
  // threadKeys are In-Reply-To then References newest first; References go out oldest first.
  const references = [...new Set([...message.threadKeys].reverse())].filter((r) => r !== own);
  return {
    messageId: newEmailMessageId(support),
    ...(own === undefined ? {} : { inReplyTo: own }),
    references: [...references, ...(own === undefined ? [] : [own])].slice(-20),
    from: replyFromAddress(config, support, message.context.recipient),
    supportAddress: support,
  };
}

/** A lost race on a unique index is retried this often (the retry finds the winner's work). */
const INTAKE_RACE_ATTEMPTS = 3;

/**
 * The pipeline every channel hands its messages to:
 * dedupe → thread → classify → route → store (one D1 batch) → arm the ticket's timer → acknowledge.
 * A lost race (the same key or the same new thread arriving twice at once) fails the batch on a
 * unique index; the loser starts over and finds the winner's work.
 */
export interface IntakeOptions {
  /** The routing configuration when the channel adapter has already read it (one D1 read fewer). */
  config?: Config;
  /**
   * Calls a new ticket owes besides its acknowledgement (GitHub: the support label, a security
   * notice), recorded with it in the same batch. Ids must be deterministic.
   */
  alsoDeliver?: (ticket: { key: string; security: boolean; team: string }) => OutboxItem[];
}

export async function intake(
  env: DeskEnv,
  input: InboundMessageInput,
  options: IntakeOptions = {},
): Promise<IntakeResult> {
  const message = inboundMessageSchema.parse(input);
  const db = database(env.DB);
  for (let attempt = 1; ; attempt++) {
    try {
      return await intakeOnce(env, db, message, attempt, options);
    } catch (error) {
      if (attempt < INTAKE_RACE_ATTEMPTS && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}

/** The result stored for an idempotency key, when this event was processed before (a replay). */
export async function seenBefore(
  env: DeskEnv,
  channel: InboundMessage["channel"],
  key: string,
): Promise<IntakeResult | null> {
  const seen = await findIdempotencyRecord(database(env.DB), channel, key);
  if (seen === undefined) return null;
  // A redelivery is the moment to pay what the first delivery's write may still owe its timer.
  if (seen.ticketNumber !== null) await reconcileTimers(env, { ticketNumber: seen.ticketNumber });
  return replayResult(seen);
}

function replayResult(seen: IdempotencyRecord): IntakeResult {
  if (seen.ticketNumber === null) {
    return { ok: false, reason: "quarantined", detail: "already quarantined", quarantineId: seen.messageId };
  }
  return {
    ok: true,
    ticketNumber: seen.ticketNumber,
    ticket: ticketKey(seen.ticketNumber),
    created: seen.created,
    replay: true,
    messageId: seen.messageId,
    responseDueAt: seen.responseDueAt,
    acknowledgement: null,
    threadedBy: null,
  };
}

async function intakeOnce(
  env: DeskEnv,
  db: Database,
  message: InboundMessage,
  attempt: number,
  options: IntakeOptions,
): Promise<IntakeResult> {
  const knownConfig = options.config;
  const {
    seen,
    configRow,
    thread: byKey,
  } = await lookupForIntake(
    db,
    message.channel,
    message.idempotencyKey,
    message.threadKeys,
    knownConfig === undefined,
  );
  if (seen !== undefined) {
    // The first delivery may have stored everything and then failed to reach the ticket's timer:
    // pay what it still owes now. One indexed read when nothing is owed.
    if (seen.ticketNumber !== null) await reconcileTimers(env, { ticketNumber: seen.ticketNumber });
    return replayResult(seen);
  }
  const config = knownConfig ?? configFromRow(configRow);
  const thread = await findExistingTicket(db, message, config, byKey);
  if (thread !== null) {
    return appendMessage(env, db, message, thread.ticket, thread.rule, config, attempt > 1);
  }
  if (message.quarantineReason !== undefined) {
    const id = await insertQuarantine(db, {
      channel: message.channel,
      idempotencyKey: message.idempotencyKey,
      reason: message.quarantineReason,
      sender: message.from.email ?? message.from.handle ?? null,
      recipient: message.context.recipient ?? null,
      subject: message.subject ?? null,
      text: message.text,
      attachmentCount: message.attachments.length,
      storageKey: message.rawStorageKey ?? null,
      receivedAt: message.receivedAt,
    });
    return { ok: false, reason: "quarantined", detail: message.quarantineReason, quarantineId: id };
  }
  if (message.author !== "customer" || message.threadOnly) {
    return {
      ok: false,
      reason: "not_threaded",
      detail: message.threadOnly
        ? "a message that may only join an existing ticket, and none matches"
        : "a staff or system message that belongs to no ticket",
    };
  }
  return openTicket(env, db, message, config, options.alsoDeliver);
}

async function findExistingTicket(
  db: Database,
  message: InboundMessage,
  config: Config,
  /** The ticket behind the message's thread keys, already read with the idempotency record. */
  byKey: IntakeLookup["thread"],
): Promise<{ ticket: TicketRow; rule: string } | null> {
  if (byKey !== null)
    return { ticket: byKey.ticket, rule: message.threadKeyRules[byKey.index] ?? "thread-key" };
  for (const number of message.ticketReferences) {
    const ticket = await getTicketRow(db, number);
    if (ticket !== undefined && acceptsTicketReference(ticket, message.from, config)) {
      return { ticket, rule: "ticket-reference" };
    }
  }
  return null;
}

async function openTicket(
  env: DeskEnv,
  db: Database,
  message: InboundMessage,
  config: Config,
  alsoDeliver: IntakeOptions["alsoDeliver"],
): Promise<IntakeResult> {
  const now = Date.now();
  const classification = classify(message, config);
  // An address the channel could not verify (DMARC failed) is no proof of being that customer.
  const customer = findCustomer(config, {
    email: message.senderUnverified ? undefined : message.from.email,
    slackTeamId: message.context.slackTeamId,
  });
  const decision = route(config, {
    channel: message.channel,
    subject: message.subject,
    text: message.text,
    to: message.context.recipient,
    githubRepo: message.context.githubRepo,
    slackChannel: message.context.slackChannel,
    customer,
    security: classification.security,
  });
  const policy = policyFor(message.channel, classification.priority, customer);
  const startedAt = message.receivedAt;
  const timing = clockTiming(policy, startedAt, config, parseTimeScale(env.SLA_TIME_SCALE));
  const due = timing.dueAt;
  const messageId = crypto.randomUUID();
  const ackId = crypto.randomUUID();
  const acknowledge = !message.suppressAcknowledgement;
  const ackTemplate = acknowledge ? clockAcknowledgementText("{key}", policy, due, now, config) : null;
  const subject = (message.subject ?? firstLine(message.text)).slice(0, 1000);
  const accountEngineer = customer?.tier === "enterprise" ? customer.accountEngineer : undefined;
  const callbackUrl = message.callbackUrl ?? null;
  const registered = [
    ...new Set([
      ...(message.lookupOnlyThreadKeys ? [] : message.threadKeys.slice(0, 1)),
      ...message.extraThreadKeys,
    ]),
  ];
  const target = replyTargetOf(
    {
      number: 0,
      channel: message.channel,
      callbackUrl,
      subject,
      requesterName: message.from.name ?? null,
      requesterEmail: message.from.email?.toLowerCase() ?? null,
      channelName: message.channelName ?? null,
    },
    [...registered].reverse(),
  );
  const email = emailThreading(env, message, config);
  // Whether the acknowledgement can leave on the channel; the real item needs the key, known after the batch.
  const ackLeaves =
    ackTemplate !== null &&
    customerDelivery(target, { kind: "acknowledgement", text: "", messageId: ackId, email }) !== null;

  /** Every call the new ticket owes, given its key (known only once the batch has run). */
  const deliveriesFor = (key: string): OutboxItem[] => {
    const deliveries: OutboxItem[] = [];
    if (ackTemplate !== null && ackLeaves) {
      const ack = customerDelivery(
        { ...target, key },
        { kind: "acknowledgement", text: ackTemplate.replace("{key}", key), messageId: ackId, email },
      );
      if (ack !== null) deliveries.push(ack);
    }
    if (accountEngineer?.slackUserId !== undefined && customer !== undefined) {
      deliveries.push(
        accountEngineerNotice(env, accountEngineer.slackUserId, {
          key,
          messageId,
          customer: customer.name,
          subject,
          channel: message.channel,
          due,
          now,
          timezone: config.timezone,
        }),
      );
    }
    deliveries.push(
      ...(alsoDeliver?.({ key, security: classification.security, team: decision.team }) ?? []),
    );
    return deliveries;
  };
  // The debt is written with the batch, the key still a placeholder that SQL fills in (SPEC: a
  // write that owes a side effect records it in the same batch).
  const placeholder = `@@ticket-${crypto.randomUUID()}@@`;
  const debt = newTimerDebt("intake", deliveriesFor(`${TICKET_PREFIX}-${placeholder}`));
  const row = await insertNewTicket(db, {
    timerDebt: { id: debt.id, payload: debt.payload, placeholder },
    channel: message.channel,
    idempotencyKey: message.idempotencyKey,
    threadKeys: [...new Set([...registered, ...(ackLeaves && email !== undefined ? [email.messageId] : [])])],
    ticket: {
      channel: message.channel,
      subject,
      status: "open",
      priority: classification.priority,
      policy,
      team: decision.team,
      assignee: accountEngineer?.name ?? null,
      customer: customer?.id ?? null,
      visibility: classification.security
        ? "private"
        : (message.visibility ?? defaultVisibility(message.channel)),
      security: classification.security,
      senderUnverified: message.senderUnverified,
      escalationLevel: startingLevel(message.channel),
      requesterName: message.from.name ?? null,
      requesterEmail: message.from.email?.toLowerCase() ?? null,
      requesterHandle: message.from.handle ?? null,
      channelName: message.channelName ?? null,
      callbackUrl,
      // The customer's clock runs from when we received the message, and so does the ticket.
      createdAt: startedAt,
      updatedAt: now,
      clockSeq: 1,
      clockStartedAt: startedAt,
      responseDueAt: due,
      firstDueAt: due,
      queueDueAt: due,
      clockStepsAt: timing.stepsAt,
      acknowledgedAt: acknowledge ? now : null,
      // SPEC §11: a keyword alone, from a sender who is no configured customer, pages under the cap.
      pagingCapped: classification.priorityReason === "keyword" && customer === undefined,
    },
    message: {
      id: messageId,
      direction: "inbound",
      kind: "customer",
      author: authorName(message),
      sender: message.from.email ?? message.from.handle ?? null,
      subject: message.subject ?? null,
      text: message.text,
      html: message.html ?? null,
      createdAt: startedAt,
      externalId: message.externalId ?? message.idempotencyKey,
    },
    attachments: message.attachments.map((a) => ({
      id: crypto.randomUUID(),
      messageId,
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      storageKey: a.storageKey,
      contentId: a.contentId ?? null,
    })),
    ...(ackTemplate === null
      ? {}
      : {
          acknowledgement: {
            id: ackId,
            template: ackTemplate,
            createdAt: Math.max(now, startedAt + 1),
            // The api channel's acknowledgement is the 202 body (and Discord's the interaction response)
            // itself, unless a call is owed as well.
            deliveryStatus: ackLeaves
              ? "pending"
              : message.channel === "api" || message.channel === "discord"
                ? "sent"
                : "skipped",
            ...(ackLeaves && email !== undefined ? { externalId: email.messageId } : {}),
          },
        }),
    ...(message.promotedFrom === undefined ? {} : { promotedFrom: message.promotedFrom }),
  });

  const key = ticketKey(row.number);
  await payTimerDebt(env, db, debt.id, row, { event: "intake", deliveries: deliveriesFor(key) });
  const acknowledgement = ackTemplate === null ? null : ackTemplate.replace("{key}", key);
  return {
    ok: true,
    ticketNumber: row.number,
    ticket: key,
    created: true,
    replay: false,
    messageId,
    responseDueAt: due,
    acknowledgement,
    threadedBy: null,
  };
}

async function appendMessage(
  env: DeskEnv,
  db: Database,
  message: InboundMessage,
  ticket: TicketRow,
  rule: string,
  config: Config,
  afterConflict: boolean,
): Promise<IntakeResult> {
  // The same message under another delivery id (a provider resending, two racing deliveries) fails
  // the batch on `messages_external`; only then, on the retry, is it looked up and reported as a
  // replay. The common path pays no extra read.
  const externalId = message.externalId ?? message.idempotencyKey;
  const stored = afterConflict ? await findMessageByExternalId(db, ticket.number, externalId) : undefined;
  if (stored !== undefined) {
    return {
      ok: true,
      ticketNumber: ticket.number,
      ticket: ticketKey(ticket.number),
      created: false,
      replay: true,
      messageId: stored.id,
      responseDueAt: ticket.responseDueAt,
      acknowledgement: null,
      threadedBy: rule,
    };
  }
  const now = Date.now();
  const messageId = crypto.randomUUID();
  // A community message that threads by the requester's own key is the requester's (Discord).
  const author =
    message.author === "community" && message.customerByRule !== undefined && rule === message.customerByRule
      ? "customer"
      : message.author;
  const isCustomer = author === "customer";
  const isStaff = author === "staff";
  const candidate = clockTiming(
    ticket.policy,
    message.receivedAt,
    config,
    parseTimeScale(env.SLA_TIME_SCALE),
  );
  const event = isCustomer ? "customer-message" : isStaff ? "staff-response" : "updated";
  // SPEC §1: anything that looks security-sensitive is forced private — a follow-up as much as the first message.
  // Anyone who is not staff can put security-sensitive words on the ticket: a community member's
  // message in a public thread is re-checked like the requester's (public means public on purpose).
  const security =
    isCustomer || author === "community"
      ? securityFlip(env, ticket, message, config, "follow-up", messageId, author)
      : null;
  const debt = newTimerDebt(event, security?.deliveries ?? []);
  const row = await appendToTicket(db, {
    timerDebt: { id: debt.id, payload: debt.payload },
    channel: message.channel,
    idempotencyKey: message.idempotencyKey,
    ticketNumber: ticket.number,
    newThreadKeys: message.extraThreadKeys,
    message: {
      id: messageId,
      ticketNumber: ticket.number,
      direction: isStaff ? "outbound" : "inbound",
      // A community member's words are shown but owe nothing: no clock starts, stops or reopens.
      kind: author,
      author: authorName(message),
      sender: message.from.email ?? message.from.handle ?? null,
      subject: message.subject ?? null,
      text: message.text,
      html: message.html ?? null,
      createdAt: message.receivedAt,
      externalId: message.externalId ?? message.idempotencyKey,
      threadedBy: rule,
    },
    attachments: message.attachments.map((a) => ({
      id: crypto.randomUUID(),
      messageId,
      ticketNumber: ticket.number,
      filename: a.filename,
      contentType: a.contentType,
      size: a.size,
      storageKey: a.storageKey,
      contentId: a.contentId ?? null,
    })),
    ...(isCustomer
      ? {
          customerClock: {
            startedAt: message.receivedAt,
            dueAt: candidate.dueAt,
            stepsAt: candidate.stepsAt,
          },
        }
      : {}),
    ...(isStaff ? { staffResponseAt: now } : {}),
    bounceOf: message.bounceOf,
    ...(security === null
      ? {}
      : {
          security: {
            note: {
              ...security.note,
              ticketNumber: ticket.number,
              createdAt: Math.max(now, message.receivedAt + 1),
            },
          },
        }),
    now,
  });
  await payTimerDebt(env, db, debt.id, row, debt.debt);
  return {
    ok: true,
    ticketNumber: row.number,
    ticket: ticketKey(row.number),
    created: false,
    replay: false,
    messageId,
    responseDueAt: owedResponseDueAt(row),
    acknowledgement: null,
    threadedBy: rule,
  };
}

/**
 * What a customer message (a follow-up or an edit) that looks security-sensitive does to a ticket
 * that is still public or not yet `security`: an internal note saying why, and a notice to the
 * security team (owed with the write, in its timer debt). Null when nothing changes.
 */
function securityFlip(
  env: DeskEnv,
  ticket: TicketRow,
  message: { subject?: string | undefined; text: string },
  config: Config,
  what: "follow-up" | "edit",
  /** Unique per message or edit event: the notice is sent once for it. */
  causeId: string,
  /** Whose words: the requester's, or a community member's (Discord). */
  who: "customer" | "community",
): {
  keyword: string;
  note: { id: string; direction: "outbound"; kind: "note"; author: string; text: string };
  deliveries: OutboxItem[];
} | null {
  const keyword = securityFlipKeyword(ticket, message, config);
  if (keyword === null) return null;
  const key = ticketKey(ticket.number);
  const notice = securityFlipNotice(config, {
    key,
    link: ticketUrl(env.PUBLIC_URL, key),
    subject: ticket.subject,
    team: ticket.team,
    channel: ticket.channel,
    keyword,
    what,
    wasPublic: ticket.visibility === "public",
  });
  const told =
    notice === null
      ? " No security channel is configured, so nobody was told on Slack."
      : " The security team was told.";
  return {
    keyword,
    note: {
      id: crypto.randomUUID(),
      direction: "outbound",
      kind: "note",
      author: "switchboard",
      text:
        `Marked security-sensitive and private: a ${who === "community" ? "community member's" : "customer"} ${what} mentions “${keyword}”. ` +
        `The ticket left the knowledge base; only an agent can make it public again.${told}`,
    },
    deliveries:
      notice === null
        ? []
        : [
            {
              id: `security:${key}:${causeId}`,
              label: `security notice to ${notice.to}`,
              delivery: slackNotice(notice.to, notice.text),
            },
          ],
  };
}

/**
 * SPEC §1: an enterprise customer's ticket goes straight to their account engineer, who is told at
 * once (a Slack DM: `chat.postMessage` to a user id lands in the app's DM with that user).
 */
function accountEngineerNotice(
  env: DeskEnv,
  slackUserId: string,
  t: {
    key: string;
    messageId: string;
    customer: string;
    subject: string;
    channel: string;
    due: number;
    now: number;
    timezone: string;
  },
): OutboxItem {
  const link = ticketUrl(env.PUBLIC_URL, t.key);
  const text =
    `:briefcase: New ${slackLine(t.customer)} ticket assigned to you: <${link}|${t.key}> ` +
    `“${slackLine(t.subject || "(no subject)")}” via ${t.channel} · reply due ${formatDeadline(t.due, t.now, t.timezone)}`;
  return {
    id: `account-engineer:${t.messageId}`,
    label: `Slack DM to the account engineer ${slackUserId}`,
    delivery: slackNotice(slackUserId, text),
  };
}

function authorName(message: InboundMessage): string {
  return message.from.name ?? message.from.email ?? message.from.handle ?? "unknown";
}

function firstLine(text: string): string {
  const line = text.split(/\r?\n/).find((l) => l.trim() !== "") ?? "";
  return line.trim().slice(0, 120);
}

export type MessageChangeResult =
  | { ok: true; ticket: string; changed: number; replay: boolean }
  | { ok: false; reason: "not_threaded" };

/**
 * A channel says a message it sent us was edited or deleted (Slack `message_changed` /
 * `message_deleted`, GitHub `issues.edited|deleted` / `issue_comment.edited|deleted`). Deduped like
 * any inbound event; the edit is kept (with `editedAt`), a deletion is recorded (`deletedAt`) and
 * the text stays for the record, never in the knowledge base: its entry is rebuilt in the same
 * batch. An edit of a customer's message is classified again: one that looks security-sensitive
 * makes the ticket private, like a follow-up would.
 */
export async function changeInboundMessage(
  env: DeskEnv,
  input: {
    channel: InboundMessage["channel"];
    idempotencyKey: string;
    threadKeys: string[];
    externalId: string;
    change: { type: "edit"; text: string; html?: string | null } | { type: "delete" };
    /** The thread's title changed too (GitHub `issues.edited`): the ticket's subject follows. */
    subject?: string;
    /** The whole thread is gone at its source (GitHub `issues.deleted`): nothing of it stays public. */
    threadDeleted?: boolean;
  },
): Promise<MessageChangeResult> {
  const db = database(env.DB);
  const { seen, configRow, thread } = await lookupForIntake(
    db,
    input.channel,
    input.idempotencyKey,
    input.threadKeys,
    true,
  );
  if (seen !== undefined && seen.ticketNumber !== null) {
    return { ok: true, ticket: ticketKey(seen.ticketNumber), changed: 0, replay: true };
  }
  if (thread === null) return { ok: false, reason: "not_threaded" };
  const { ticket } = thread;
  const key = ticketKey(ticket.number);
  const stored = await findMessageByExternalId(db, ticket.number, input.externalId);
  const subject = input.subject?.slice(0, 1000) ?? derivedSubjectAfter(ticket, stored, input.change);
  const now = Date.now();
  const config = configFromRow(configRow);
  // An edit is classified like a follow-up, but only when it edits a customer's own message.
  const security =
    input.change.type === "edit" && (stored?.kind === "customer" || stored?.kind === "community")
      ? securityFlip(
          env,
          ticket,
          { ...(subject === undefined ? {} : { subject }), text: input.change.text },
          config,
          "edit",
          input.idempotencyKey,
          stored.kind,
        )
      : null;
  const debt = security === null ? null : newTimerDebt("updated", security.deliveries);
  try {
    const outcome = await changeMessage(db, {
      channel: input.channel,
      idempotencyKey: input.idempotencyKey,
      ticketNumber: ticket.number,
      externalId: input.externalId,
      change: input.change,
      ...(subject === undefined ? {} : { subject }),
      ...(security !== null && debt !== null
        ? {
            makePrivate: {
              reason: "security" as const,
              timerDebt: { id: debt.id, payload: debt.payload },
              note: { ...security.note, ticketNumber: ticket.number, createdAt: now },
            },
          }
        : input.threadDeleted === true
          ? {
              makePrivate: {
                reason: "deleted" as const,
                note: {
                  id: crypto.randomUUID(),
                  ticketNumber: ticket.number,
                  direction: "outbound" as const,
                  kind: "note" as const,
                  author: "switchboard",
                  text:
                    `The ${input.channel} thread was deleted at its source: its text is kept here for the record, ` +
                    "and the ticket is private (out of the knowledge base).",
                  createdAt: now,
                },
              },
            }
          : {}),
      at: now,
    });
    if (debt !== null && outcome.madePrivate !== undefined) {
      await payTimerDebt(env, db, debt.id, outcome.madePrivate, debt.debt);
    } else if (outcome.changed > 0) publishChange(env, ticket.number, "edited");
    return { ok: true, ticket: key, changed: outcome.changed, replay: false };
  } catch (error) {
    if (isUniqueViolation(error)) return { ok: true, ticket: key, changed: 0, replay: true };
    throw error;
  }
}

/**
 * A ticket without a subject of its own took the first line of its first message (Slack,
 * Discord, api): when that message is edited the subject follows, and when it is deleted the
 * subject goes too, so deleted words do not live on as the ticket's (and the knowledge base's) title.
 */
function derivedSubjectAfter(
  ticket: TicketRow,
  stored: { text: string } | undefined,
  change: { type: "edit"; text: string } | { type: "delete" },
): string | undefined {
  // A GitHub ticket's subject is its issue's title, edited by `issues.edited` itself.
  if (ticket.channel === "github" || stored === undefined || ticket.subject === "") return undefined;
  if (ticket.subject !== firstLine(stored.text)) return undefined;
  return change.type === "edit" ? firstLine(change.text) : "";
}
