import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { slackNotice } from "../channels/outbound";
import { type Config, type PolicyName, policyNameSchema } from "../domain/config";
import { type Notice, pageWithheldReason, planStep } from "../domain/escalation";
import { type ClockState, dueSteps, LADDER_STEPS, type LadderStep, nextStepAt, stepAt } from "../domain/sla";
import { ticketKey, ticketUrl } from "../domain/ticket";
import { type DeliveryOutcome, deliver, type OutboxItem, outboxItemSchema } from "../notify";
import { configFromRow } from "../store/config";
import { database } from "../store/db";
import { meteredEnv, meterObjectInvocation } from "../store/metered";
import { decideCappedPages } from "../store/paging";
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
    })
    .nullable(),
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
        page_routing_key TEXT
      );
      CREATE TABLE IF NOT EXISTS outbox (
        id TEXT PRIMARY KEY, item TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending', outcome TEXT
      );
      CREATE TABLE IF NOT EXISTS delivered (id TEXT PRIMARY KEY, at INTEGER NOT NULL);
    `);
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
      if (sync.revision >= state.revision) {
        state.revision = sync.revision;
        if (sync.clock === null) {
          state.started_at = null;
          state.due_at = null;
        } else {
          if (sync.clock.seq !== state.clock_seq) state.fired = "[]";
          state.clock_seq = sync.clock.seq;
          state.policy = sync.clock.policy;
          state.started_at = sync.clock.startedAt;
          state.due_at = sync.clock.dueAt;
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
    const dueNow = outboxDue > 0 || (clock !== null && dueSteps(clock, now).length > 0);
    return { clock, nextAlarm: await this.ctx.storage.getAlarm(), outbox, dueNow };
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
          dueAt: stepAt(step, truth.startedAt, truth.dueAt),
        });
      }
      for (const notice of plan.notices) notices.push({ step, notice });
    }
    await recordLadderSteps(db, { ticketNumber: ticket.number, breached, level, records });
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
    await recordDeliveryOutcomes(database(this.env.DB), state.ticket_number, records, now);
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
      fired: "[]",
      paged: 0,
      acknowledged: 0,
      page_routing_key: null,
    };
  }

  private saveState(state: StateRow): void {
    this.sql.exec(
      `INSERT INTO state (id, ticket_number, revision, clock_seq, policy, started_at, due_at, fired, paged, acknowledged, page_routing_key)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (id) DO UPDATE SET ticket_number = excluded.ticket_number, revision = excluded.revision,
         clock_seq = excluded.clock_seq, policy = excluded.policy, started_at = excluded.started_at,
         due_at = excluded.due_at, fired = excluded.fired, paged = excluded.paged, acknowledged = excluded.acknowledged,
         page_routing_key = excluded.page_routing_key`,
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
  };
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
