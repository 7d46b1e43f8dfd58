import { and, eq, type SQL, sql } from "drizzle-orm";
import type { ImprovementSource, ImprovementState } from "../domain/improvements";
import { batchAround, batchOf, type Database, type Statement } from "./db";
import { guardedInsert } from "./guarded";
import { escalations, idempotencyKeys, improvements, messages, threadKeys, tickets } from "./schema";
import type { TicketRow } from "./tickets";
import { timerDebtInsert } from "./timer-syncs";

/**
 * Improvements (SPEC §4, §13): one row per (ticket, improvement). Many tickets linked to one
 * tracked issue have one row each with the same (source, external_id); a webhook about that issue
 * finds them all through `improvements_external`.
 */

export type ImprovementRow = typeof improvements.$inferSelect;
export type NewImprovementRow = typeof improvements.$inferInsert;

/** Every ticket's link to one tracked issue (a Linear issue, a GitHub pull request). */
export async function linkedImprovements(
  db: Database,
  source: ImprovementSource,
  externalId: string,
): Promise<ImprovementRow[]> {
  return db
    .select()
    .from(improvements)
    .where(and(eq(improvements.source, source), eq(improvements.externalId, externalId)))
    .limit(1000);
}

/** The ticket's own links, for "is this issue already linked here?" and "which issue did it file?". */
export async function ticketImprovements(db: Database, ticketNumber: number): Promise<ImprovementRow[]> {
  return db.select().from(improvements).where(eq(improvements.ticketNumber, ticketNumber)).limit(200);
}

/**
 * Link a ticket to an improvement, with what the link owes (the attachment on the Linear issue,
 * as a timer debt) and, for an engineering escalation, its record and the level — one batch. A
 * link that exists already (same ticket, same issue) is kept as it is. Returns the ticket after it.
 */
export async function linkImprovement(
  db: Database,
  write: {
    improvement: NewImprovementRow;
    timerDebt: { id: string; payload: string } | null;
    escalation?: typeof escalations.$inferInsert;
    level?: number;
    before?: Statement[];
    now: number;
  },
): Promise<TicketRow | undefined> {
  const number = write.improvement.ticketNumber;
  const rows = await batchAround(
    db,
    [
      ...(write.before ?? []),
      db.insert(improvements).values(write.improvement).onConflictDoNothing(),
      ...(write.escalation === undefined ? [] : [db.insert(escalations).values(write.escalation)]),
      ...(write.timerDebt === null
        ? []
        : [timerDebtInsert(db, { ...write.timerDebt, ticketNumber: number, createdAt: write.now })]),
    ],
    db
      .update(tickets)
      .set({
        updatedAt: write.now,
        revision: sql`${tickets.revision} + 1`,
        ...(write.level === undefined
          ? {}
          : { escalationLevel: sql`max(${tickets.escalationLevel}, ${write.level})` }),
      })
      .where(eq(tickets.number, number))
      .returning(),
  );
  return rows[0];
}

/**
 * The improvement's new state on one ticket, written only while the guard holds (the ticket is
 * still at the revision the change was planned from) and only if it changes: part of that
 * ticket's patch batch. A GitHub pull request that ships a ticket it was never linked to creates
 * the link (`create`), shipped.
 */
export function improvementStateWrites(
  change: {
    ticketNumber: number;
    source: ImprovementSource;
    externalId: string;
    state: ImprovementState;
    at: number;
    create?: Omit<NewImprovementRow, "ticketNumber" | "state" | "shippedAt">;
  },
  guard: SQL,
): SQL[] {
  const shippedAt = change.state === "shipped" ? change.at : null;
  return [
    ...(change.create === undefined
      ? []
      : [
          sql`${guardedInsert(
            improvements,
            { ...change.create, ticketNumber: change.ticketNumber, state: change.state, shippedAt },
            guard,
          )} on conflict do nothing`,
        ]),
    sql`update improvements set state = ${change.state}, shipped_at = ${shippedAt}
      where ticket_number = ${change.ticketNumber} and source = ${change.source}
        and external_id = ${change.externalId} and state <> ${change.state} and ${guard}`,
  ];
}

/** One internal note per linked ticket for an engineer's comment; its id makes a replay a no-op. */
export async function insertLinkedNotes(
  db: Database,
  notes: (typeof messages.$inferInsert)[],
): Promise<number[]> {
  const statements = notes.map((n) =>
    db.insert(messages).values(n).onConflictDoNothing().returning({ ticketNumber: messages.ticketNumber }),
  );
  const results = await batchOf(db, statements);
  return results.flatMap((rows) => rows.map((r) => r.ticketNumber));
}

export interface RootCause {
  source: ImprovementSource;
  ref: string | null;
  title: string;
  url: string | null;
  kind: ImprovementRow["kind"];
  /** Shipped if any link says so, else canceled if any does, else open. */
  state: ImprovementState;
  tickets: number;
}

/**
 * The top root causes of a window (tickets created in [from, to)): improvements by the number of
 * tickets linked to them. A tracked issue is one root cause however many tickets link it; a manual
 * improvement is its own.
 */
export async function topRootCauses(
  db: Database,
  q: { from: number; to: number; limit: number; team?: string | undefined; channel?: string | undefined },
): Promise<RootCause[]> {
  const scope = [
    ...(q.team === undefined ? [] : [sql`and t.team = ${q.team}`]),
    ...(q.channel === undefined ? [] : [sql`and t.channel = ${q.channel}`]),
  ];
  const rows = await db.all<{
    source: ImprovementSource;
    ref: string | null;
    title: string;
    url: string | null;
    kind: ImprovementRow["kind"];
    shipped: number;
    canceled: number;
    tickets: number;
  }>(sql`select i.source as source, max(i.ref) as ref, max(i.title) as title, max(i.url) as url,
      max(i.kind) as kind, max(i.state = 'shipped') as shipped, max(i.state = 'canceled') as canceled,
      count(distinct i.ticket_number) as tickets
    from tickets t join improvements i on i.ticket_number = t.number
    where t.created_at >= ${q.from} and t.created_at < ${q.to} ${sql.join(scope, sql` `)}
    group by i.source, coalesce(i.external_id, i.id)
    order by tickets desc, max(i.created_at) desc
    limit ${q.limit}`);
  return rows.map((r) => ({
    source: r.source,
    ref: r.ref,
    title: r.title,
    url: r.url,
    kind: r.kind,
    state: r.shipped === 1 ? "shipped" : r.canceled === 1 ? "canceled" : "open",
    tickets: r.tickets,
  }));
}

/** Whether an event (a Linear delivery, a per-ticket part of one) was processed before. */
export async function eventSeen(db: Database, channel: string, key: string): Promise<boolean> {
  const row = await db
    .select({ key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(and(eq(idempotencyKeys.channel, channel), eq(idempotencyKeys.key, key)))
    .get();
  return row !== undefined;
}

/** Mark an event processed (after all its per-ticket parts were written, each once). */
export async function recordEvent(db: Database, channel: string, key: string, now: number): Promise<void> {
  await db
    .insert(idempotencyKeys)
    .values({ channel, key, created: false, createdAt: now })
    .onConflictDoNothing();
}

/** Our announcement mail's Message-ID answers to the ticket too, so the customer's reply threads. */
export function emailThreadKeyWrite(ticketNumber: number, messageId: string, now: number, guard: SQL): SQL {
  return sql`${guardedInsert(
    threadKeys,
    { channel: "email", key: messageId, ticketNumber, createdAt: now },
    guard,
  )} on conflict do nothing`;
}
