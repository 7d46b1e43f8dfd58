import { type PolicyName, policyNameSchema } from "../domain/config";
import { clockTiming, parseTimeScale } from "../domain/sla";
import { ticketKey } from "../domain/ticket";
import { loadConfig } from "../store/config";
import { database } from "../store/db";
import {
  finishClockRetime,
  oldestClockRetime,
  type RetimedClock,
  retimePage,
  runningClocksPage,
} from "../store/retime";
import { deleteTimerDebts } from "../store/timer-syncs";
import { newTimerDebt, syncTimer, type TimerDebt } from "./client";

/** Tickets per page: one read, one three-statement batch, then one timer call per changed ticket. */
export const RETIME_PAGE = 200;
/** Pages per run (cron minute or the config write's `waitUntil`): 5,000 clocks, ~230 D1 queries. */
const RETIME_PAGES_PER_RUN = 25;
/** Timer calls in flight at once. */
const SYNC_CONCURRENCY = 20;
/** Debt ids deleted per statement (D1 binds at most 100 parameters). */
const DELETE_CHUNK = 90;

export interface RetimeRun {
  /** Running clocks looked at. */
  scanned: number;
  /** Clocks whose deadline or ladder moved (each with its timer debt). */
  retimed: number;
  /** Of those, timers that could not be told now: their debts stay for the reconciler. */
  unpaid: number;
  /** Re-timings (one per policy of a config change) finished in this run. */
  finished: number;
}

/**
 * SPEC §14: after a config change to a calendar (or to a target on one), every running clock of an
 * affected policy is re-timed from its start, exactly like a priority change: `PUT /v1/config`
 * recorded one `clock_retimes` row per policy in its own batch; this walks each policy's running
 * clocks in ticket order, a page at a time. Each page's batch writes the new deadlines, their
 * timer debts and the cursor together, so a crash anywhere resumes at the page (recomputing from
 * the clock's start is idempotent) and no clock is re-timed without its timer being owed the news.
 * The debts are paid here; what a timer cannot take now, the reconciler pays. The computation uses
 * the configuration in force when the page runs, so two quick config changes end on the last.
 */
export async function retimeClocks(
  env: { DB: D1Database; TICKET_TIMER: Env["TICKET_TIMER"]; SLA_TIME_SCALE?: string },
  maxPages = RETIME_PAGES_PER_RUN,
): Promise<RetimeRun> {
  const db = database(env.DB);
  const run: RetimeRun = { scanned: 0, retimed: 0, unpaid: 0, finished: 0 };
  const scale = parseTimeScale(env.SLA_TIME_SCALE);
  for (let page = 0; page < maxPages; page++) {
    const job = await oldestClockRetime(db);
    if (job === undefined) break;
    const policy = policyNameSchema.safeParse(job.policy);
    const rows = policy.success ? await runningClocksPage(db, policy.data, job.after, RETIME_PAGE) : [];
    const last = rows.at(-1);
    if (!policy.success || last === undefined) {
      await finishClockRetime(db, job.id);
      run.finished++;
      continue;
    }
    run.scanned += rows.length;
    const config = await loadConfig(db);
    const debt: TimerDebt = { event: "retimed", deliveries: [] };
    const clocks: RetimedClock[] = [];
    for (const row of rows) {
      if (row.clockStartedAt === null) continue;
      const timing = clockTiming(row.policy, row.clockStartedAt, config, scale);
      clocks.push({
        number: row.number,
        clockSeq: row.clockSeq,
        startedAt: row.clockStartedAt,
        revision: row.revision,
        dueAt: timing.dueAt,
        stepsAt: timing.stepsAt,
        debtId: newTimerDebt(debt.event, debt.deliveries).id,
      });
    }
    const planned = new Map(clocks.map((c) => [c.number, c]));
    const after = await retimePage(
      db,
      { id: job.id, policy: policy.data as PolicyName },
      clocks,
      last.number,
      JSON.stringify(debt),
      Date.now(),
    );
    // The tickets this page changed: one revision on, at the planned deadline.
    const changed = after.filter((row) => {
      const plan = planned.get(row.number);
      return plan !== undefined && row.revision === plan.revision + 1 && row.responseDueAt === plan.dueAt;
    });
    run.retimed += changed.length;
    const paid: string[] = [];
    for (let i = 0; i < changed.length; i += SYNC_CONCURRENCY) {
      await Promise.all(
        changed.slice(i, i + SYNC_CONCURRENCY).map(async (row) => {
          const debtId = planned.get(row.number)?.debtId;
          if (debtId === undefined) return;
          try {
            await syncTimer(env, row, debt.event, debt.deliveries);
            paid.push(debtId);
          } catch (error) {
            run.unpaid++;
            console.warn(
              `${ticketKey(row.number)}: re-timed, its timer will be told by the reconciler`,
              error,
            );
          }
        }),
      );
    }
    for (let i = 0; i < paid.length; i += DELETE_CHUNK)
      await deleteTimerDebts(db, paid.slice(i, i + DELETE_CHUNK));
  }
  return run;
}
