import type { Config, PolicyName } from "./config";
import { type EscalationTicket, type StepPlan, slackLine, warningPlan } from "./escalation";
import { findTeam } from "./routing";
import { formatDeadline, policyCalendar, zoneOffsetMs } from "./sla";

/**
 * The promise clock (SPEC §16): a public reply may promise the customer the next update by a time
 * (`nextUpdateBy`). The ticket's TicketTimer runs it like a response clock, on a ladder of its own:
 * `warning` at 75 % of the window (from the reply to the promised time) to the assignee, then
 * `promise` at 100 % to the team's channel. Any later public staff reply keeps it (and may set the
 * next); a resolve keeps it; a customer message changes nothing.
 */

export const PROMISE_STEPS = ["warning", "promise"] as const;
export type PromiseStep = (typeof PROMISE_STEPS)[number];

export const PROMISE_FRACTION: Record<PromiseStep, number> = { warning: 0.75, promise: 1 };

/** A promise further out than this is not a timeline, it is a wish: refused (400). */
export const NEXT_UPDATE_MAX_MS = 90 * 86_400_000;
/** A promise sooner than this cannot be kept by a person: refused (400). */
export const NEXT_UPDATE_MIN_MS = 60_000;

export interface PromiseClock {
  seq: number;
  madeAt: number;
  dueAt: number;
  fired: readonly PromiseStep[];
}

export function promiseStepAt(step: PromiseStep, madeAt: number, dueAt: number): number {
  return madeAt + Math.round((dueAt - madeAt) * PROMISE_FRACTION[step]);
}

/** Steps of the promise clock that are due at `now` and not yet fired, in ladder order. */
export function duePromiseSteps(clock: PromiseClock, now: number): PromiseStep[] {
  return PROMISE_STEPS.filter(
    (step) => !clock.fired.includes(step) && promiseStepAt(step, clock.madeAt, clock.dueAt) <= now,
  );
}

/** When the promise clock's next unfired step is due, or null when its ladder is done. */
export function nextPromiseStepAt(clock: PromiseClock): number | null {
  const pending = PROMISE_STEPS.filter((step) => !clock.fired.includes(step)).map((step) =>
    promiseStepAt(step, clock.madeAt, clock.dueAt),
  );
  return pending.length === 0 ? null : Math.min(...pending);
}

// An ISO-8601 duration in days, weeks, hours, minutes, seconds (months and years have no fixed length).
const DURATION = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;
// An instant must say its zone: "2026-12-04T17:00" alone would mean a different time to everyone.
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

export type NextUpdateParse = { ok: true; at: number } | { ok: false; problem: string };

/**
 * `nextUpdateBy` as the API takes it: an ISO-8601 instant with its offset (`2026-12-04T17:00:00+01:00`)
 * or a duration from now (`PT4H`, `P1D`, `P1DT12H`). It must lie in the future, at least a minute
 * and at most 90 days away.
 */
export function parseNextUpdateBy(raw: string, now: number): NextUpdateParse {
  const text = raw.trim().toUpperCase();
  let at: number;
  const duration = DURATION.exec(text);
  if (duration !== null && text !== "P" && !text.endsWith("T")) {
    const [, w, d, h, m, s] = duration;
    const ms =
      Number(w ?? 0) * 7 * 86_400_000 +
      Number(d ?? 0) * 86_400_000 +
      Number(h ?? 0) * 3_600_000 +
      Number(m ?? 0) * 60_000 +
      Math.round(Number(s ?? 0) * 1000);
    at = now + ms;
  } else if (INSTANT.test(text)) {
    at = Date.parse(text);
    if (!Number.isFinite(at)) return { ok: false, problem: "not a valid date and time" };
  } else {
    return {
      ok: false,
      problem: "an ISO-8601 instant with its offset (2026-12-04T17:00:00Z) or a duration (PT4H, P1D, P3D)",
    };
  }
  if (at - now < NEXT_UPDATE_MIN_MS) return { ok: false, problem: "must be at least a minute in the future" };
  if (at - now > NEXT_UPDATE_MAX_MS) return { ok: false, problem: "must be at most 90 days away" };
  return { ok: true, at };
}

/**
 * The instant the promise clock runs to: `SLA_TIME_SCALE` divides the window from the reply to the
 * promised time, like every SLA duration (1 in production, so the clock runs to the promised time).
 */
export function promiseDueAt(madeAt: number, promisedAt: number, timeScale: number): number {
  return madeAt + Math.max(1, Math.round((promisedAt - madeAt) / timeScale));
}

/**
 * The zone a promise is worded in: the business-hours calendar's of the ticket's policy (SPEC §14)
 * when it has one, else the desk's. A calendar changes only the wording, never the instant: a
 * promise is a time the customer was told.
 */
export function promiseTimeZone(
  config: Pick<Config, "timezone" | "policies" | "calendars">,
  policy: PolicyName,
): string {
  return policyCalendar(policy, config)?.timezone ?? config.timezone;
}

/** The sentence a public reply with a promise ends with, naming the time in `timeZone`. */
export function nextUpdateSentence(dueAt: number, now: number, timeZone: string): string {
  return `We will send you our next update by ${formatDeadline(dueAt, now, timeZone)}.`;
}

/** The reply text as sent: the agent's words, then the promise. */
export function replyWithPromise(text: string, dueAt: number, now: number, timeZone: string): string {
  return `${text.trimEnd()}\n\n${nextUpdateSentence(dueAt, now, timeZone)}`;
}

export interface PromiseStepContext {
  ticket: EscalationTicket;
  config: Config;
  link: string;
  dueAt: number;
  now: number;
}

/** What a promise-clock step records and whom it tells. */
export function planPromiseStep(step: PromiseStep, ctx: PromiseStepContext): StepPlan {
  const team = findTeam(ctx.config, ctx.ticket.team);
  const teamChannel = team?.slackChannel ?? null;
  const level = ctx.ticket.escalationLevel;
  const due = formatDeadline(ctx.dueAt, ctx.now, ctx.config.timezone);
  const head = `<${ctx.link}|${ctx.ticket.key}> “${slackLine(ctx.ticket.subject || "(no subject)")}” · team ${slackLine(ctx.ticket.team)} · update promised by ${due}`;
  const toTeam = (text: string) =>
    teamChannel === null ? [] : [{ via: "chat" as const, to: teamChannel, text, claimable: true }];
  if (step === "warning") {
    return warningPlan(
      { ticket: ctx.ticket, config: ctx.config, step, level, detail: "75 % of the promised update", toTeam },
      `:hourglass_flowing_sand: 75 % of the time to the promised update is gone. ${head}`,
    );
  }
  return {
    records: [
      {
        step,
        kind: "promise",
        level,
        target: `team:${ctx.ticket.team}`,
        detail: "promised update not sent",
      },
    ],
    notices: toTeam(`:red_circle: Promised update not sent — the customer was told ${due}. ${head}`),
    breached: false,
  };
}

const WALL_CLOCK = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/;

/**
 * A console `datetime-local` value ("2026-12-04T17:00", no zone) read as a wall-clock time in
 * `timeZone`, as the ISO-8601 instant `nextUpdateBy` takes; null when it is not one.
 */
export function wallClockInZone(value: string, timeZone: string): string | null {
  const m = WALL_CLOCK.exec(value.trim());
  if (m === null) return null;
  const [, y, mo, d, h, mi] = m.map(Number) as [number, number, number, number, number, number];
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  if (!Number.isFinite(wall) || new Date(wall).getUTCDate() !== d) return null;
  // The offset at the instant may differ from the offset at the wall time (DST): two rounds settle it.
  let instant = wall - zoneOffsetMs(wall, timeZone);
  instant = wall - zoneOffsetMs(instant, timeZone);
  return new Date(instant).toISOString();
}

/** The console's quick choices beside "Send public reply", as `nextUpdateBy` durations. */
export const NEXT_UPDATE_CHOICES = [
  { value: "PT4H", label: "in 4 hours" },
  { value: "P1D", label: "tomorrow, this time" },
  { value: "P3D", label: "in 3 days" },
] as const;
