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
