import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { slackNotice } from "../channels/outbound";
import { type Config, type PolicyName, policyNameSchema } from "../domain/config";
import { type Notice, pageWithheldReason, planStep } from "../domain/escalation";
import {
  duePromiseSteps,
  nextPromiseStepAt,
  PROMISE_STEPS,
  type PromiseClock,
  type PromiseStep,
  planPromiseStep,
  promiseStepAt,
} from "../domain/promise";
import {
  type ClockState,
  clockStepAt,
  dueSteps,
  LADDER_STEPS,
  type LadderStep,
  nextStepAt,
  type StepsAt,
} from "../domain/sla";
import { ticketKey, ticketUrl } from "../domain/ticket";
import { publishChange } from "../live/publish";
import { type DeliveryOutcome, deliver, type OutboxItem, outboxItemSchema } from "../notify";
import { configFromRow } from "../store/config";
import { database } from "../store/db";
import { meteredEnv, meterObjectInvocation } from "../store/metered";
import { decideCappedPages } from "../store/paging";
import { recordPromiseSteps } from "../store/promises";
import {
  type DeliveryRecord,
  type FinalDeliveryOutcome,
  type NewEscalationRow,
  recordDeliveryOutcomes,
  recordLadderSteps,
  ticketWithConfig,
} from "../store/ticket-changes";

export const timerSyncSchema = z.object({
  ticketNumber: z.number().int().positive(),
  /** The ticket's `revision` after the write this sync follows; older syncs never undo newer ones. */
  revision: z.number().int().nonnegative(),
  clock: z
    .object({
      seq: z.number().int().positive(),
      policy: policyNameSchema,
      startedAt: z.number().int(),
      dueAt: z.number().int(),
      /** SPEC §14: business-hours instants of the ladder's steps (absent: each at its share). */
      stepsAt: z.partialRecord(z.enum(LADDER_STEPS), z.number().int()).nullable().optional(),
    })
    .nullable(),
  /**
   * The ticket's promise clock (SPEC §16): the promised update and when it was made; null when
   * none is promised. Absent: this sync says nothing about it (the timer keeps what it has).
   */
  promise: z
    .object({
      seq: z.number().int().positive(),
      madeAt: z.number().int(),
      dueAt: z.number().int(),
    })
    .nullable()
    .optional(),
  event: z.enum(["intake", "customer-message", "staff-response", "retimed", "resolved", "updated"]),
  deliveries: z.array(outboxItemSchema).default([]),
});
export type TimerSync = z.input<typeof timerSyncSchema>;

/** Retry schedule for outbound calls: ~13 minutes in all before a delivery is reported failed. */
export const RETRY_DELAYS_MS = [2_000, 10_000, 30_000, 120_000, 600_000] as const;
/** Tries of one outbound call before it is reported failed on the ticket. */
export const DELIVERY_MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** How long a claimed outbox row stays with the run that claimed it (well over the 10 s call timeout). */
export const SENDING_LEASE_MS = 60_000;

/** When an alarm run fails, the next try comes this much later at the latest. */
export const RETRY_AFTER_FAILURE_MS = 30_000;

type StateRow = {
  ticket_number: number;
  revision: number;
  clock_seq: number;
  policy: string | null;
  started_at: number | null;
  due_at: number | null;
  /** JSON `StepsAt` of the clock (business hours), or null. */
  steps_at: string | null;
  fired: string;
  paged: number;
  acknowledged: number;
  /** The routing key the open incident was triggered with: acknowledge and resolve must use the same. */
  page_routing_key: string | null;
};

type OutboxRow = {
  id: string;
  item: string;
  attempts: number;
  next_at: number;
  status: string;
  outcome: string | null;
};

/**
 * One per ticket. Holds the ticket's running response clock and its outbox of notifications, and
 * keeps exactly one alarm at the earliest thing due. D1 stays the truth about the ticket: before a
 * ladder step fires, the alarm re-reads the ticket and fires only if that clock is still running.
 * Every step is recorded once per (ticket, clock, step) thanks to a unique index, so an alarm
 * that runs twice, or wakes late and fires several steps at once, never doubles an escalation.
 */
export class TicketTimer extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  /** Alarm handlers running now (the runtime's own, or one a test fired), so tests can wait for them. */

  constructor(ctx: DurableObjectState, env: Env) {
    // meteredEnv: the benchmark's D1 meter (D1_METERING=1); otherwise env as it is.
    super(ctx, meteredEnv(env));
    this.sql = ctx.storage.sql;
    this.sql.exec(`
      CREATE TABLE IF NOT EXISTS state (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        ticket_number INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 0,
        clock_seq INTEGER NOT NULL DEFAULT 0,
        policy TEXT, started_at INTEGER, due_at INTEGER,
        fired TEXT NOT NULL DEFAULT '[]',
        paged INTEGER NOT NULL DEFAULT 0,
        acknowledged INTEGER NOT NULL DEFAULT 0,
        page_routing_key TEXT,
        steps_at TEXT
      );
      CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, item TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', outcome TEXT
      );
      CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS promise_clock (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        revision INTEGER NOT NULL DEFAULT 0,
        seq INTEGER NOT NULL DEFAULT 0,
        made_at INTEGER, due_at INTEGER,
        fired TEXT NOT NULL DEFAULT '[]'
      );
    `);
    // Objects created before business hours (SPEC §14) lack the column; new ones get it here too.
    try {
      this.sql.exec("SELECT steps_at FROM state LIMIT 0");
    } catch {
      this.sql.exec("ALTER TABLE state ADD COLUMN steps_at TEXT");
    }
  }

  /** Bring the timer in line with the ticket after a write, and queue the calls that write owes. */
  async sync(input: TimerSync): Promise<void> {
    const metered = meterObjectInvocation(this.env);
    const sync = timerSyncSchema.parse(input);
    const now = Date.now();
    const key = ticketKey(sync.ticketNumber);
    // The state as this sync leaves it, so schedule() need not read it back (runs for every write).
    const synced = this.ctx.storage.transactionSync(() => {
      const state = this.state() ?? this.initialState(sync.ticketNumber);
      if (sync.promise !== undefined) this.adoptPromise(sync.revision, sync.promise);
      if (sync.revision >= state.revision) {
        state.revision = sync.revision;
        if (sync.clock === null) {
          state.started_at = null;
          state.due_at = null;
          state.steps_at = null;
        } else {
          if (sync.clock.seq !== state.clock_seq) state.fired = "[]";
          state.clock_seq = sync.clock.seq;
          state.policy = sync.clock.policy;
          state.started_at = sync.clock.startedAt;
          state.due_at = sync.clock.dueAt;
          state.steps_at = stepsJson(sync.clock.stepsAt);
        }
      }
      const followUps: OutboxItem[] = [];
      if (sync.event === "staff-response" && state.paged === 1 && state.acknowledged === 0) {
        state.acknowledged = 1;
        followUps.push(pagerDutyItem(`pd:ack:${sync.revision}`, key, state.page_routing_key, "acknowledge"));
      }
      if (sync.event === "resolved" && state.paged === 1) {
        state.paged = 0;
        state.acknowledged = 0;
        followUps.push(pagerDutyItem(`pd:resolve:${sync.revision}`, key, state.page_routing_key, "resolve"));
      }
      this.saveState(state);
      for (const item of [...sync.deliveries, ...followUps]) this.enqueue(item, now);
      return state;
    });
    await this.schedule(now, synced);
    metered();
  }

  /** For the API and tests: what the timer is waiting for, and whether anything is due right now. */
  async status(): Promise<{
    clock: ClockState | null;
    promise: PromiseClock | null;
    nextAlarm: number | null;
    outbox: number;
    dueNow: boolean;
  }> {
    const now = Date.now();
    const state = this.state();
    const clock = state === null ? null : clockOf(state);
    const outbox = this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
    const outboxDue = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM outbox WHERE status IN ('record', 'sending') OR next_at <= ?",
        now,
      )
      .one().n;
    const promise = this.promiseClock();
    const dueNow =
      outboxDue > 0 ||
      (clock !== null && dueSteps(clock, now).length > 0) ||
      (promise !== null && duePromiseSteps(promise, now).length > 0);
    return { clock, promise, nextAlarm: await this.ctx.storage.getAlarm(), outbox, dueNow };
  }

  override async alarm(): Promise<void> {
    const metered = meterObjectInvocation(this.env);
    const now = Date.now();
    const state = this.state();
    if (state === null) return metered();
    // If this run fails (D1 down, a bug), a wake-up is already booked: the runtime's own retries
    // give up after six, this never does. `schedule()` replaces it when the run succeeds.
    await this.ctx.storage.setAlarm(now + RETRY_AFTER_FAILURE_MS);
    await this.fireDueSteps(state, now);
    await this.fireDuePromiseSteps(now);
    await this.drainOutbox(now);
    await this.recordOutcomes();
    await this.schedule(Date.now());
    metered();
  }

  private async fireDueSteps(state: StateRow, now: number): Promise<void> {
    const clock = clockOf(state);
    if (clock === null || dueSteps(clock, now).length === 0) return;
    const db = database(this.env.DB);
    // The ticket and the routing document in one round trip: this runs for every ladder step.
    const { ticket, configRow } = await ticketWithConfig(db, state.ticket_number);
    // D1 is the truth. A stopped clock there stops ours; a newer clock there (its sync was lost
    // or is still on its way) is adopted, so the ladder never waits on a message that may not come.
    if (ticket === undefined || ticket.clockStartedAt === null || ticket.responseDueAt === null) {
      this.ctx.storage.transactionSync(() => {
        const fresh = this.state();
        if (fresh === null || (ticket !== undefined && fresh.clock_seq > ticket.clockSeq)) return;
        fresh.started_at = null;
        fresh.due_at = null;
        fresh.steps_at = null;
        this.saveState(fresh);
      });
      return;
    }
    const sameClock = ticket.clockSeq === state.clock_seq;
    const truth: ClockState = {
      policy: ticket.policy,
      startedAt: ticket.clockStartedAt,
      dueAt: ticket.responseDueAt,
      fired: sameClock ? clock.fired : [],
      stepsAt: ticket.clockStepsAt,
    };
    if (!sameClock) {
      if (ticket.clockSeq < state.clock_seq) return;
      this.ctx.storage.transactionSync(() => {
        const fresh = this.state();
        if (fresh === null) return;
        Object.assign(fresh, {
          revision: Math.max(fresh.revision, ticket.revision),
          clock_seq: ticket.clockSeq,
          policy: truth.policy,
          started_at: truth.startedAt,
          due_at: truth.dueAt,
          steps_at: stepsJson(truth.stepsAt),
          fired: "[]",
        });
        this.saveState(fresh);
      });
      state.clock_seq = ticket.clockSeq;
    }
    const steps = dueSteps(truth, now);
    if (steps.length === 0) return;
    const config = configFromRow(configRow);
    const key = ticketKey(ticket.number);
    const link = ticketUrl(this.env.PUBLIC_URL, key);
    const withheld = await this.cappedPagesWithheld(ticket, truth.policy, steps, config, now);
    let level = ticket.escalationLevel;
    const records: NewEscalationRow[] = [];
    const notices: { step: LadderStep; notice: Notice }[] = [];
    let breached = false;
    for (const step of steps) {
      const plan = planStep(step, {
        ticket: { ...ticket, key, escalationLevel: level },
        config,
        link,
        dueAt: truth.dueAt,
        now,
        ...(withheld.has(step) ? { pageWithheld: withheld.get(step) } : {}),
      });
      breached ||= plan.breached;
      for (const record of plan.records) {
        level = Math.max(level, record.level);
        records.push({
          id: crypto.randomUUID(),
          ticketNumber: ticket.number,
          dedupeKey: `${ticket.clockSeq}:${record.step}`,
          kind: record.kind,
          level: record.level,
          target: record.target,
          detail: record.detail,
          at: now,
          dueAt: clockStepAt(truth, step),
        });
      }
      for (const notice of plan.notices) notices.push({ step, notice });
    }
    await recordLadderSteps(db, { ticketNumber: ticket.number, breached, level, records });
    publishChange(this.env, ticket.number, "escalation");
    this.ctx.storage.transactionSync(() => {
      const fresh = this.state();
      if (fresh === null) return;
      const fired = new Set<LadderStep>(JSON.parse(fresh.fired) as LadderStep[]);
      for (const step of steps) fired.add(step);
      fresh.fired = JSON.stringify(LADDER_STEPS.filter((s) => fired.has(s)));
      notices.forEach(({ step, notice }, i) => {
        const id = `${state.clock_seq}:${step}:${i}`;
        if (notice.via === "page") {
          fresh.paged = 1;
          fresh.acknowledged = 0;
          fresh.page_routing_key = notice.routingKey;
          this.enqueue(
            {
              id,
              label: `PagerDuty page (${step})`,
              delivery: {
                service: "pagerduty",
                routingKey: notice.routingKey,
                action: "trigger",
                dedupKey: key,
                summary: notice.summary,
                severity: notice.severity,
                link,
              },
            },
            now,
          );
        } else {
          this.enqueue(
            {
              id,
              label: `Slack notice to ${notice.to} (${step})`,
              delivery: slackNotice(notice.to, notice.text, notice.claimable === true ? key : null),
            },
            now,
          );
        }
      });
      this.saveState(fresh);
    });
  }

  /**
   * SPEC §11: a ticket that is critical only by a keyword from an unknown sender pages on-call at
   * most `paging.unknownSenderPagesPerHour` times an hour, desk-wide. Its intake page and its
   * breach re-page each ask `paging_decisions` (decided once, in D1); the steps that may not page,
   * with the reason the ticket shows.
   */
  /**
   * The promise clock's steps that are due (SPEC §16), planned like the response ladder's: D1 is
   * the truth (a promise kept or replaced there stops this one; a newer one there is adopted), each
   * step is recorded once per (ticket, promise, step) by its dedupe key, and a late run fires all
   * that is overdue, in order.
   */
  private async fireDuePromiseSteps(now: number): Promise<void> {
    const promise = this.promiseClock();
    if (promise === null || duePromiseSteps(promise, now).length === 0) return;
    const state = this.state();
    if (state === null) return;
    const db = database(this.env.DB);
    const { ticket, configRow } = await ticketWithConfig(db, state.ticket_number);
    if (ticket === undefined || ticket.nextUpdateDueAt === null || ticket.promiseMadeAt === null) {
      if (ticket !== undefined && ticket.promiseSeq < promise.seq) return;
      this.ctx.storage.transactionSync(() => {
        const fresh = this.promiseClock();
        if (fresh === null || (ticket !== undefined && fresh.seq > ticket.promiseSeq)) return;
        this.sql.exec("UPDATE promise_clock SET made_at = NULL, due_at = NULL");
      });
      return;
    }
    if (ticket.promiseSeq < promise.seq) return;
    const truth: PromiseClock = {
      seq: ticket.promiseSeq,
      madeAt: ticket.promiseMadeAt,
      dueAt: ticket.nextUpdateDueAt,
      fired: ticket.promiseSeq === promise.seq ? promise.fired : [],
    };
    if (ticket.promiseSeq !== promise.seq) {
      this.ctx.storage.transactionSync(() =>
        this.sql.exec(
          "UPDATE promise_clock SET revision = max(revision, ?), seq = ?, made_at = ?, due_at = ?, fired = '[]'",
          ticket.revision,
          truth.seq,
          truth.madeAt,
          truth.dueAt,
        ),
      );
    }
    const steps = duePromiseSteps(truth, now);
    if (steps.length === 0) return;
    const config = configFromRow(configRow);
    const key = ticketKey(ticket.number);
    const link = ticketUrl(this.env.PUBLIC_URL, key);
    const records: NewEscalationRow[] = [];
    const notices: { step: PromiseStep; notice: Notice }[] = [];
    for (const step of steps) {
      const plan = planPromiseStep(step, {
        ticket: { ...ticket, key },
        config,
        link,
        dueAt: truth.dueAt,
        now,
      });
      for (const record of plan.records) {
        records.push({
          id: crypto.randomUUID(),
          ticketNumber: ticket.number,
          dedupeKey: `promise:${truth.seq}:${record.step}`,
          kind: record.kind,
          level: record.level,
          target: record.target,
          detail: record.detail,
          at: now,
          dueAt: promiseStepAt(step, truth.madeAt, truth.dueAt),
        });
      }
      for (const notice of plan.notices) notices.push({ step, notice });
    }
    await recordPromiseSteps(db, {
      ticketNumber: ticket.number,
      seq: truth.seq,
      records,
      escalatedAt: steps.includes("promise") ? now : null,
    });
    this.ctx.storage.transactionSync(() => {
      const fresh = this.promiseClock();
      if (fresh === null || fresh.seq !== truth.seq) return;
      const fired = new Set<PromiseStep>([...fresh.fired, ...steps]);
      this.sql.exec(
        "UPDATE promise_clock SET fired = ?",
        JSON.stringify(PROMISE_STEPS.filter((s) => fired.has(s))),
      );
      notices.forEach(({ step, notice }, i) => {
        if (notice.via !== "chat") return;
        this.enqueue(
          {
            id: `promise:${truth.seq}:${step}:${i}`,
            label: `Slack notice to ${notice.to} (promise ${step})`,
            delivery: slackNotice(notice.to, notice.text, notice.claimable === true ? key : null),
          },
          now,
        );
      });
    });
  }

  /** A sync's word on the promise clock, taken unless a newer write already spoke. */
  private adoptPromise(
    revision: number,
    promise: { seq: number; madeAt: number; dueAt: number } | null,
  ): void {
    const row = this.sql
      .exec<{ revision: number; seq: number }>("SELECT revision, seq FROM promise_clock WHERE id = 1")
      .toArray()[0];
    if (row !== undefined && revision < row.revision) return;
    if (promise === null) {
      this.sql.exec(
        `INSERT INTO promise_clock (id, revision) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, made_at = NULL, due_at = NULL`,
        revision,
      );
      return;
    }
    const sameClock = row !== undefined && row.seq === promise.seq;
    this.sql.exec(
      `INSERT INTO promise_clock (id, revision, seq, made_at, due_at, fired) VALUES (1, ?, ?, ?, ?, '[]')
       ON CONFLICT (id) DO UPDATE SET revision = excluded.revision, seq = excluded.seq, made_at = excluded.made_at,
         due_at = excluded.due_at, fired = ${sameClock ? "fired" : "'[]'"}`,
      revision,
      promise.seq,
      promise.madeAt,
      promise.dueAt,
    );
  }

  private promiseClock(): PromiseClock | null {
    const row = this.sql
      .exec<{ seq: number; made_at: number | null; due_at: number | null; fired: string }>(
        "SELECT seq, made_at, due_at, fired FROM promise_clock WHERE id = 1",
      )
      .toArray()[0];
    if (row === undefined || row.made_at === null || row.due_at === null || row.seq === 0) return null;
    return {
      seq: row.seq,
      madeAt: row.made_at,
      dueAt: row.due_at,
      fired: JSON.parse(row.fired) as PromiseStep[],
    };
  }

  private async cappedPagesWithheld(
    ticket: { number: number; clockSeq: number; pagingCapped: boolean },
    policy: PolicyName,
    steps: readonly LadderStep[],
    config: Config,
    now: number,
  ): Promise<Map<LadderStep, string>> {
    const withheld = new Map<LadderStep, string>();
    if (!ticket.pagingCapped || policy !== "critical") return withheld;
    const pageKeys = new Map<LadderStep, string>();
    if (steps.includes("page")) pageKeys.set("page", `${ticket.clockSeq}:page`);
    if (steps.includes("breach")) pageKeys.set("breach", `${ticket.clockSeq}:breach-page`);
    if (pageKeys.size === 0) return withheld;
    const perHour = config.paging.unknownSenderPagesPerHour;
    const paged = await decideCappedPages(database(this.env.DB), {
      ticketNumber: ticket.number,
      steps: [...pageKeys.values()],
      now,
      perHour,
    });
    for (const [step, stepKey] of pageKeys) {
      if (!paged.has(stepKey)) withheld.set(step, pageWithheldReason(perHour));
    }
    return withheld;
  }

  private async drainOutbox(now: number): Promise<void> {
    const due = this.sql
      .exec<OutboxRow>(
        "SELECT * FROM outbox WHERE status IN ('pending', 'sending') AND next_at <= ? ORDER BY next_at, rowid",
        now,
      )
      .toArray();
    for (const row of due) {
      // Claim the row before the call (synchronously, so nothing interleaves): another run of this
      // object (an RPC, a test firing the alarm by hand) skips it. A claim that outlives its lease
      // — the object was evicted mid-call — is taken over: at-least-once, never lost. The attempt
      // is counted with the claim, before the call: a call that kills the object still counts, so
      // it cannot be retried forever.
      const claimed = this.sql
        .exec<{ attempts: number }>(
          `UPDATE outbox SET status = 'sending', next_at = ?, attempts = attempts + 1
           WHERE id = ? AND status IN ('pending', 'sending') AND next_at <= ?
           RETURNING attempts`,
          Date.now() + SENDING_LEASE_MS,
          row.id,
          now,
        )
        .toArray();
      const attempts = claimed[0]?.attempts;
      if (attempts === undefined) continue;
      const item = outboxItemSchema.parse(JSON.parse(row.item));
      const outcome: DeliveryOutcome =
        attempts > DELIVERY_MAX_ATTEMPTS
          ? {
              ok: false,
              retryable: false,
              error: "the call never returned (the timer was stopped while it ran)",
            }
          : await deliver(this.env, item.delivery);
      if (outcome.ok === false && outcome.retryable && attempts < DELIVERY_MAX_ATTEMPTS) {
        const scheduled = RETRY_DELAYS_MS[attempts - 1] ?? 600_000;
        // A provider's Retry-After wins when it asks for longer, up to the last step of the schedule.
        const backoff = Math.min(Math.max(scheduled, outcome.retryAfterMs ?? 0), 600_000);
        console.warn(
          `${item.label} for ${ticketKeyOfState(this.state())}: attempt ${attempts} failed (${outcome.error})`,
        );
        this.sql.exec(
          "UPDATE outbox SET attempts = ?, next_at = ?, status = 'pending' WHERE id = ?",
          attempts,
          Date.now() + backoff,
          row.id,
        );
        continue;
      }
      const final: FinalDeliveryOutcome =
        outcome.ok === false
          ? { ok: false, error: `${outcome.error} (after ${attempts} attempt${attempts === 1 ? "" : "s"})` }
          : outcome;
      if (final.ok === "skipped") console.log(`${item.label} skipped: ${final.reason}`);
      this.sql.exec(
        "UPDATE outbox SET attempts = ?, status = 'record', outcome = ? WHERE id = ?",
        attempts,
        JSON.stringify(final),
        row.id,
      );
    }
  }

  /** Make each finished delivery visible on the ticket; a failure to do so is retried by the next alarm. */
  private async recordOutcomes(): Promise<void> {
    const rows = this.sql
      .exec<OutboxRow>("SELECT * FROM outbox WHERE status = 'record' ORDER BY id")
      .toArray();
    if (rows.length === 0) return;
    const state = this.state();
    if (state === null) return;
    const now = Date.now();
    const records = rows.map((row): DeliveryRecord => {
      const item = outboxItemSchema.parse(JSON.parse(row.item));
      return {
        ...(item.messageId === undefined ? {} : { messageId: item.messageId }),
        failureId: row.id,
        label: item.label,
        outcome: JSON.parse(row.outcome ?? "{}") as FinalDeliveryOutcome,
      };
    });
    const changed = await recordDeliveryOutcomes(database(this.env.DB), state.ticket_number, records, now);
    // Only when the ticket shows something new (a message's delivery status, a failure notice).
    if (changed) publishChange(this.env, state.ticket_number, "delivery");
    this.ctx.storage.transactionSync(() => {
      for (const row of rows) {
        this.sql.exec("DELETE FROM outbox WHERE id = ?", row.id);
        this.sql.exec("INSERT OR IGNORE INTO delivered (id, at) VALUES (?, ?)", row.id, now);
      }
    });
  }

  /** Keep the one alarm at the earliest thing due. `known`: the state just saved (its clock is all this reads). */
  private async schedule(now: number, known?: StateRow): Promise<void> {
    const state = known ?? this.state();
    const candidates: number[] = [];
    const clock = state === null ? null : clockOf(state);
    if (clock !== null) {
      const next = nextStepAt(clock);
      if (next !== null) candidates.push(next);
    }
    const promise = this.promiseClock();
    const promiseNext = promise === null ? null : nextPromiseStepAt(promise);
    if (promiseNext !== null) candidates.push(promiseNext);
    // One pass over the outbox: the earliest call still to make, and whether outcomes wait to be recorded.
    const outbox = this.sql
      .exec<{ next: number | null; unrecorded: number | null }>(
        `SELECT min(CASE WHEN status IN ('pending', 'sending') THEN next_at END) AS next,
                sum(status = 'record') AS unrecorded FROM outbox`,
      )
      .one();
    if (outbox.next !== null) candidates.push(outbox.next);
    if ((outbox.unrecorded ?? 0) > 0) candidates.push(now + 5_000);
    if (candidates.length === 0) {
      await this.ctx.storage.deleteAlarm();
      return;
    }
    const at = Math.max(Math.min(...candidates), now);
    if ((await this.ctx.storage.getAlarm()) !== at) await this.ctx.storage.setAlarm(at);
  }

  private enqueue(item: OutboxItem, now: number): void {
    const done = this.sql.exec("SELECT 1 FROM delivered WHERE id = ?", item.id).toArray().length > 0;
    if (done) return;
    if (item.delivery.service === "pagerduty" && item.delivery.action === "trigger") {
      this.sql.exec(
        "UPDATE state SET paged = 1, acknowledged = 0, page_routing_key = ?",
        item.delivery.routingKey,
      );
    }
    this.sql.exec(
      "INSERT OR IGNORE INTO outbox (id, item, next_at) VALUES (?, ?, ?)",
      item.id,
      JSON.stringify(item),
      now,
    );
  }

  private state(): StateRow | null {
    return this.sql.exec<StateRow>("SELECT * FROM state WHERE id = 1").toArray()[0] ?? null;
  }

  private initialState(ticketNumber: number): StateRow {
    return {
      ticket_number: ticketNumber,
      revision: 0,
      clock_seq: 0,
      policy: null,
      started_at: null,
      due_at: null,
      steps_at: null,
      fired: "[]",
      paged: 0,
      acknowledged: 0,
      page_routing_key: null,
    };
  }

  private saveState(state: StateRow): void {
    this.sql.exec(
      `INSERT INTO state (id, ticket_number, revision, clock_seq, policy, started_at, due_at, fired, paged, acknowledged, page_routing_key, steps_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET ticket_number = excluded.ticket_number, revision = excluded.revision,
         clock_seq = excluded.clock_seq, policy = excluded.policy, started_at = excluded.started_at,
         due_at = excluded.due_at, fired = excluded.fired, paged = excluded.paged, acknowledged = excluded.acknowledged,
         page_routing_key = excluded.page_routing_key, steps_at = excluded.steps_at`,
      state.ticket_number,
      state.revision,
      state.clock_seq,
      state.policy,
      state.started_at,
      state.due_at,
      state.fired,
      state.paged,
      state.acknowledged,
      state.page_routing_key,
      state.steps_at,
    );
  }
}

function clockOf(state: StateRow): ClockState | null {
  const policy = policyNameSchema.safeParse(state.policy);
  if (!policy.success || state.started_at === null || state.due_at === null) return null;
  return {
    policy: policy.data,
    startedAt: state.started_at,
    dueAt: state.due_at,
    fired: JSON.parse(state.fired) as LadderStep[],
    stepsAt: state.steps_at === null ? null : (JSON.parse(state.steps_at) as StepsAt),
  };
}

function stepsJson(stepsAt: StepsAt | null | undefined): string | null {
  return stepsAt === undefined || stepsAt === null ? null : JSON.stringify(stepsAt);
}

function ticketKeyOfState(state: StateRow | null): string {
  return state === null ? "unknown ticket" : ticketKey(state.ticket_number);
}

function pagerDutyItem(
  id: string,
  key: string,
  routingKey: string | null,
  action: "acknowledge" | "resolve",
): OutboxItem {
  return {
    id,
    label: `PagerDuty ${action}`,
    delivery: { service: "pagerduty", routingKey, action, dedupKey: key },
  };
}
