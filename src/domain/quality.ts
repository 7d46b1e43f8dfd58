import type { MetricSet } from "./metrics";
import { isoWeekLabel, isoWeekStart } from "./weeks";

/**
 * The public response-quality report (SPEC §16): the four metrics and the promise-keeping rate
 * over the last 30 days, for the public channels and the desk as a whole, by channel and by ISO
 * week. Counts, rates and durations only: it is built from `MetricSet`s, which hold nothing else,
 * and carries no team (a team's name is the desk's own business), no subject, name, text or key.
 */

/** The channels whose conversations are public by default (SPEC §1). */
export const PUBLIC_CHANNELS = ["github", "discord"] as const;
export type PublicChannel = (typeof PUBLIC_CHANNELS)[number];

export const QUALITY_WINDOW_MS = 30 * 86_400_000;

/**
 * The report is the same for everyone within one bucket of this length: its window ends at the
 * bucket's start, so every isolate and every cache holds the same numbers for it.
 */
export const QUALITY_BUCKET_MS = 5 * 60_000;

/** One set of numbers, exactly the fields a `MetricSet` has that are safe to show anyone. */
export type QualitySet = Pick<
  MetricSet,
  "tickets" | "firstResponse" | "resolution" | "customerEffort" | "issuesToImprovements" | "promises"
>;

export interface QualityScope {
  /** The desk as a whole: every channel. */
  desk: QualitySet;
  /** `github` and `discord` together. */
  publicChannels: QualitySet;
  byChannel: Record<PublicChannel, QualitySet>;
}

export interface QualityWeek extends QualityScope {
  /** ISO 8601 week, e.g. `2026-W49`. */
  week: string;
  /** The part of the week inside the report's window, [from, to). */
  from: string;
  to: string;
}

export interface QualityReport extends QualityScope {
  from: string;
  to: string;
  publicChannelNames: PublicChannel[];
  /** Oldest first. */
  weeks: QualityWeek[];
}

/** Only the safe fields, copied one by one: anything a `MetricSet` gains later stays out until added here. */
export function qualitySet(set: MetricSet): QualitySet {
  return {
    tickets: set.tickets,
    firstResponse: {
      count: set.firstResponse.count,
      medianSeconds: set.firstResponse.medianSeconds,
      p90Seconds: set.firstResponse.p90Seconds,
      withinTargetRate: set.firstResponse.withinTargetRate,
    },
    resolution: {
      count: set.resolution.count,
      medianSeconds: set.resolution.medianSeconds,
      p90Seconds: set.resolution.p90Seconds,
    },
    customerEffort: { responses: set.customerEffort.responses, average: set.customerEffort.average },
    issuesToImprovements: {
      resolved: set.issuesToImprovements.resolved,
      withImprovement: set.issuesToImprovements.withImprovement,
      ratio: set.issuesToImprovements.ratio,
      shipped: set.issuesToImprovements.shipped,
      shippedRatio: set.issuesToImprovements.shippedRatio,
    },
    promises: {
      made: set.promises.made,
      kept: set.promises.kept,
      broken: set.promises.broken,
      keptRate: set.promises.keptRate,
    },
  };
}

const DAY_MS = 86_400_000;

/** The ISO week (`2026-W49`) of a UTC instant: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(instant: number): string {
  return isoWeekLabel(isoWeekStart(instant));
}

export { isoWeekStart };

/** The ISO weeks that overlap [from, to), each clipped to it, oldest first. */
export function weeksOf(from: number, to: number): { week: string; from: number; to: number }[] {
  const weeks: { week: string; from: number; to: number }[] = [];
  for (let start = isoWeekStart(from); start < to; start += 7 * DAY_MS) {
    weeks.push({ week: isoWeek(start), from: Math.max(start, from), to: Math.min(start + 7 * DAY_MS, to) });
  }
  return weeks;
}

/** The report's window for a request at `now`: the last 30 days up to the current bucket's start. */
export function qualityWindow(now: number): { from: number; to: number; bucket: number } {
  const bucket = Math.floor(now / QUALITY_BUCKET_MS);
  const to = bucket * QUALITY_BUCKET_MS;
  return { from: to - QUALITY_WINDOW_MS, to, bucket };
}
