import { and, asc, desc, eq, type SQL, sql } from "drizzle-orm";
import type { Channel } from "../domain/inbound";
import { type ConfigRow, configQuery } from "./config";
import { batch, batchAll, batchAround, batchAroundMany, type Database, type Statement } from "./db";
import { guardedInsert, ticketAtRevision } from "./guarded";
import { addToKnowledgeBase, removeFromKnowledgeBase } from "./knowledge-base";
import { prepared, slot, slots, slotValues } from "./prepared";
import { keepPromise, promiseQueueDue, promiseUpdate, recordPromiseMade } from "./promises";
import {
  escalations,
  idempotencyKeys,
  improvements,
  messages,
  QUEUE_RESOLVED,
  surveys,
  threadKeys,
  tickets,
} from "./schema";
import { revokeOpenSurveys, staffResponseUpdate, type TicketRow, type TicketSet } from "./tickets";
import { timerDebtInsert } from "./timer-syncs";

/**
 * The writes of agent commands (patch, reply, escalate, link an improvement) and of the ticket
 * timer (ladder steps, delivery outcomes). Each is one D1 batch: all of it or nothing.
 */

export type NewEscalationRow = typeof escalations.$inferInsert;
export type NewMessageRow = typeof messages.$inferInsert;
export type ImprovementRowKind = (typeof improvements.$inferInsert)["kind"];

/** The ids an email reply threads under: the customer's latest Message-ID and the ticket's email keys, oldest first. */
export async function emailThreadIds(
  db: Database,
  ticketNumber: number,
): Promise<{ latestCustomerMessageId: string | undefined; keys: string[] }> {
  const [latest, keys] = await batch(db, [
    db
      .select({ externalId: messages.externalId })
      .from(messages)
      .where(
        and(
          eq(messages.ticketNumber, ticketNumber),
          eq(messages.direction, "inbound"),
          eq(messages.kind, "customer"),
        ),
      )
      .orderBy(desc(messages.createdAt))
      .limit(1),
    db
      .select({ key: threadKeys.key })
      .from(threadKeys)
      .where(and(eq(threadKeys.ticketNumber, ticketNumber), eq(threadKeys.channel, "email")))
      .orderBy(asc(threadKeys.createdAt))
      .limit(50),
  ]);
  return { latestCustomerMessageId: latest[0]?.externalId ?? undefined, keys: keys.map((k) => k.key) };
}

/** The customer-effort survey a resolve sends: its token, its outbound message and (email) its Message-ID. */
export interface SurveyWrite {
  token: string;
  /** When the link stops counting; null for a link only the requester receives. */
  expiresAt: number | null;
  message: Omit<NewMessageRow, "ticketNumber">;
  /** Our Message-ID for a survey mail, registered as a thread key so the answer by mail threads. */
  emailMessageId: string | null;
}

export interface PatchWrite {
  number: number;
  /** The revision the change was planned from: nothing is written if the ticket moved on. */
  revision: number;
  set: TicketSet;
  escalations: Omit<NewEscalationRow, "ticketNumber">[];
  survey: SurveyWrite | null;
  /**
   * `reindex`: the ticket is being resolved or its visibility changes (re-added only if it ends
   * up resolved and public); `remove`: it is being reopened.
   */
  knowledgeBase: "reindex" | "remove" | null;
  /** The ticket is being reopened: its unanswered surveys stop counting. */
  revokeSurveys: boolean;
  /** An internal note recording the change (a visibility change says who made it and why). */
  note: Omit<NewMessageRow, "ticketNumber"> | null;
  /** A channel (or integration) event behind the patch, recorded once (a redelivery finds it). */
  idempotency?: { channel: Channel | "linear"; key: string };
  /** Further writes of the change (an improvement's new state), guarded like the rest. */
  also?: (guard: SQL) => SQL[];
  /** What the patch owes the ticket's timer, recorded only if the patch wins. */
  timerDebt: { id: string; payload: string };
  now: number;
}

/**
 * One guarded batch for a patch. Everything but the update is guarded by the revision it was
 * planned from and runs first, so a lost race writes nothing at all; the update then moves the
 * revision on, and what follows it is guarded by the new revision. Returns the ticket after the
 * change, or undefined when the revision had moved (the caller re-plans).
 */
export async function applyPatch(db: Database, write: PatchWrite): Promise<TicketRow | undefined> {
  const { before, main, after } = patchStatements(db, write);
  const rows = await batchAround(db, before, main, after);
  return rows[0];
}

/**
 * Many patches (a bulk action from the queue) in ONE batch: each guarded by its own revision as in
 * `applyPatch`, so a ticket that changed under the action is left as it was (undefined in its
 * place) while the others go through.
 */
export async function applyPatches(
  db: Database,
  writes: readonly PatchWrite[],
): Promise<(TicketRow | undefined)[]> {
  const results = await batchAroundMany(
    db,
    writes.map((w) => patchStatements(db, w)),
  );
  return results.map((rows) => rows[0]);
}

function patchStatements(db: Database, write: PatchWrite) {
  const { number, revision } = write;
  const guard = ticketAtRevision(number, revision);
  const before: Statement[] = [
    ...write.escalations.map((e) =>
      db.run(guardedInsert(escalations, { ...e, ticketNumber: number }, guard)),
    ),
    ...(write.survey === null
      ? []
      : surveyStatements(number, write.survey, write.now, guard).map((s) => db.run(s))),
    ...(write.knowledgeBase === null ? [] : [db.run(removeFromKnowledgeBase(number, guard))]),
    ...(write.revokeSurveys ? [db.run(revokeOpenSurveys(number, write.now, guard))] : []),
    ...(write.note === null
      ? []
      : [db.run(guardedInsert(messages, { ...write.note, ticketNumber: number }, guard))]),
    ...(write.also?.(guard) ?? []).map((s) => db.run(s)),
    // Resolving keeps the promised update (SPEC §16): `next_update_due_at` is cleared by the set.
    ...(write.set.nextUpdateDueAt === null ? [keepPromise(db, number, write.now, guard)] : []),
    timerDebtInsert(db, { ...write.timerDebt, ticketNumber: number, createdAt: write.now }, guard),
  ];
  const update = db
    .update(tickets)
    .set({ ...write.set, ...queueWithPromise(write.set), revision: sql`${tickets.revision} + 1` })
    .where(and(eq(tickets.number, number), eq(tickets.revision, revision)))
    .returning();
  // After the update the ticket is at revision + 1 exactly when this batch's update won.
  const after: Statement[] = [
    ...(write.idempotency === undefined
      ? []
      : [recordEventOnce(db, write.idempotency, number, revision + 1, write.now)]),
    ...(write.knowledgeBase === "reindex"
      ? [db.run(addToKnowledgeBase(number, ticketAtRevision(number, revision + 1)))]
      : []),
  ];
  return { before, main: update, after };
}

/**
 * A patch that moves a ticket into a deadline (a re-timed clock, a reopen) or back to `pending`
 * keeps the queue's sort key at the earlier of that and a promised update still standing.
 */
function queueWithPromise(set: TicketSet): TicketSet {
  const due = set.queueDueAt;
  if (typeof due !== "number" || due === QUEUE_RESOLVED || set.nextUpdateDueAt === null) return {};
  return { queueDueAt: promiseQueueDue(due) };
}

function surveyStatements(number: number, survey: SurveyWrite, now: number, guard: SQL): SQL[] {
  return [
    guardedInsert(
      surveys,
      { token: survey.token, ticketNumber: number, sentAt: now, expiresAt: survey.expiresAt },
      guard,
    ),
    guardedInsert(messages, { ...survey.message, ticketNumber: number }, guard),
    ...(survey.emailMessageId === null
      ? []
      : [
          guardedInsert(
            threadKeys,
            { channel: "email", key: survey.emailMessageId, ticketNumber: number, createdAt: now },
            guard,
          ),
        ]),
  ];
}

/** Insert the event's idempotency key only if the update before it in the batch went through. */
function recordEventOnce(
  db: Database,
  event: { channel: Channel | "linear"; key: string },
  number: number,
  revisionAfter: number,
  now: number,
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
        createdAt: sql<number>`${now}`.as("created_at"),
      })
      .from(tickets)
      .where(and(eq(tickets.number, number), eq(tickets.revision, revisionAfter))),
  );
}

/** An agent command's `Idempotency-Key`, scoped (`command:reply`, agent, ticket), kept in `idempotency_keys`. */
export interface CommandOnce {
  scope: string;
  key: string;
}

/** The record of a command seen before: the message (reply) or escalation it made. */
export async function commandRecord(db: Database, once: CommandOnce) {
  return db
    .select({ messageId: idempotencyKeys.messageId, ticketNumber: idempotencyKeys.ticketNumber })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.channel, once.scope), eq(idempotencyKeys.key, once.key)))
    .get();
}

export function commandRecordInsert(
  db: Database,
  once: CommandOnce,
  ticketNumber: number,
  madeId: string,
  now: number,
) {
  return db.insert(idempotencyKeys).values({
    channel: once.scope,
    key: once.key,
    ticketNumber,
    messageId: madeId,
    created: false,
    createdAt: now,
  });
}

export interface ReplyWrite {
  number: number;
  message: NewMessageRow;
  /** A public reply: a staff response, which stops the clock and moves open → pending. */
  staffResponse: boolean;
  /** Our own Message-ID of an email reply: it answers to the ticket too, so the customer's reply threads. */
  emailMessageId: string | null;
  /** The command's Idempotency-Key: a second reply with it fails the batch on its primary key. */
  once?: CommandOnce;
  /** What a public reply owes the ticket's timer. */
  timerDebt?: { id: string; payload: string };
  /** A public reply that promises the next update by `dueAt` (SPEC §16): the ticket's new promise clock. */
  promise?: { dueAt: number; madeBy: string };
  now: number;
}

/** A reply or internal note and the ticket's update, in one batch. Returns the ticket after it. */
export async function insertReply(db: Database, write: ReplyWrite): Promise<TicketRow | undefined> {
  const { number, now } = write;
  const update = db
    .update(tickets)
    .set({
      updatedAt: now,
      revision: sql`${tickets.revision} + 1`,
      ...(write.staffResponse ? staffResponseUpdate(now) : {}),
      ...(write.promise === undefined ? {} : promiseUpdate(write.promise.dueAt, now)),
    })
    .where(eq(tickets.number, number))
    .returning();
  const rows = await batchAround(
    db,
    [
      ...(write.once === undefined
        ? []
        : [commandRecordInsert(db, write.once, number, write.message.id, now)]),
      db.insert(messages).values(write.message),
      // A public reply keeps the promise before it (SPEC §16), even when it makes the next one.
      ...(write.staffResponse ? [keepPromise(db, number, now)] : []),
    ],
    update,
    [
      ...(write.promise === undefined
        ? []
        : [
            recordPromiseMade(db, {
              ticketNumber: number,
              dueAt: write.promise.dueAt,
              madeAt: now,
              madeBy: write.promise.madeBy,
              messageId: write.message.id,
            }),
          ]),
      ...(write.emailMessageId === null
        ? []
        : [
            db
              .insert(threadKeys)
              .values({ channel: "email", key: write.emailMessageId, ticketNumber: number, createdAt: now })
              .onConflictDoNothing(),
          ]),
      ...(write.timerDebt === undefined
        ? []
        : [timerDebtInsert(db, { ...write.timerDebt, ticketNumber: number, createdAt: now })]),
    ],
  );
  return rows[0];
}

export interface ImprovementWrite {
  id: string;
  ticketNumber: number;
  kind: ImprovementRowKind;
  title: string;
  url: string | null;
  createdAt: number;
}

export async function insertImprovement(db: Database, improvement: ImprovementWrite): Promise<void> {
  await db.insert(improvements).values(improvement);
}

/** An engineering escalation: the Linear issue linked as a `bug` improvement, the escalation, the level. */
export async function recordEngineeringEscalation(
  db: Database,
  write: {
    improvement: ImprovementWrite;
    escalation: NewEscalationRow;
    level: number;
    once?: CommandOnce;
    now: number;
  },
): Promise<void> {
  const number = write.escalation.ticketNumber;
  await batchAll(db, [
    ...(write.once === undefined
      ? []
      : [commandRecordInsert(db, write.once, number, write.escalation.id, write.now)]),
    db.insert(improvements).values(write.improvement),
    db.insert(escalations).values(write.escalation),
    raiseLevel(db, write.escalation.ticketNumber, write.level, write.now),
  ]);
}

/** A declared incident: the escalation and the level. Returns the ticket after it. */
export async function recordIncident(
  db: Database,
  write: {
    escalation: NewEscalationRow;
    level: number;
    timerDebt: { id: string; payload: string };
    once?: CommandOnce;
    now: number;
  },
): Promise<TicketRow | undefined> {
  const number = write.escalation.ticketNumber;
  const rows = await batchAround(
    db,
    [
      ...(write.once === undefined
        ? []
        : [commandRecordInsert(db, write.once, number, write.escalation.id, write.now)]),
      db.insert(escalations).values(write.escalation),
      timerDebtInsert(db, { ...write.timerDebt, ticketNumber: number, createdAt: write.now }),
    ],
    raiseLevel(db, number, write.level, write.now),
  );
  return rows[0];
}

function raiseLevel(db: Database, number: number, level: number, now: number) {
  return db
    .update(tickets)
    .set({
      escalationLevel: sql`max(${tickets.escalationLevel}, ${level})`,
      revision: sql`${tickets.revision} + 1`,
      updatedAt: now,
    })
    .where(eq(tickets.number, number))
    .returning();
}

/** The text of the ticket's first customer message (the report an engineering issue quotes). */
export async function firstCustomerText(db: Database, ticketNumber: number): Promise<string> {
  const first = await db
    .select({ text: messages.text })
    .from(messages)
    .where(and(eq(messages.ticketNumber, ticketNumber), eq(messages.kind, "customer")))
    .orderBy(asc(messages.createdAt))
    .limit(1)
    .get();
  return first?.text ?? "";
}

/** The ticket and the routing document in one round trip (every ladder step reads both). */
export async function ticketWithConfig(
  db: Database,
  number: number,
): Promise<{ ticket: TicketRow | undefined; configRow: ConfigRow | undefined }> {
  const [ticketRows, configRows] = await batch(db, [
    prepared(
      db,
      "ticket:select",
      (d) =>
        d
          .select()
          .from(tickets)
          .where(eq(tickets.number, slot("number")))
          .limit(1),
      { number },
    ),
    configQuery(db),
  ]);
  return { ticket: ticketRows[0], configRow: configRows[0] };
}

/** Ladder steps that fired: the ticket's breach flag and level, and one escalation row per step (each once). */
export async function recordLadderSteps(
  db: Database,
  write: { ticketNumber: number; breached: boolean; level: number; records: NewEscalationRow[] },
): Promise<void> {
  // Every ladder step runs these: prepared once (prepared.ts), the breach flag being part of the shape.
  await batch(db, [
    prepared(
      db,
      `ladder:ticket:${write.breached}`,
      (d) =>
        d
          .update(tickets)
          .set({
            breached: write.breached ? true : sql`${tickets.breached}`,
            escalationLevel: sql`max(${tickets.escalationLevel}, ${slot("level")})`,
          })
          .where(eq(tickets.number, slot("number"))),
      { level: write.level, number: write.ticketNumber },
    ),
    ...write.records.map((r) => {
      const { shape, values } = slots(r);
      return prepared(
        db,
        `ladder:escalation:${shape}`,
        (d) => d.insert(escalations).values(values).onConflictDoNothing(),
        slotValues(r),
      );
    }),
  ]);
}

export type FinalDeliveryOutcome =
  | { ok: true; externalId?: string }
  | { ok: "skipped"; reason: string }
  | { ok: false; error: string };

/** One finished outbox call, as the ticket shows it. */
export interface DeliveryRecord {
  /** The outbound message the call delivered, if any. */
  messageId?: string;
  /** Unique per call: a failure notice is written once. */
  failureId: string;
  label: string;
  outcome: FinalDeliveryOutcome;
}

/**
 * Make finished deliveries visible on the ticket: each message's status, and a system message per
 * failure. Returns whether the ticket changed (a notice to a team that went through changes nothing).
 */
export async function recordDeliveryOutcomes(
  db: Database,
  ticketNumber: number,
  records: readonly DeliveryRecord[],
  now: number,
): Promise<boolean> {
  const statements = records.flatMap(({ messageId, failureId, label, outcome }): Statement[] => [
    ...(messageId === undefined
      ? []
      : [
          db
            .update(messages)
            .set(
              outcome.ok === true
                ? {
                    deliveryStatus: "sent",
                    deliveryError: null,
                    externalId: sql`coalesce(${messages.externalId}, ${outcome.externalId ?? null})`,
                  }
                : outcome.ok === "skipped"
                  ? { deliveryStatus: "skipped", deliveryError: outcome.reason }
                  : { deliveryStatus: "failed", deliveryError: outcome.error },
            )
            .where(and(eq(messages.id, messageId), eq(messages.ticketNumber, ticketNumber))),
        ]),
    ...(outcome.ok !== false
      ? []
      : [
          db
            .insert(messages)
            .values({
              id: `delivery-failed:${ticketNumber}:${failureId}`,
              ticketNumber,
              direction: "outbound",
              kind: "system",
              author: "switchboard",
              text: `Delivery failed: ${label} — ${outcome.error}`,
              createdAt: now,
              deliveryStatus: "failed",
              deliveryError: outcome.error,
            })
            .onConflictDoNothing(),
        ]),
  ]);
  await batchAll(db, statements);
  return statements.length > 0;
}
