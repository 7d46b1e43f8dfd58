import { and, asc, eq, gt, isNotNull, lte, sql } from "drizzle-orm";
import type { PolicyName } from "../domain/config";
import type { StepsAt } from "../domain/sla";
import { batch, type Database, type Statement } from "./db";
import { clockRetimes, tickets } from "./schema";
import type { TicketRow } from "./tickets";

export type ClockRetimeRow = typeof clockRetimes.$inferSelect;

/** One row per policy whose clocks a config write re-times; goes into that write's batch. */
export function clockRetimeInserts(db: Database, policies: readonly PolicyName[], now: number): Statement[] {
  return policies.map((policy) =>
    db.insert(clockRetimes).values({ id: crypto.randomUUID(), policy, after: 0, createdAt: now }),
  );
}

/** The oldest unfinished re-timing (index `clock_retimes_created`). */
export async function oldestClockRetime(db: Database): Promise<ClockRetimeRow | undefined> {
  return db.select().from(clockRetimes).orderBy(asc(clockRetimes.createdAt)).limit(1).get();
}

export async function finishClockRetime(db: Database, id: string): Promise<void> {
  await db.delete(clockRetimes).where(eq(clockRetimes.id, id));
}

/** Running clocks of a policy after ticket `after`, in ticket order (partial index `tickets_running_clocks`). */
export async function runningClocksPage(
  db: Database,
  policy: PolicyName,
  after: number,
  limit: number,
): Promise<TicketRow[]> {
  return db
    .select()
    .from(tickets)
    .where(and(eq(tickets.policy, policy), isNotNull(tickets.clockStartedAt), gt(tickets.number, after)))
    .orderBy(asc(tickets.number))
    .limit(limit)
    .all();
}

/** A ticket's clock as re-timed from its start, with the timer debt that change owes. */
export interface RetimedClock {
  number: number;
  /** The clock it was computed for: a clock that moved on since (a reply, a new clock) is left alone. */
  clockSeq: number;
  startedAt: number;
  revision: number;
  dueAt: number;
  stepsAt: StepsAt | null;
  debtId: string;
}

/**
 * Re-time one page in one batch, three statements whatever the page size (each carries the page as
 * one JSON parameter, so D1's 100 bound parameters per statement never bind the page size): the
 * tickets' new deadlines (only where the clock is still the one computed for, and only where
 * something changes), a timer debt for each ticket that changed (the side-effect invariant), and
 * the job's cursor; then the page as it now stands, to pay the debts from.
 */
export async function retimePage(
  db: Database,
  job: { id: string; policy: PolicyName },
  clocks: readonly RetimedClock[],
  last: number,
  debtPayload: string,
  now: number,
): Promise<TicketRow[]> {
  const page = JSON.stringify(
    clocks.map((c) => ({
      n: c.number,
      policy: job.policy,
      seq: c.clockSeq,
      start: c.startedAt,
      rev: c.revision,
      due: c.dueAt,
      steps: c.stepsAt,
      debt: c.debtId,
    })),
  );
  const first = clocks[0]?.number ?? last;
  const [, , , rows] = await batch(db, [
    db.run(sql`update tickets set
        response_due_at = r.due,
        queue_due_at = r.due,
        first_due_at = case when tickets.clock_seq = 1 and tickets.first_response_at is null then r.due else tickets.first_due_at end,
        clock_steps_at = r.steps,
        revision = tickets.revision + 1
      from (select value ->> '$.n' as n, value ->> '$.policy' as policy, value ->> '$.seq' as seq,
                   value ->> '$.start' as start,
                   value ->> '$.due' as due,
                   case when json_type(value, '$.steps') = 'object' then value -> '$.steps' end as steps
            from json_each(${page})) as r
      where tickets.number = r.n and tickets.clock_seq = r.seq and tickets.clock_started_at = r.start
        and tickets.policy = r.policy
        and (tickets.response_due_at is not r.due
             or coalesce(tickets.clock_steps_at, 'null') is not coalesce(r.steps, 'null'))`),
    db.run(sql`insert into timer_syncs (id, ticket_number, payload, created_at)
      select value ->> '$.debt', t.number, ${debtPayload}, ${now}
      from json_each(${page}) as j join tickets as t on t.number = j.value ->> '$.n'
      where t.revision = (j.value ->> '$.rev') + 1 and t.response_due_at = j.value ->> '$.due'`),
    db.update(clockRetimes).set({ after: last }).where(eq(clockRetimes.id, job.id)),
    db
      .select()
      .from(tickets)
      .where(
        and(
          eq(tickets.policy, job.policy),
          isNotNull(tickets.clockStartedAt),
          gt(tickets.number, first - 1),
          lte(tickets.number, last),
        ),
      )
      .orderBy(asc(tickets.number)),
  ]);
  return rows;
}
