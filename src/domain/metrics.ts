/**
 * The four support metrics (SPEC §8). The store computes them in SQL; this module holds their
 * definitions, so the SQL and its tests agree on what a median is.
 */

/**
 * Percentile with linear interpolation between closest ranks (what PERCENTILE_CONT and numpy's
 * default do): position p·(n−1) in the sorted values. The median of [1, 2, 3, 10] is 2.5.
 */
export function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = p * (sorted.length - 1);
  const lower = Math.floor(position);
  const fraction = position - lower;
  const low = sorted[lower] ?? 0;
  const high = sorted[Math.min(lower + 1, sorted.length - 1)] ?? low;
  return low + (high - low) * fraction;
}

export interface FirstResponseMetric {
  count: number;
  medianSeconds: number | null;
  p90Seconds: number | null;
  /** Share answered by the deadline; still-unanswered tickets past it count as misses, not-yet-due ones are left out. */
  withinTargetRate: number | null;
}

export interface ResolutionMetric {
  count: number;
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface CustomerEffortMetric {
  responses: number;
  /** Mean answer to "How easy was it to get help?" on 1 (very hard) … 7 (very easy). */
  average: number | null;
}

export interface ImprovementsMetric {
  resolved: number;
  withImprovement: number;
  ratio: number | null;
  /** Resolved tickets with at least one improvement whose fix has shipped (SPEC §8, §13). */
  shipped: number;
  /** `shipped` over `resolved`: the share of tickets that led to a product change. */
  shippedRatio: number | null;
}

/**
 * Promised updates (SPEC §16) made in the window: `kept` were fulfilled (a public staff reply or a
 * resolve) by the promised time; `broken` passed it without; the rest are not yet due and stay
 * out of `keptRate` = kept / (kept + broken).
 */
export interface PromisesMetric {
  made: number;
  kept: number;
  broken: number;
  keptRate: number | null;
}

export interface MetricSet {
  tickets: number;
  firstResponse: FirstResponseMetric;
  resolution: ResolutionMetric;
  customerEffort: CustomerEffortMetric;
  issuesToImprovements: ImprovementsMetric;
  promises: PromisesMetric;
}

export interface MetricsReport extends MetricSet {
  from: string;
  to: string;
  byChannel: Record<string, MetricSet>;
  byTeam: Record<string, MetricSet>;
}

export function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}

export function emptyMetricSet(): MetricSet {
  return {
    tickets: 0,
    firstResponse: { count: 0, medianSeconds: null, p90Seconds: null, withinTargetRate: null },
    resolution: { count: 0, medianSeconds: null, p90Seconds: null },
    customerEffort: { responses: 0, average: null },
    issuesToImprovements: { resolved: 0, withImprovement: 0, ratio: null, shipped: 0, shippedRatio: null },
    promises: { made: 0, kept: 0, broken: 0, keptRate: null },
  };
}

export const DEFAULT_WINDOW_MS = 30 * 86_400_000;

/**
 * The metrics' summary (store `metrics_days`) is kept per UTC day of creation. A window [from, to)
 * is read as whole days of it plus or minus the partial days at its ends, each taken from the
 * tickets themselves: `days` (day numbers, `from` inclusive, `to` exclusive) and `pieces` (ms).
 * At each end the shorter of "add the part inside" and "subtract the part outside" is chosen, so
 * at most half a day of tickets is read at each end (and a window ending now subtracts the rest of
 * today, which holds no tickets yet).
 */
export interface WindowCover {
  days: { from: number; to: number } | null;
  pieces: { from: number; to: number; sign: 1 | -1 }[];
}

export const DAY_MS = 86_400_000;

export function coverWindow(from: number, to: number): WindowCover {
  if (!(from < to)) return { days: null, pieces: [] };
  const first = Math.floor(from / DAY_MS);
  const end = Math.ceil(to / DAY_MS);
  const pieces: WindowCover["pieces"] = [];
  const piece = (a: number, b: number, sign: 1 | -1) => {
    if (a < b) pieces.push({ from: a, to: b, sign });
  };
  if (end - first === 1) {
    // Inside one day: the window itself, or the day without what is outside the window.
    if (to - from <= DAY_MS - (to - from)) {
      piece(from, to, 1);
      return { days: null, pieces };
    }
    piece(first * DAY_MS, from, -1);
    piece(to, end * DAY_MS, -1);
    return { days: { from: first, to: end }, pieces };
  }
  let dayFrom = first;
  if (from - first * DAY_MS > (first + 1) * DAY_MS - from) {
    dayFrom = first + 1;
    piece(from, dayFrom * DAY_MS, 1);
  } else piece(first * DAY_MS, from, -1);
  let dayTo = end;
  if (end * DAY_MS - to > to - (end - 1) * DAY_MS) {
    dayTo = end - 1;
    piece(dayTo * DAY_MS, to, 1);
  } else piece(to, end * DAY_MS, -1);
  return { days: dayFrom < dayTo ? { from: dayFrom, to: dayTo } : null, pieces };
}

/**
 * Histogram bucket of a duration in ms: below 100, the value itself; from 100 on, the value with
 * all but its two leading decimal digits zeroed (3,456,789 → 3,400,000), so a bucket is 1–10 %
 * wide at any scale. Integer arithmetic on the decimal digits: the store computes the same in SQL.
 */
export function durationBucket(ms: number): number {
  if (ms < 100) return ms;
  const step = 10 ** (String(ms).length - 2);
  return Math.floor(ms / step) * step;
}

/** The first duration past bucket `lower` (the next bucket's lower bound). */
export function bucketEnd(lower: number): number {
  if (lower < 100) return lower + 1;
  return lower + 10 ** (String(lower).length - 2);
}

/**
 * Where percentile p of the n values a histogram counts lies: the value at rank `lower` (from 0)
 * and, if there is one, the next (`take` is 2, else 1), interpolated by `fraction` as `percentile`
 * does. Both lie in [`from`, `to`), which holds `count` of the values; the first is at `offset`
 * among them. Buckets are lower bounds (`durationBucket`) → counts.
 */
export function locatePercentile(
  histogram: ReadonlyMap<number, number>,
  p: number,
): { fraction: number; from: number; to: number; offset: number; take: 1 | 2; count: number } | null {
  const buckets = [...histogram.entries()].filter(([, n]) => n > 0).sort(([a], [b]) => a - b);
  const n = buckets.reduce((sum, [, count]) => sum + count, 0);
  if (n === 0) return null;
  const position = (n - 1) * p;
  const lower = Math.floor(position);
  const upper = Math.min(lower + 1, n - 1);
  let below = 0;
  let start: { bucket: number; below: number } | null = null;
  for (const [bucket, count] of buckets) {
    if (start === null && lower < below + count) start = { bucket, below };
    if (start !== null && upper < below + count) {
      return {
        fraction: position - lower,
        from: start.bucket,
        to: bucketEnd(bucket),
        offset: lower - start.below,
        take: upper > lower ? 2 : 1,
        count: below + count - start.below,
      };
    }
    below += count;
  }
  throw new Error("a histogram's ranks ran past its count");
}
