import type { Config, PolicyName } from "./config";
import { dateTimeFormat } from "./intl";

const DAY_MS = 86_400_000;

/** Offset of `timeZone` from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = dateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((part) => part.type === type)?.value ?? 0);
  const wallClockAsUtc = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return wallClockAsUtc - Math.floor(instant / 1000) * 1000;
}

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

export function dueAt(
  policy: PolicyName,
  startedAt: number,
  config: Pick<Config, "policies" | "timezone">,
  timeScale: number,
): number {
  return startedAt + Math.max(1, Math.round(responseWindowMs(policy, startedAt, config) / timeScale));
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
}

/** Ladder steps of a clock that are due at `now` and not yet fired, in ladder order. */
export function dueSteps(clock: ClockState, now: number): LadderStep[] {
  return ladderFor(clock.policy).filter(
    (step) => !clock.fired.includes(step) && stepAt(step, clock.startedAt, clock.dueAt) <= now,
  );
}

/** When the next unfired step of the clock is due, or null when the ladder is done. */
export function nextStepAt(clock: ClockState): number | null {
  const pending = ladderFor(clock.policy)
    .filter((step) => !clock.fired.includes(step))
    .map((step) => stepAt(step, clock.startedAt, clock.dueAt));
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
