import { type SQL, sql } from "drizzle-orm";
import { batchAll, type Database, type Statement } from "./db";
import { escalations, QUEUE_RESOLVED, tickets } from "./schema";

/**
 * The promise clock's D1 side (SPEC §16): the ticket's `next_update_due_at` and `promise_seq`, and
 * one `promises` row per promise with its outcome. Every statement here goes into the batch of
 * the write it belongs to (a reply, a resolve, a native staff response, a timer step).
 */

export type NewEscalationRow = typeof escalations.$inferInsert;

/**
 * The queue's sort key for a ticket whose `queue_due_at` becomes `value`: the earlier of it and
 * the promised update, so a ticket whose promise falls due sorts with tickets whose reply is due.
 * (In an UPDATE, `next_update_due_at` is the value before the statement.)
 */
export function promiseQueueDue(value: number | SQL): SQL {
  return sql`min(${value}, coalesce(${tickets.nextUpdateDueAt}, ${value}))`;
}

/**
 * A public staff reply or a resolve fulfils the ticket's open promise: `kept_at` is set (a late
 * one counts as broken all the same, since `kept_at` > `due_at`). Runs before the ticket update.
 */
export function keepPromise(db: Database, ticketNumber: number, at: number, guard: SQL = sql`1`): Statement {
  return db.run(sql`update promises set kept_at = ${at}
    where ticket_number = ${ticketNumber} and kept_at is null and ${guard}`);
}

/** The columns a public reply with a promise sets (SQL decides: a resolved ticket takes none). */
export function promiseUpdate(dueAt: number, madeAt: number) {
  const resolved = sql`${tickets.status} = 'resolved'`;
  return {
    promiseSeq: sql`case when ${resolved} then ${tickets.promiseSeq} else ${tickets.promiseSeq} + 1 end`,
    promiseMadeAt: sql`case when ${resolved} then ${tickets.promiseMadeAt} else ${madeAt} end`,
    nextUpdateDueAt: sql`case when ${resolved} then null else ${dueAt} end`,
    queueDueAt: sql`case when ${resolved} then ${QUEUE_RESOLVED} else ${dueAt} end`,
  } as const;
}

/** The `promises` row of the promise the ticket update before it in the batch just made. */
export function recordPromiseMade(
  db: Database,
  write: { ticketNumber: number; dueAt: number; madeAt: number; madeBy: string; messageId: string },
): Statement {
  return db.run(sql`insert into promises (ticket_number, seq, made_at, due_at, made_by, message_id)
    select number, promise_seq, ${write.madeAt}, ${write.dueAt}, ${write.madeBy}, ${write.messageId}
    from tickets where number = ${write.ticketNumber} and next_update_due_at = ${write.dueAt}
      and promise_made_at = ${write.madeAt}`);
}

/**
 * Promise-clock steps that fired: one escalation row per step (each once, by its dedupe key
 * `promise:<seq>:<step>`) and, for the `promise` step, the promise marked escalated.
 */
export async function recordPromiseSteps(
  db: Database,
  write: { ticketNumber: number; seq: number; records: NewEscalationRow[]; escalatedAt: number | null },
): Promise<void> {
  const statements: Statement[] = [
    ...write.records.map((r) => db.insert(escalations).values(r).onConflictDoNothing()),
    ...(write.escalatedAt === null
      ? []
      : [
          db.run(sql`update promises set escalated_at = coalesce(escalated_at, ${write.escalatedAt})
            where ticket_number = ${write.ticketNumber} and seq = ${write.seq}`),
        ]),
  ];
  await batchAll(db, statements);
}

export interface PromiseCounts {
  channel: string;
  team: string;
  made: number;
  kept: number;
  broken: number;
}

/**
 * Promises made in [from, to) by (channel, team) of their ticket: kept = fulfilled by the due
 * time; broken = fulfilled late, or due and still unfulfilled at `now`; the rest are still open.
 * Index `promises_made` covers the window; tickets by primary key.
 */
export function promiseCountsQuery(
  db: Database,
  q: {
    from: number;
    to: number;
    now: number;
    team?: string | undefined;
    channel?: string | undefined;
    channels?: readonly string[] | undefined;
  },
) {
  const parts = [sql`p.made_at >= ${q.from}`, sql`p.made_at < ${q.to}`];
  if (q.team !== undefined) parts.push(sql`t.team = ${q.team}`);
  if (q.channel !== undefined) parts.push(sql`t.channel = ${q.channel}`);
  if (q.channels !== undefined) {
    parts.push(
      q.channels.length === 0
        ? sql`0`
        : sql`t.channel in (${sql.join(
            q.channels.map((c) => sql`${c}`),
            sql`, `,
          )})`,
    );
  }
  return db.all<PromiseCounts>(sql`select t.channel as channel, t.team as team, count(*) as made,
      coalesce(sum(p.kept_at is not null and p.kept_at <= p.due_at), 0) as kept,
      coalesce(sum((p.kept_at is not null and p.kept_at > p.due_at) or (p.kept_at is null and p.due_at <= ${q.now})), 0) as broken
    from promises p indexed by promises_made join tickets t on t.number = p.ticket_number
    where ${sql.join(parts, sql` and `)} group by t.channel, t.team`);
}
