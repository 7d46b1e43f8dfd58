import {
  addOpenTime,
  type BusinessCalendar,
  businessSameDayDeadline,
  CalendarNeverOpensError,
  nextOpening,
  openTimeBetween,
} from "./business-hours";
import type { Calendar, Config, PolicyName } from "./config";
import { dateTimeFormat, zoneOffsetMs } from "./intl";

const DAY_MS = 86_400_000;

export { zoneOffsetMs } from "./intl";

/** The UTC instant of local midnight at the *start* of the local calendar day `daysAhead` days after `instant`'s. */
export function localMidnight(instant: number, timeZone: string, daysAhead: number): number {
  const local = new Date(instant + zoneOffsetMs(instant, timeZone));
  const targetWallClock = Date.UTC(
    local.getUTCFullYear(),
    local.getUTCMonth(),
    local.getUTCDate() + daysAhead,
  );
  // The offset at the target may differ from the offset now (DST); two rounds settle it.
  let guess = targetWallClock - zoneOffsetMs(targetWallClock, timeZone);
  guess = targetWallClock - zoneOffsetMs(guess, timeZone);
  return guess;
}

/**
 * Discord's same-day rule: due at the end of the local day the message arrived on; a message in
 * the last `lateWindowMs` of a day gets until the end of the next day.
 */
export function sameDayDeadline(startedAt: number, timeZone: string, lateWindowMs: number): number {
  const endOfToday = localMidnight(startedAt, timeZone, 1);
  if (endOfToday - startedAt > lateWindowMs) return endOfToday;
  return localMidnight(startedAt, timeZone, 2);
}

/**
 * Milliseconds from the start of a response clock to its deadline, before scaling.
 * Every duration, same-day ones included, is divided by `SLA_TIME_SCALE`.
 */
export function responseWindowMs(
  policy: PolicyName,
  startedAt: number,
  config: Pick<Config, "policies" | "timezone">,
): number {
  if (policy === "discord") {
    const discord = config.policies.discord;
    if (discord.sameDay) {
      return sameDayDeadline(startedAt, config.timezone, discord.lateWindowSeconds * 1000) - startedAt;
    }
    return discord.firstResponseSeconds * 1000;
  }
  return config.policies[policy].firstResponseSeconds * 1000;
}

export function parseTimeScale(raw: string | undefined): number {
  const scale = Number(raw ?? "1");
  return Number.isFinite(scale) && scale > 0 ? scale : 1;
}

/** What a clock's timing depends on: the policies, the desk's zone and (SPEC §14) the calendars. */
export type TimingConfig = Pick<Config, "policies" | "timezone"> & { calendars?: readonly Calendar[] };

/** The deadline of a clock (business hours when its policy names a calendar). */
export function dueAt(
  policy: PolicyName,
  startedAt: number,
  config: TimingConfig,
  timeScale: number,
): number {
  return clockTiming(policy, startedAt, config, timeScale).dueAt;
}

/** The calendar a policy counts on, or null for around the clock. */
export function policyCalendar(policy: PolicyName, config: TimingConfig): BusinessCalendar | null {
  const id = config.policies[policy].calendar;
  if (id === undefined) return null;
  return config.calendars?.find((c) => c.id === id) ?? null;
}

/**
 * Instants of ladder steps that are not a plain share of the clock's wall time (on a calendar, 75 %
 * and 200 % are shares of *open* time); a step not named here sits at its share of `dueAt - startedAt`.
 */
export type StepsAt = Partial<Record<LadderStep, number>>;

export interface ClockTiming {
  dueAt: number;
  /** Null around the clock: every step at its plain share. */
  stepsAt: StepsAt | null;
}

/**
 * A clock's deadline and ladder. Around the clock: `startedAt` + the window / `SLA_TIME_SCALE`.
 * On a calendar (SPEC §14): the open time of the target (for Discord's same-day rule, the open time
 * left until the end of the business day) divided by `SLA_TIME_SCALE` — the target shrinks, the
 * calendar does not — counted on the calendar from `startedAt`; warning and 200 % at 0.75 and 2
 * times that open time.
 */
export function clockTiming(
  policy: PolicyName,
  startedAt: number,
  config: TimingConfig,
  timeScale: number,
): ClockTiming {
  const calendar = policyCalendar(policy, config);
  if (calendar !== null) {
    try {
      const open = businessTargetMs(policy, startedAt, config, calendar);
      const scaled = Math.max(1, Math.round(open / timeScale));
      return {
        dueAt: addOpenTime(calendar, startedAt, scaled),
        stepsAt: {
          warning: addOpenTime(calendar, startedAt, Math.round(scaled * LADDER_FRACTION.warning)),
          overdue: addOpenTime(calendar, startedAt, scaled * LADDER_FRACTION.overdue),
        },
      };
    } catch (error) {
      // Validation makes this unreachable (every calendar opens each week); a clock must still run.
      if (!(error instanceof CalendarNeverOpensError)) throw error;
      console.error(`${error.message}: policy ${policy} runs around the clock`);
    }
  }
  const due = startedAt + Math.max(1, Math.round(responseWindowMs(policy, startedAt, config) / timeScale));
  return { dueAt: due, stepsAt: null };
}

function businessTargetMs(
  policy: PolicyName,
  startedAt: number,
  config: TimingConfig,
  calendar: BusinessCalendar,
): number {
  if (policy === "discord" && config.policies.discord.sameDay) {
    const late = config.policies.discord.lateWindowSeconds * 1000;
    return openTimeBetween(calendar, startedAt, businessSameDayDeadline(calendar, startedAt, late));
  }
  return config.policies[policy].firstResponseSeconds * 1000;
}

export const LADDER_STEPS = ["page", "warning", "breach", "overdue"] as const;
export type LadderStep = (typeof LADDER_STEPS)[number];

/** Where each step sits on a clock, as a share of its window (SPEC §5). */
export const LADDER_FRACTION: Record<LadderStep, number> = { page: 0, warning: 0.75, breach: 1, overdue: 2 };

/** Only critical clocks page at intake; every clock has the warning, breach and 200 % steps. */
export function ladderFor(policy: PolicyName): LadderStep[] {
  return policy === "critical" ? [...LADDER_STEPS] : ["warning", "breach", "overdue"];
}

export function stepAt(step: LadderStep, startedAt: number, due: number): number {
  return startedAt + Math.round((due - startedAt) * LADDER_FRACTION[step]);
}

export interface ClockState {
  policy: PolicyName;
  startedAt: number;
  dueAt: number;
  fired: readonly LadderStep[];
  /** Business-hours instants of steps (SPEC §14); absent or null: every step at its share. */
  stepsAt?: StepsAt | null;
}

/** When a step of this clock is due: its business-hours instant when it has one, else its share. */
export function clockStepAt(
  clock: Pick<ClockState, "startedAt" | "dueAt" | "stepsAt">,
  step: LadderStep,
): number {
  return clock.stepsAt?.[step] ?? stepAt(step, clock.startedAt, clock.dueAt);
}

/** Ladder steps of a clock that are due at `now` and not yet fired, in ladder order. */
export function dueSteps(clock: ClockState, now: number): LadderStep[] {
  return ladderFor(clock.policy).filter(
    (step) => !clock.fired.includes(step) && clockStepAt(clock, step) <= now,
  );
}

/** When the next unfired step of the clock is due, or null when the ladder is done. */
export function nextStepAt(clock: ClockState): number | null {
  const pending = ladderFor(clock.policy)
    .filter((step) => !clock.fired.includes(step))
    .map((step) => clockStepAt(clock, step));
  return pending.length === 0 ? null : Math.min(...pending);
}

/** "14:32 UTC" in the desk's zone, plus the date when it is not today. */
export function formatDeadline(due: number, now: number, timeZone: string): string {
  const time = dateTimeFormat("en-GB", {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).format(new Date(due));
  const day = dateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });
  if (day.format(new Date(due)) === day.format(new Date(now))) return time;
  const date = dateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
  }).format(new Date(due));
  return `${date}, ${time}`;
}

export function describeWindow(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} seconds`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} minutes`;
  if (ms < 2 * DAY_MS) {
    const hours = Math.round(ms / 3_600_000);
    return hours === 1 ? "1 hour" : `${hours} hours`;
  }
  return `${Math.round(ms / DAY_MS)} days`;
}

/** "4 business hours": open time is named in hours (a business day is no 24 hours), minutes under one. */
export function describeBusinessWindow(ms: number): string {
  if (ms < 60_000) return `${Math.max(1, Math.round(ms / 1000))} business seconds`;
  if (ms < 3_600_000) {
    const minutes = Math.round(ms / 60_000);
    return minutes === 1 ? "1 business minute" : `${minutes} business minutes`;
  }
  const hours = Math.round((ms / 3_600_000) * 2) / 2;
  return hours === 1 ? "1 business hour" : `${hours} business hours`;
}

/**
 * SPEC §14: the acknowledgement of a clock on a calendar names the business deadline in the
 * calendar's zone — "by Mon 7 Dec, 09:40 CET, within 4 business hours"; on Discord's same-day rule,
 * "by the end of the business day (Tue 8 Dec, 17:30 CET)".
 */
export function businessAcknowledgementText(
  ticketKey: string,
  policy: PolicyName,
  due: number,
  now: number,
  calendar: BusinessCalendar,
  config: TimingConfig,
): string {
  const by = formatDeadline(due, now, calendar.timezone);
  if (policy === "discord" && config.policies.discord.sameDay) {
    return `Thanks — we have your request as ${ticketKey}. We will reply by the end of the business day (${by}).`;
  }
  const within = describeBusinessWindow(openTimeBetween(calendar, now, due));
  return `Thanks — we have your request as ${ticketKey}. We will reply by ${by}, within ${within}.`;
}

/** The acknowledgement for a clock of this policy: business hours when the policy has a calendar. */
export function clockAcknowledgementText(
  ticketKey: string,
  policy: PolicyName,
  due: number,
  now: number,
  config: TimingConfig,
): string {
  const calendar = policyCalendar(policy, config);
  return calendar === null
    ? acknowledgementText(ticketKey, policy, due, now, config.timezone)
    : businessAcknowledgementText(ticketKey, policy, due, now, calendar, config);
}

export function acknowledgementText(
  ticketKey: string,
  policy: PolicyName,
  due: number,
  now: number,
  timeZone: string,
): string {
  const by = formatDeadline(due, now, timeZone);
  if (policy === "discord" && isLocalMidnight(due, timeZone)) {
    // "by Wed 6 Mar, 00:00" reads like the wrong day: name the day whose end it is.
    const day = dateTimeFormat("en-GB", {
      timeZone,
      weekday: "short",
      day: "numeric",
      month: "short",
    });
    const lastDay = day.format(new Date(due - 1));
    const when =
      lastDay === day.format(new Date(now))
        ? "today"
        : lastDay === day.format(new Date(now + DAY_MS))
          ? "tomorrow"
          : lastDay;
    const zone = by.split(" ").at(-1) ?? timeZone;
    return `Thanks — we have your request as ${ticketKey}. We will reply by the end of ${when} (${lastDay}, 24:00 ${zone}).`;
  }
  const within = policy === "discord" ? "the same day" : `within ${describeWindow(due - now)}`;
  return `Thanks — we have your request as ${ticketKey}. We will reply by ${by}, ${within}.`;
}

function isLocalMidnight(instant: number, timeZone: string): boolean {
  return localMidnight(instant, timeZone, 0) === instant;
}

/**
 * SPEC §14: the policies whose running clocks a config change re-times from their start — those
 * on a calendar before or after, whose calendar, hours, holidays, zone or target changed.
 * Around-the-clock policies keep today's rule: a new target applies to clocks that start after it.
 */
export function retimedPolicies(before: TimingConfig, after: TimingConfig): PolicyName[] {
  const names = Object.keys(after.policies) as PolicyName[];
  return names.filter((policy) => {
    const was = policyCalendar(policy, before);
    const is = policyCalendar(policy, after);
    if (was === null && is === null) return false;
    const timing = (config: TimingConfig, calendar: BusinessCalendar | null) =>
      JSON.stringify({
        settings: config.policies[policy],
        calendar: calendar === null ? null : { ...calendar, id: undefined },
      });
    return timing(before, was) !== timing(after, is);
  });
}

/**
 * SPEC §14, for the console: a clock on a calendar that is closed at `now` is paused; when it
 * resumes (the calendar's next opening). Null when the clock counts now (or runs around the clock).
 */
export function clockPausedUntil(policy: PolicyName, now: number, config: TimingConfig): number | null {
  const calendar = policyCalendar(policy, config);
  if (calendar === null) return null;
  try {
    const opening = nextOpening(calendar, now);
    return opening > now ? opening : null;
  } catch (error) {
    if (error instanceof CalendarNeverOpensError) return null;
    throw error;
  }
}
