import { and, asc, eq, gt, inArray, or, type SQL, sql } from "drizzle-orm";
import type { Channel, Priority } from "../domain/inbound";
import { iso, type TicketStatus, type TicketView, ticketKey } from "../domain/ticket";
import type { Database } from "./db";
import {
  attachments,
  escalations,
  idempotencyKeys,
  improvements,
  messages,
  NO_DEADLINE,
  threadKeys,
  tickets,
} from "./schema";

export type TicketRow = typeof tickets.$inferSelect;
export type NewTicketRow = typeof tickets.$inferInsert;
export type NewMessageRow = typeof messages.$inferInsert;
export type NewAttachmentRow = typeof attachments.$inferInsert;

/** The ticket a statement in the same batch just inserted: D1 runs a batch as one serialised transaction. */
const JUST_INSERTED = sql`(select max(${tickets.number}) from ${tickets})`;

export async function findIdempotencyRecord(db: Database, channel: Channel, key: string) {
  return db
    .select()
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.channel, channel), eq(idempotencyKeys.key, key)))
    .get();
}

/** The first of `keys` (in the caller's order) that a ticket already answers to, and its position. */
export async function findThread(
  db: Database,
  channel: Channel,
  keys: readonly string[],
): Promise<{ ticketNumber: number; index: number } | null> {
  if (keys.length === 0) return null;
  const rows = await db
    .select({ key: threadKeys.key, ticketNumber: threadKeys.ticketNumber })
    .from(threadKeys)
    .where(and(eq(threadKeys.channel, channel), inArray(threadKeys.key, [...new Set(keys)])))
    .all();
  for (const [index, key] of keys.entries()) {
    const row = rows.find((r) => r.key === key);
    if (row !== undefined) return { ticketNumber: row.ticketNumber, index };
  }
  return null;
}

/**
 * The thread key a ticket was opened under on its own channel (for Slack `<channel>:<thread ts>`,
 * where replies go). Served by `thread_keys_ticket`.
 */
export async function firstThreadKey(
  db: Database,
  channel: Channel,
  ticketNumber: number,
): Promise<string | null> {
  const row = await db
    .select({ key: threadKeys.key })
    .from(threadKeys)
    .where(and(eq(threadKeys.ticketNumber, ticketNumber), eq(threadKeys.channel, channel)))
    .orderBy(asc(threadKeys.createdAt), asc(threadKeys.key))
    .limit(1)
    .get();
  return row?.key ?? null;
}

export async function getTicketRow(db: Database, number: number): Promise<TicketRow | undefined> {
  return db.select().from(tickets).where(eq(tickets.number, number)).get();
}

export interface NewTicketWrite {
  channel: Channel;
  idempotencyKey: string;
  ticket: Omit<NewTicketRow, "number">;
  threadKeys: string[];
  message: Omit<NewMessageRow, "ticketNumber">;
  attachments: Omit<NewAttachmentRow, "ticketNumber">[];
  /** Acknowledgement recorded as an outbound system message; `{key}` is replaced by the new ticket key. */
  acknowledgement?: { id: string; template: string; createdAt: number; deliveryStatus: string };
}

/** Everything one new-ticket message writes, in one atomic batch. Returns the new ticket's row. */
export async function insertNewTicket(db: Database, write: NewTicketWrite): Promise<TicketRow> {
  const now = write.ticket.createdAt;
  const [inserted] = await db.batch([
    db.insert(tickets).values(write.ticket).returning(),
    db.insert(idempotencyKeys).values({
      channel: write.channel,
      key: write.idempotencyKey,
      ticketNumber: JUST_INSERTED,
      messageId: write.message.id,
      created: true,
      responseDueAt: write.ticket.responseDueAt ?? null,
      createdAt: now,
    }),
    ...write.threadKeys.map((key) =>
      db
        .insert(threadKeys)
        .values({ channel: write.channel, key, ticketNumber: JUST_INSERTED, createdAt: now }),
    ),
    db.insert(messages).values({ ...write.message, ticketNumber: JUST_INSERTED }),
    ...write.attachments.map((a) => db.insert(attachments).values({ ...a, ticketNumber: JUST_INSERTED })),
    ...(write.acknowledgement === undefined ? [] : [acknowledgementInsert(db, write.acknowledgement)]),
  ]);
  const row = inserted[0];
  if (row === undefined) throw new Error("ticket insert returned no row");
  return row;
}

function acknowledgementInsert(db: Database, ack: NonNullable<NewTicketWrite["acknowledgement"]>) {
  const [before, after = ""] = ack.template.split("{key}");
  return db.insert(messages).values({
    id: ack.id,
    ticketNumber: JUST_INSERTED,
    direction: "outbound",
    kind: "system",
    author: "switchboard",
    text: sql`${before ?? ""} || ${"SUP-"} || ${JUST_INSERTED} || ${after}`,
    createdAt: ack.createdAt,
    deliveryStatus: ack.deliveryStatus,
  });
}

export interface AppendWrite {
  channel: Channel;
  idempotencyKey: string;
  ticketNumber: number;
  newThreadKeys: string[];
  message: NewMessageRow;
  attachments: NewAttachmentRow[];
  /** Set when this is a customer message: starts a clock if none runs, reopens a pending/resolved ticket. */
  customerClock?: { startedAt: number; dueAt: number };
  /** Set when this is a staff response that arrived natively on the channel. */
  staffResponseAt?: number;
  now: number;
}

/** A message that threads into an existing ticket, in one atomic batch. Returns the ticket after it. */
export async function appendToTicket(db: Database, write: AppendWrite): Promise<TicketRow> {
  const n = write.ticketNumber;
  const statements = [
    db.insert(idempotencyKeys).values({
      channel: write.channel,
      key: write.idempotencyKey,
      ticketNumber: n,
      messageId: write.message.id,
      created: false,
      createdAt: write.now,
    }),
    db.insert(messages).values(write.message),
    ...write.attachments.map((a) => db.insert(attachments).values(a)),
    ...write.newThreadKeys.map((key) =>
      db
        .insert(threadKeys)
        .values({ channel: write.channel, key, ticketNumber: n, createdAt: write.now })
        .onConflictDoNothing(),
    ),
  ] as const;
  const update = db
    .update(tickets)
    .set(ticketUpdateForMessage(write))
    .where(eq(tickets.number, n))
    .returning();
  const results = await db.batch([...statements, update]);
  const after = results[results.length - 1] as TicketRow[];
  const row = after[0];
  if (row === undefined) throw new Error(`ticket ${n} vanished during append`);
  return row;
}

type TicketSet = { [K in keyof NewTicketRow]?: NewTicketRow[K] | SQL };

function ticketUpdateForMessage(write: AppendWrite): TicketSet {
  const base = { updatedAt: write.now, revision: sql`${tickets.revision} + 1` };
  if (write.customerClock !== undefined) {
    const { startedAt, dueAt } = write.customerClock;
    // A clock starts only when no reply is owed; SQL decides, so two racing messages start one clock.
    return {
      ...base,
      status: "open",
      resolvedAt: null,
      clockSeq: sql`case when ${tickets.clockStartedAt} is null then ${tickets.clockSeq} + 1 else ${tickets.clockSeq} end`,
      clockStartedAt: sql`coalesce(${tickets.clockStartedAt}, ${startedAt})`,
      responseDueAt: sql`coalesce(${tickets.responseDueAt}, ${dueAt})`,
      queueDueAt: sql`coalesce(${tickets.responseDueAt}, ${dueAt})`,
    };
  }
  if (write.staffResponseAt !== undefined) return { ...base, ...staffResponseUpdate(write.staffResponseAt) };
  return base;
}

/** A staff public reply stops the running clock and moves open → pending. */
export function staffResponseUpdate(at: number) {
  return {
    status: sql`case when ${tickets.status} = 'open' then 'pending' else ${tickets.status} end`,
    firstResponseAt: sql`coalesce(${tickets.firstResponseAt}, ${at})`,
    clockStartedAt: null,
    responseDueAt: null,
    queueDueAt: NO_DEADLINE,
  } as const;
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
  if (filters.status !== undefined && filters.status.length > 0)
    where.push(inArray(tickets.status, filters.status));
  if (filters.team !== undefined) where.push(eq(tickets.team, filters.team));
  if (filters.channel !== undefined) where.push(eq(tickets.channel, filters.channel));
  if (filters.priority !== undefined) where.push(eq(tickets.priority, filters.priority));
  if (filters.assignee !== undefined) where.push(eq(tickets.assignee, filters.assignee));
  if (filters.breached !== undefined) where.push(eq(tickets.breached, filters.breached));
  if (filters.q !== undefined && filters.q.trim() !== "") {
    const pattern = `%${filters.q.trim().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    where.push(sql`${tickets.subject} like ${pattern} escape '\\'`);
  }
  if (filters.cursor !== undefined) {
    const { dueAt, number } = filters.cursor;
    const after = or(
      gt(tickets.queueDueAt, dueAt),
      and(eq(tickets.queueDueAt, dueAt), gt(tickets.number, number)),
    );
    if (after !== undefined) where.push(after);
  }
  return db
    .select()
    .from(tickets)
    .where(and(...where))
    .orderBy(asc(tickets.queueDueAt), asc(tickets.number))
    .limit(filters.limit)
    .all();
}

export interface TicketViewOptions {
  publicUrl: string;
}

export async function getTicketView(
  db: Database,
  number: number,
  options: TicketViewOptions,
): Promise<TicketView | null> {
  const [ticketRows, messageRows, attachmentRows, escalationRows, improvementRows] = await db.batch([
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
      text: m.text,
      createdAt: iso(m.createdAt) ?? "",
      attachments: attachmentRows
        .filter((a) => a.messageId === m.id)
        .map((a) => ({
          filename: a.filename,
          contentType: a.contentType,
          size: a.size,
          url: `${base}/v1/attachments/${a.id}`,
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
    })),
    improvements: improvementRows.map((i) => ({
      kind: i.kind,
      title: i.title,
      url: i.url,
      at: iso(i.createdAt) ?? "",
    })),
  };
}

/** The ticket without its conversation: what the queue lists. */
export function ticketSummary(row: TicketRow): Omit<TicketView, "messages" | "escalations" | "improvements"> {
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
    breached: row.breached,
    security: row.security,
  };
}

export interface MessageChangeWrite {
  channel: Channel;
  idempotencyKey: string;
  ticketNumber: number;
  /** The channel's id of the message that changed (what `externalId` holds). */
  externalId: string;
  change: { type: "edit"; text: string; html?: string | null } | { type: "delete" };
  at: number;
}

/**
 * An edit or deletion of a message we already stored, with its idempotency key, in one batch.
 * Returns how many messages changed (0 when we never stored the original).
 */
export async function changeMessage(db: Database, write: MessageChangeWrite): Promise<number> {
  const set =
    write.change.type === "edit"
      ? {
          text: write.change.text,
          ...(write.change.html === undefined ? {} : { html: write.change.html }),
          editedAt: write.at,
        }
      : { deletedAt: write.at };
  const [, updated] = await db.batch([
    db.insert(idempotencyKeys).values({
      channel: write.channel,
      key: write.idempotencyKey,
      ticketNumber: write.ticketNumber,
      created: false,
      createdAt: write.at,
    }),
    db
      .update(messages)
      .set(set)
      .where(and(eq(messages.ticketNumber, write.ticketNumber), eq(messages.externalId, write.externalId)))
      .returning({ id: messages.id }),
  ]);
  return updated.length;
}
