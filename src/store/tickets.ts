import { and, asc, desc, eq, inArray, is, SQL, sql } from "drizzle-orm";
import type { Channel, Priority } from "../domain/inbound";
import { subjectFilterProblem, subjectPattern } from "../domain/search";
import type { StepsAt } from "../domain/sla";
import { iso, TICKET_PREFIX, type TicketStatus, type TicketView, ticketKey } from "../domain/ticket";
import { type ConfigRow, configQuery } from "./config";
import { batch, batchAround, type Database, type Statement } from "./db";
import { guardedInsert } from "./guarded";
import { rebuildKnowledgeBaseEntry, removeFromKnowledgeBase } from "./knowledge-base";
import { prepared, slot, slots, slotValues } from "./prepared";
import { keepPromise, promiseQueueDue } from "./promises";
import { promotionUpdate } from "./quarantine";
import {
  attachments,
  escalations,
  idempotencyKeys,
  improvements,
  messages,
  QUEUE_PENDING,
  QUEUE_RESOLVED,
  quarantine,
  surveys,
  threadKeys,
  tickets,
} from "./schema";
import { newTicketDebtInsert, paidDebtDeletes, timerDebtInsert } from "./timer-syncs";

export { QUEUE_PENDING, QUEUE_RESOLVED };

export type TicketRow = typeof tickets.$inferSelect;
export type NewTicketRow = typeof tickets.$inferInsert;
export type NewMessageRow = typeof messages.$inferInsert;
export type MessageRow = typeof messages.$inferSelect;
export type NewAttachmentRow = typeof attachments.$inferInsert;

/** The ticket a statement in the same batch just inserted: D1 runs a batch as one serialised transaction. */
const JUST_INSERTED = sql`(select max(${tickets.number}) from ${tickets})`;

/** A message's idempotency record (every message reads it first: built once, prepared.ts). */
function idempotencyQuery(db: Database, channel: Channel, key: string) {
  return prepared(
    db,
    "idempotency:select",
    (d) =>
      d
        .select()
        .from(idempotencyKeys)
        .where(and(eq(idempotencyKeys.channel, slot("channel")), eq(idempotencyKeys.key, slot("key"))))
        .limit(1),
    { channel, key },
  );
}

export async function findIdempotencyRecord(db: Database, channel: Channel, key: string) {
  const [rows] = await batch(db, [idempotencyQuery(db, channel, key)]);
  return rows[0];
}

/** The thread-key rows for `keys` on a channel (each key once). */
function threadKeysQuery<T extends Parameters<Database["select"]>[0]>(
  db: Database,
  fields: NonNullable<T>,
  channel: Channel,
  keys: readonly string[],
) {
  return db
    .select(fields)
    .from(threadKeys)
    .where(and(eq(threadKeys.channel, channel), inArray(threadKeys.key, [...new Set(keys)])));
}

/** The row of the first of `keys`, in the caller's order, that has one, and that key's position. */
function firstMatching<R extends { key: string }>(keys: readonly string[], rows: readonly R[]) {
  for (const [index, key] of keys.entries()) {
    const row = rows.find((r) => r.key === key);
    if (row !== undefined) return { row, index };
  }
  return null;
}

export type IdempotencyRecord = NonNullable<Awaited<ReturnType<typeof findIdempotencyRecord>>>;

/** What intake needs to know before it decides anything, read in one D1 round trip. */
export interface IntakeLookup {
  seen: IdempotencyRecord | undefined;
  /** The stored routing document's row, when the caller asked for it. */
  configRow: ConfigRow | undefined;
  /** The ticket the first matching thread key (in the caller's order) belongs to, and that key's position. */
  thread: { ticket: TicketRow; index: number } | null;
}

/**
 * The idempotency record, the routing configuration (unless `withConfig` is false) and the ticket
 * behind the message's thread keys (joined, so the ticket comes with its key), as one batch: one
 * round trip instead of three (four when the message joins a ticket).
 */
export async function lookupForIntake(
  db: Database,
  channel: Channel,
  idempotencyKey: string,
  keys: readonly string[],
  withConfig: boolean,
): Promise<IntakeLookup> {
  const seenQuery = idempotencyQuery(db, channel, idempotencyKey);
  const wanted = [...new Set(keys)];
  const threadQuery = prepared(
    db,
    `thread:lookup:${wanted.length}`,
    (d) =>
      d
        .select({ key: threadKeys.key, ticket: tickets })
        .from(threadKeys)
        .where(
          and(
            eq(threadKeys.channel, slot("channel")),
            inArray(
              threadKeys.key,
              wanted.map((_, i) => slot(`k${i}`)),
            ),
          ),
        )
        .innerJoin(tickets, eq(tickets.number, threadKeys.ticketNumber)),
    { channel, ...Object.fromEntries(wanted.map((k, i) => [`k${i}`, k])) },
  );
  // Only what is needed goes into the batch: its reads, and after them the deletes of timer debts
  // this isolate's earlier writes have paid (timer-syncs.ts, paidDebtDeletes), so those cost no
  // round trip of their own.
  const paid = paidDebtDeletes(db);
  let seenRows: IdempotencyRecord[];
  let configRows: ConfigRow[] = [];
  let threadRows: { key: string; ticket: TicketRow }[] = [];
  try {
    if (withConfig && keys.length > 0) {
      [seenRows, configRows, threadRows] = await batch(db, [
        seenQuery,
        configQuery(db),
        threadQuery,
        ...paid.statements,
      ]);
    } else if (withConfig) {
      [seenRows, configRows] = await batch(db, [seenQuery, configQuery(db), ...paid.statements]);
    } else if (keys.length > 0) {
      [seenRows, threadRows] = await batch(db, [seenQuery, threadQuery, ...paid.statements]);
    } else if (paid.statements.length > 0) {
      [seenRows] = await batch(db, [seenQuery, ...paid.statements]);
    } else {
      [seenRows] = await batch(db, [seenQuery]);
    }
  } catch (error) {
    paid.failed();
    throw error;
  }
  const seen = seenRows[0];
  const configRow = configRows[0];
  const match = firstMatching(keys, threadRows);
  return {
    seen,
    configRow,
    thread: match === null ? null : { ticket: match.row.ticket, index: match.index },
  };
}

/** The first of `keys` (in the caller's order) that a ticket already answers to, and its position. */
export async function findThread(
  db: Database,
  channel: Channel,
  keys: readonly string[],
): Promise<{ ticketNumber: number; index: number } | null> {
  if (keys.length === 0) return null;
  const rows = await threadKeysQuery(
    db,
    { key: threadKeys.key, ticketNumber: threadKeys.ticketNumber },
    channel,
    keys,
  ).all();
  const match = firstMatching(keys, rows);
  return match === null ? null : { ticketNumber: match.row.ticketNumber, index: match.index };
}

/** A ticket's thread keys on its channel, newest first (they double as reply addresses). */
export async function ticketThreadKeys(
  db: Database,
  channel: Channel,
  ticketNumber: number,
): Promise<string[]> {
  const rows = await db
    .select({ key: threadKeys.key })
    .from(threadKeys)
    .where(and(eq(threadKeys.ticketNumber, ticketNumber), eq(threadKeys.channel, channel)))
    .orderBy(desc(threadKeys.createdAt), desc(sql`rowid`))
    .limit(50)
    .all();
  return rows.map((r) => r.key);
}

/** A ticket's message by its channel id (index `messages_external`). */
export async function findMessageByExternalId(db: Database, ticketNumber: number, externalId: string) {
  return db
    .select({ id: messages.id, kind: messages.kind, text: messages.text })
    .from(messages)
    .where(and(eq(messages.ticketNumber, ticketNumber), eq(messages.externalId, externalId)))
    .get();
}

export async function getTicketRow(db: Database, number: number): Promise<TicketRow | undefined> {
  return db.select().from(tickets).where(eq(tickets.number, number)).get();
}

export interface NewTicketWrite {
  /** What the new ticket owes its timer (`timer_syncs`); `placeholder` stands for its number in the payload. */
  timerDebt: { id: string; payload: string; placeholder: string };
  channel: Channel;
  idempotencyKey: string;
  ticket: Omit<NewTicketRow, "number">;
  threadKeys: string[];
  message: Omit<NewMessageRow, "ticketNumber">;
  attachments: Omit<NewAttachmentRow, "ticketNumber">[];
  /** Acknowledgement recorded as an outbound system message; `{key}` is replaced by the new ticket key. */
  acknowledgement?: {
    id: string;
    template: string;
    createdAt: number;
    deliveryStatus: string;
    externalId?: string;
  };
  /** The quarantined message this ticket is opened from: marked with the ticket in the same batch. */
  promotedFrom?: string;
}

/** Everything one new-ticket message writes, in one atomic batch. Returns the new ticket's row. */
export async function insertNewTicket(db: Database, write: NewTicketWrite): Promise<TicketRow> {
  const now = write.ticket.createdAt;
  const [inserted] = await batch(db, [
    ticketInsert(db, write.ticket),
    prepared(
      db,
      "idempotency:insert-new",
      (d) =>
        d.insert(idempotencyKeys).values({
          channel: slot("channel"),
          key: slot("key"),
          ticketNumber: JUST_INSERTED,
          messageId: slot("messageId"),
          created: true,
          responseDueAt: slot("responseDueAt"),
          createdAt: slot("createdAt"),
        }),
      {
        channel: write.channel,
        key: write.idempotencyKey,
        messageId: write.message.id,
        responseDueAt: write.ticket.responseDueAt ?? null,
        createdAt: now,
      },
    ),
    ...write.threadKeys.map((key) =>
      prepared(
        db,
        "thread-key:insert-new",
        (d) =>
          d.insert(threadKeys).values({
            channel: slot("channel"),
            key: slot("key"),
            ticketNumber: JUST_INSERTED,
            createdAt: slot("createdAt"),
          }),
        { channel: write.channel, key, createdAt: now },
      ),
    ),
    // The customer's message and the acknowledgement are one statement (two rows): every statement
    // of a batch has a fixed cost, and this batch runs for every new ticket.
    newTicketMessagesInsert(db, write),
    ...write.attachments.map((a) => db.insert(attachments).values({ ...a, ticketNumber: JUST_INSERTED })),
    newTicketDebtInsert(db, { ...write.timerDebt, createdAt: now }, JUST_INSERTED),
    ...(write.promotedFrom === undefined ? [] : [promotionUpdate(db, write.promotedFrom, JUST_INSERTED)]),
  ]);
  const row = inserted[0];
  if (row === undefined) throw new Error("ticket insert returned no row");
  return row;
}

/** A value drizzle writes as SQL rather than as a parameter (none on the intake path today). */
function hasSql(row: Record<string, unknown>): boolean {
  return Object.values(row).some((v) => is(v, SQL));
}

/** The new ticket's row, returned: one prepared statement per set of columns given (prepared.ts). */
function ticketInsert(db: Database, ticket: NewTicketWrite["ticket"]) {
  if (hasSql(ticket)) return db.insert(tickets).values(ticket).returning();
  const { shape, values } = slots(ticket);
  return prepared(
    db,
    `ticket:insert:${shape}`,
    (d) => d.insert(tickets).values(values).returning(),
    slotValues(ticket),
  );
}

/** The customer's message and (if any) the acknowledgement, as one two-row insert. */
function newTicketMessagesInsert(db: Database, write: NewTicketWrite) {
  const message = { ...write.message, ticketNumber: undefined };
  const ack = write.acknowledgement;
  const [before = "", after = ""] = ack?.template.split("{key}") ?? [];
  const ackValues =
    ack === undefined
      ? undefined
      : {
          a_id: ack.id,
          a_before: before,
          a_after: after,
          a_createdAt: ack.createdAt,
          a_deliveryStatus: ack.deliveryStatus,
          a_externalId: ack.externalId ?? null,
        };
  if (hasSql(message)) {
    return db
      .insert(messages)
      .values([
        { ...write.message, ticketNumber: JUST_INSERTED },
        ...(ackValues === undefined ? [] : [acknowledgementRow((name) => ackValues[name])]),
      ]);
  }
  const { shape, values } = slots(message, "m_");
  return prepared(
    db,
    `message:insert-new${ack === undefined ? "" : "-ack"}:${shape}`,
    (d) =>
      d
        .insert(messages)
        .values([
          { ...values, ticketNumber: JUST_INSERTED },
          ...(ack === undefined ? [] : [acknowledgementRow(slot)]),
        ]),
    { ...slotValues(message, "m_"), ...ackValues },
  );
}

type AckValueName = "a_id" | "a_before" | "a_after" | "a_createdAt" | "a_deliveryStatus" | "a_externalId";

/**
 * The acknowledgement's row, `{key}` in its template standing for the new ticket's key; `value`
 * gives each part: the value itself, or its placeholder in a prepared statement.
 */
function acknowledgementRow<V>(value: (name: AckValueName) => V) {
  return {
    id: value("a_id") as string,
    ticketNumber: JUST_INSERTED,
    direction: "outbound" as const,
    kind: "system" as const,
    author: "switchboard",
    text: sql`${value("a_before")} || ${`${TICKET_PREFIX}-`} || ${JUST_INSERTED} || ${value("a_after")}`,
    createdAt: value("a_createdAt") as number,
    deliveryStatus: value("a_deliveryStatus") as string,
    externalId: value("a_externalId") as string | null,
  };
}

export interface AppendWrite {
  /** What the change owes the ticket's timer (`timer_syncs`). */
  timerDebt: { id: string; payload: string };
  channel: Channel;
  idempotencyKey: string;
  ticketNumber: number;
  newThreadKeys: string[];
  message: NewMessageRow;
  attachments: NewAttachmentRow[];
  /** Set when this is a customer message: starts a clock if none runs, reopens a pending/resolved ticket. */
  customerClock?: { startedAt: number; dueAt: number; stepsAt?: StepsAt | null };
  /** Set when this is a staff response that arrived natively on the channel. */
  staffResponseAt?: number;
  /** Our outbound messages (by externalId) this message reports as undeliverable. */
  bounceOf?: string[];
  /**
   * The message looks security-sensitive: the ticket becomes `private` and `security` in the same
   * batch (out of the knowledge base), with an internal note saying why. The notice to the
   * security team travels in `timerDebt`.
   */
  security?: { note: NewMessageRow };
  now: number;
}

/** A message that threads into an existing ticket, in one atomic batch. Returns the ticket after it. */
export async function appendToTicket(db: Database, write: AppendWrite): Promise<TicketRow> {
  const n = write.ticketNumber;
  const statements: Statement[] = [
    prepared(
      db,
      "idempotency:insert-append",
      (d) =>
        d.insert(idempotencyKeys).values({
          channel: slot("channel"),
          key: slot("key"),
          ticketNumber: slot("ticketNumber"),
          messageId: slot("messageId"),
          created: false,
          createdAt: slot("createdAt"),
        }),
      {
        channel: write.channel,
        key: write.idempotencyKey,
        ticketNumber: n,
        messageId: write.message.id,
        createdAt: write.now,
      },
    ),
    timerDebtInsert(db, { ...write.timerDebt, ticketNumber: n, createdAt: write.now }),
    messageInsert(db, write.message),
    ...write.attachments.map((a) => db.insert(attachments).values(a)),
    ...write.newThreadKeys.map((key) =>
      prepared(
        db,
        "thread-key:insert-append",
        (d) =>
          d
            .insert(threadKeys)
            .values({
              channel: slot("channel"),
              key: slot("key"),
              ticketNumber: slot("ticketNumber"),
              createdAt: slot("createdAt"),
            })
            .onConflictDoNothing(),
        { channel: write.channel, key, ticketNumber: n, createdAt: write.now },
      ),
    ),
    // A customer writing again reopens a resolved ticket: it leaves the knowledge base until resolved
    // again, and a survey still open asks about a resolution that no longer holds.
    ...(write.customerClock === undefined && write.security === undefined
      ? []
      : [db.run(removeFromKnowledgeBase(n))]),
    ...(write.customerClock === undefined ? [] : [db.run(revokeOpenSurveys(n, write.now))]),
    ...(write.staffResponseAt === undefined ? [] : [keepPromise(db, n, write.staffResponseAt)]),
    ...(write.security === undefined ? [] : [db.insert(messages).values(write.security.note)]),
    ...(write.bounceOf === undefined || write.bounceOf.length === 0
      ? []
      : [
          db
            .update(messages)
            .set({
              deliveryStatus: "failed",
              deliveryError: "bounced: the recipient's mail server refused it",
            })
            .where(
              and(
                eq(messages.ticketNumber, n),
                eq(messages.direction, "outbound"),
                inArray(messages.externalId, write.bounceOf),
              ),
            ),
        ]),
  ];
  const update = appendUpdate(db, write);
  const [row] = await batchAround(db, statements, update);
  if (row === undefined) throw new Error(`ticket ${n} vanished during append`);
  return row;
}

/** One message row: one prepared statement per set of columns given (prepared.ts). */
function messageInsert(db: Database, message: NewMessageRow) {
  if (hasSql(message)) return db.insert(messages).values(message);
  const { shape, values } = slots(message);
  return prepared(
    db,
    `message:insert:${shape}`,
    (d) => d.insert(messages).values(values),
    slotValues(message),
  );
}

export type TicketSet = { [K in keyof NewTicketRow]?: NewTicketRow[K] | SQL };

/**
 * Surveys of the ticket nobody answered stop counting (the ticket was reopened): an answer to one
 * is refused with a page that says why.
 */
export function revokeOpenSurveys(ticketNumber: number, now: number, guard: SQL = sql`1`): SQL {
  return sql`update surveys set revoked_at = ${now}
    where ticket_number = ${ticketNumber} and answered_at is null and revoked_at is null and ${guard}`;
}

/**
 * The ticket's update for a message that joins it, returning the row: one prepared statement per
 * kind of message (customer, staff, other; security or not), its values in placeholders.
 */
function appendUpdate(db: Database, write: AppendWrite) {
  const kind =
    write.customerClock !== undefined ? "customer" : write.staffResponseAt !== undefined ? "staff" : "other";
  const steps = write.customerClock?.stepsAt;
  return prepared(
    db,
    `ticket:append:${kind}:${write.security === undefined ? "public" : "security"}`,
    (d) =>
      d
        .update(tickets)
        .set(
          ticketUpdateForMessage(write, {
            now: sql`${slot("now")}`,
            startedAt: sql`${slot("startedAt")}`,
            dueAt: sql`${slot("dueAt")}`,
            steps: sql`${slot("steps")}`,
            staffAt: sql`${slot("staffAt")}`,
          }),
        )
        .where(eq(tickets.number, slot("number")))
        .returning(),
    {
      number: write.ticketNumber,
      now: write.now,
      ...(kind === "customer"
        ? {
            startedAt: write.customerClock?.startedAt,
            dueAt: write.customerClock?.dueAt,
            steps: steps === undefined || steps === null ? null : JSON.stringify(steps),
          }
        : {}),
      ...(kind === "staff" ? { staffAt: write.staffResponseAt } : {}),
    },
  );
}

/** The values of a message's ticket update, as SQL (placeholders, from `appendUpdate`). */
interface AppendValues {
  now: SQL;
  startedAt: SQL;
  dueAt: SQL;
  steps: SQL;
  staffAt: SQL;
}

function ticketUpdateForMessage(write: AppendWrite, v: AppendValues): TicketSet {
  const base = {
    updatedAt: v.now,
    revision: sql`${tickets.revision} + 1`,
    ...(write.security === undefined ? {} : { visibility: "private" as const, security: true }),
  };
  if (write.customerClock !== undefined) {
    const { startedAt, dueAt, steps } = v;
    // A clock starts only when no reply is owed; SQL decides, so two racing messages start one clock.
    return {
      ...base,
      status: "open",
      resolvedAt: null,
      clockSeq: sql`case when ${tickets.clockStartedAt} is null then ${tickets.clockSeq} + 1 else ${tickets.clockSeq} end`,
      clockStartedAt: sql`coalesce(${tickets.clockStartedAt}, ${startedAt})`,
      responseDueAt: sql`coalesce(${tickets.responseDueAt}, ${dueAt})`,
      // A promised update still stands (a customer message does not keep it): the earlier one sorts.
      queueDueAt: promiseQueueDue(sql`coalesce(${tickets.responseDueAt}, ${dueAt})`),
      clockStepsAt: sql`case when ${tickets.clockStartedAt} is null then ${steps} else ${tickets.clockStepsAt} end`,
    };
  }
  if (write.staffResponseAt !== undefined) return { ...base, ...staffResponseUpdate(v.staffAt) };
  return base;
}

/** The deadline of the reply owed on this ticket now; null while none is owed (pending or resolved). */
export function owedResponseDueAt(row: TicketRow): number | null {
  return row.queueDueAt >= QUEUE_PENDING ? null : row.responseDueAt;
}

/** A staff public reply stops the running clock, keeps a promised update, and moves open → pending. */
export function staffResponseUpdate(at: number | SQL) {
  return {
    status: sql`case when ${tickets.status} = 'open' then 'pending' else ${tickets.status} end`,
    firstResponseAt: sql`coalesce(${tickets.firstResponseAt}, ${at})`,
    clockStartedAt: null,
    responseDueAt: null,
    clockStepsAt: null,
    queueDueAt: sql`case when ${tickets.status} = 'resolved' then ${QUEUE_RESOLVED} else ${QUEUE_PENDING} end`,
    // It keeps any promised update too (SPEC §16): the promise's row is marked in the same batch.
    nextUpdateDueAt: null,
  } as const;
}

/** The band of `queue_due_at` a set of statuses lives in (see QUEUE_PENDING), as an index range. */
export function queueRange(statuses: readonly TicketStatus[]): SQL | null {
  const wanted = new Set(statuses);
  const open = wanted.has("open");
  const pending = wanted.has("pending");
  const resolved = wanted.has("resolved");
  if (open && pending && resolved) return null;
  if (open && pending) return sql`${tickets.queueDueAt} <= ${QUEUE_PENDING}`;
  if (open && resolved) return null;
  if (open) return sql`${tickets.queueDueAt} < ${QUEUE_PENDING}`;
  if (pending && resolved) return null;
  // A pending ticket with a promised update sorts at its promise (below the band): index
  // `tickets_status_queue` serves the status filter alone.
  if (pending) return null;
  return sql`${tickets.queueDueAt} = ${QUEUE_RESOLVED}`;
}

export interface TicketFilters {
  status?: TicketStatus[];
  team?: string;
  channel?: Channel;
  priority?: Priority;
  assignee?: string;
  breached?: boolean;
  q?: string;
  cursor?: { dueAt: number; number: number };
  limit: number;
}

/** The queue: most urgent deadline first, then oldest ticket; keyset-paginated on (queue_due_at, number). */
export async function listTicketRows(db: Database, filters: TicketFilters): Promise<TicketRow[]> {
  const where: SQL[] = [];
  if (filters.status !== undefined && filters.status.length > 0) {
    const range = queueRange(filters.status);
    const another =
      filters.team ?? filters.channel ?? filters.priority ?? filters.assignee ?? filters.breached;
    if (range !== null && another !== undefined) {
      // The status is a range of queue_due_at here, and the other filter has its own
      // (x, queue_due_at, number) index: that index reads limit + 1 rows. Left indexable, the
      // status would win the planner's choice (tickets_status_queue) and skip every ticket of
      // that status on other teams or channels (126 rows for resolved GitHub tickets at 100,000).
      // The unary + keeps the status a plain condition, out of the planner's index choice.
      where.push(
        sql`+${tickets.status} in (${sql.join(
          filters.status.map((status) => sql`${status}`),
          sql`, `,
        )})`,
      );
    } else {
      where.push(inArray(tickets.status, filters.status));
    }
    if (range !== null) where.push(range);
  }
  if (filters.team !== undefined) where.push(eq(tickets.team, filters.team));
  if (filters.channel !== undefined) where.push(eq(tickets.channel, filters.channel));
  if (filters.priority !== undefined) where.push(eq(tickets.priority, filters.priority));
  if (filters.assignee !== undefined) where.push(eq(tickets.assignee, filters.assignee));
  if (filters.breached !== undefined) where.push(eq(tickets.breached, filters.breached));
  if (filters.q !== undefined) {
    // Callers validate `q` first (schemas.ts): an over-long pattern here is a bug, not bad input.
    const subject = subjectPattern(filters.q);
    if (!subject.ok) throw new Error(subjectFilterProblem(subject.bytes));
    if (subject.pattern !== null) where.push(sql`${tickets.subject} like ${subject.pattern} escape '\\'`);
  }
  if (filters.cursor !== undefined) {
    const { dueAt, number } = filters.cursor;
    // A row-value comparison is one index range; the equivalent OR of two conditions is not.
    where.push(sql`(${tickets.queueDueAt}, ${tickets.number}) > (${dueAt}, ${number})`);
  }
  return db
    .select()
    .from(tickets)
    .where(and(...where))
    .orderBy(asc(tickets.queueDueAt), asc(tickets.number))
    .limit(filters.limit)
    .all();
}

/** The queue filters a page is asked with (API query or console form). */
export interface QueueQuery {
  status: TicketStatus[] | undefined;
  team?: string | undefined;
  channel?: Channel | undefined;
  priority?: Priority | undefined;
  assignee?: string | undefined;
  breached?: boolean | undefined;
  q?: string | undefined;
  limit: number;
}

/**
 * One page of the queue: `limit` rows (reading `limit + 1` to know whether there are more) and
 * the keyset position the next page starts after, or null on the last page.
 */
export async function queuePage(
  db: Database,
  query: QueueQuery,
  cursor: { dueAt: number; number: number } | undefined,
): Promise<{ rows: TicketRow[]; next: { dueAt: number; number: number } | null }> {
  const { status, team, channel, priority, assignee, breached, q, limit } = query;
  const rows = await listTicketRows(db, {
    ...(status === undefined ? {} : { status }),
    ...(team === undefined ? {} : { team }),
    ...(channel === undefined ? {} : { channel }),
    ...(priority === undefined ? {} : { priority }),
    ...(assignee === undefined ? {} : { assignee }),
    ...(breached === undefined ? {} : { breached }),
    ...(q === undefined ? {} : { q }),
    ...(cursor === undefined ? {} : { cursor }),
    limit: limit + 1,
  });
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    rows: page,
    next: rows.length > limit && last !== undefined ? { dueAt: last.queueDueAt, number: last.number } : null,
  };
}

export interface TicketViewOptions {
  publicUrl: string;
}

export async function getTicketView(
  db: Database,
  number: number,
  options: TicketViewOptions,
): Promise<TicketView | null> {
  const [ticketRows, messageRows, attachmentRows, escalationRows, improvementRows, surveyRows] =
    await db.batch([
      db.select().from(tickets).where(eq(tickets.number, number)),
      db
        .select()
        .from(messages)
        .where(eq(messages.ticketNumber, number))
        .orderBy(asc(messages.createdAt), asc(messages.id)),
      db.select().from(attachments).where(eq(attachments.ticketNumber, number)),
      db
        .select()
        .from(escalations)
        .where(eq(escalations.ticketNumber, number))
        .orderBy(asc(escalations.at), asc(escalations.dueAt), asc(escalations.dedupeKey)),
      db
        .select()
        .from(improvements)
        .where(eq(improvements.ticketNumber, number))
        .orderBy(asc(improvements.createdAt)),
      db
        .select()
        .from(surveys)
        .where(eq(surveys.ticketNumber, number))
        .orderBy(desc(surveys.sentAt))
        .limit(1),
    ]);
  const row = ticketRows[0];
  if (row === undefined) return null;
  const base = options.publicUrl.replace(/\/+$/, "");
  return {
    ...ticketSummary(row),
    messages: messageRows.map((m) => ({
      id: m.id,
      direction: m.direction,
      kind: m.kind,
      author: m.author,
      sender: m.sender,
      subject: m.subject,
      text: m.text,
      html: m.html,
      createdAt: iso(m.createdAt) ?? "",
      threadedBy: m.threadedBy,
      attachments: attachmentRows
        .filter((a) => a.messageId === m.id)
        .map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          size: a.size,
          url: `${base}/v1/attachments/${a.id}`,
          contentId: a.contentId,
        })),
      delivery: m.deliveryStatus === null ? null : { status: m.deliveryStatus, error: m.deliveryError },
      editedAt: iso(m.editedAt),
      deletedAt: iso(m.deletedAt),
    })),
    escalations: escalationRows.map((e) => ({
      kind: e.kind,
      level: e.level,
      target: e.target,
      at: iso(e.at) ?? "",
      detail: e.detail,
      dueAt: iso(e.dueAt),
    })),
    customerEffort:
      surveyRows[0] === undefined
        ? null
        : {
            score: surveyRows[0].score,
            sentAt: iso(surveyRows[0].sentAt) ?? "",
            answeredAt: iso(surveyRows[0].answeredAt),
          },
    improvements: improvementRows.map((i) => ({
      kind: i.kind,
      title: i.title,
      url: i.url,
      at: iso(i.createdAt) ?? "",
      state: i.state,
      shippedAt: iso(i.shippedAt),
      source: i.source,
      ref: i.ref,
    })),
  };
}

/** The ticket without its conversation: what the queue lists. */
export function ticketSummary(
  row: TicketRow,
): Omit<TicketView, "messages" | "escalations" | "improvements" | "customerEffort"> {
  return {
    key: ticketKey(row.number),
    number: row.number,
    channel: row.channel,
    subject: row.subject,
    status: row.status,
    priority: row.priority,
    policy: row.policy,
    team: row.team,
    assignee: row.assignee,
    customer: row.customer,
    visibility: row.visibility,
    escalationLevel: row.escalationLevel,
    requester: { name: row.requesterName, email: row.requesterEmail, handle: row.requesterHandle },
    createdAt: iso(row.createdAt) ?? "",
    firstResponseAt: iso(row.firstResponseAt),
    resolvedAt: iso(row.resolvedAt),
    responseDueAt: iso(row.responseDueAt),
    nextUpdateDueAt: iso(row.nextUpdateDueAt),
    breached: row.breached,
    security: row.security,
    senderUnverified: row.senderUnverified,
  };
}

export interface MessageChangeWrite {
  channel: Channel;
  idempotencyKey: string;
  ticketNumber: number;
  /** The channel's id of the message that changed (what `externalId` holds). */
  externalId: string;
  change: { type: "edit"; text: string; html?: string | null } | { type: "delete" };
  /** New ticket subject, written in the same batch. */
  subject?: string;
  /**
   * The ticket becomes `private` in the same batch: an edit that looks security-sensitive (also
   * `security`, with the notice's timer debt and an internal note, written only if the ticket was
   * not already private and security), or a thread deleted at its source.
   */
  makePrivate?:
    | { reason: "security"; timerDebt: { id: string; payload: string }; note: NewMessageRow }
    | { reason: "deleted"; note: NewMessageRow };
  at: number;
}

export interface MessageChangeOutcome {
  /** How many messages changed (0 when we never stored the original). */
  changed: number;
  /** The ticket after `makePrivate`, when this batch made the change (undefined when it had nothing to do). */
  madePrivate: TicketRow | undefined;
}

/**
 * An edit or deletion of a message we already stored, with its idempotency key, in one batch. The
 * ticket's knowledge-base entry is rebuilt in the same batch from what the messages say now.
 */
export async function changeMessage(db: Database, write: MessageChangeWrite): Promise<MessageChangeOutcome> {
  const n = write.ticketNumber;
  const set =
    write.change.type === "edit"
      ? {
          text: write.change.text,
          ...(write.change.html === undefined ? {} : { html: write.change.html }),
          editedAt: write.at,
        }
      : { deletedAt: write.at };
  const recorded = db.insert(idempotencyKeys).values({
    channel: write.channel,
    key: write.idempotencyKey,
    ticketNumber: n,
    created: false,
    createdAt: write.at,
  });
  const changed = db
    .update(messages)
    .set(set)
    .where(and(eq(messages.ticketNumber, n), eq(messages.externalId, write.externalId)))
    .returning({ id: messages.id });
  const rest: Statement[] = [
    ...(write.subject === undefined ? [] : [ticketSubjectUpdate(db, n, write.subject, write.at)]),
    ...rebuildKnowledgeBaseEntry(n).map((s) => db.run(s)),
  ];
  const { makePrivate } = write;
  if (makePrivate === undefined) {
    const [, updated] = await batch(db, [recorded, changed, ...rest]);
    return { changed: updated.length, madePrivate: undefined };
  }
  const security = makePrivate.reason === "security";
  const needed = security
    ? sql`(${tickets.visibility} = 'public' or ${tickets.security} = 0)`
    : sql`${tickets.visibility} = 'public'`;
  const update = db
    .update(tickets)
    .set({
      visibility: "private",
      ...(security ? { security: true } : {}),
      updatedAt: write.at,
      revision: sql`${tickets.revision} + 1`,
    })
    .where(and(eq(tickets.number, n), needed))
    .returning();
  if (makePrivate.reason === "deleted") {
    const [, updated, [row]] = await batch(db, [
      recorded,
      changed,
      update,
      db.insert(messages).values(makePrivate.note),
      ...rest,
    ]);
    return { changed: updated.length, madePrivate: row };
  }
  // The debt and the note are written exactly when the update right after them has something to change.
  const guard = sql`exists (select 1 from ${tickets} where ${tickets.number} = ${n} and ${needed})`;
  const [, updated, , , [row]] = await batch(db, [
    recorded,
    changed,
    timerDebtInsert(db, { ...makePrivate.timerDebt, ticketNumber: n, createdAt: write.at }, guard),
    db.run(guardedInsert(messages, makePrivate.note, guard)),
    update,
    ...rest,
  ]);
  return { changed: updated.length, madePrivate: row };
}

export interface QuarantineWrite {
  channel: Channel;
  idempotencyKey: string;
  reason: string;
  sender: string | null;
  recipient: string | null;
  subject: string | null;
  text: string | null;
  attachmentCount: number;
  storageKey: string | null;
  receivedAt: number;
}

/** Keep a message that must not open a ticket (loop protection), once per idempotency key. */
export async function insertQuarantine(db: Database, write: QuarantineWrite): Promise<string> {
  const id = crypto.randomUUID();
  await db.batch([
    db.insert(idempotencyKeys).values({
      channel: write.channel,
      key: write.idempotencyKey,
      ticketNumber: null,
      messageId: id,
      created: false,
      createdAt: write.receivedAt,
    }),
    db.insert(quarantine).values({
      id,
      channel: write.channel,
      reason: write.reason,
      sender: write.sender,
      recipient: write.recipient,
      subject: write.subject,
      externalId: write.idempotencyKey,
      storageKey: write.storageKey,
      receivedAt: write.receivedAt,
      text: write.text === null ? null : write.text.slice(0, 64 * 1024),
      attachmentCount: write.attachmentCount,
    }),
  ]);
  return id;
}

/** The ticket's subject follows its source (an edited GitHub issue title). */
export function ticketSubjectUpdate(db: Database, ticketNumber: number, subject: string, at: number) {
  return db.update(tickets).set({ subject, updatedAt: at }).where(eq(tickets.number, ticketNumber));
}

export type MessagesAfter = { found: false } | { found: true; newer: MessageRow[] };

/**
 * The messages of a ticket after `messageId` in conversation order (created_at, id), for the
 * collision check of a reply (`ifLastMessageId`). System messages (acknowledgements, surveys,
 * delivery notices) are not news an agent must read before replying, so they never count.
 * Served by messages_ticket (ticket_number, created_at).
 */
export async function messagesAfter(db: Database, number: number, messageId: string): Promise<MessagesAfter> {
  const [given] = await db
    .select({ createdAt: messages.createdAt, id: messages.id })
    .from(messages)
    .where(and(eq(messages.ticketNumber, number), eq(messages.id, messageId)))
    .limit(1);
  if (given === undefined) return { found: false };
  const newer = await db
    .select()
    .from(messages)
    .where(
      and(
        eq(messages.ticketNumber, number),
        sql`${messages.createdAt} >= ${given.createdAt}`,
        sql`(${messages.createdAt}, ${messages.id}) > (${given.createdAt}, ${given.id})`,
        sql`${messages.kind} <> 'system'`,
      ),
    )
    .orderBy(asc(messages.createdAt), asc(messages.id))
    .limit(50);
  return { found: true, newer };
}

/** Several tickets by number (a bulk action from the queue): one query on the primary key. */
export async function getTicketRows(db: Database, numbers: readonly number[]): Promise<TicketRow[]> {
  if (numbers.length === 0) return [];
  return db
    .select()
    .from(tickets)
    .where(inArray(tickets.number, [...numbers]))
    .all();
}
