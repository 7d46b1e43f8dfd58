import type { MetricSet } from "../domain/metrics";
import { lastIsoWeeks } from "../domain/weeks";
import type { Database } from "./db";
import { computeMetrics } from "./metrics";

export interface TrendWeek extends MetricSet {
  week: string;
  from: string;
  to: string;
}

/**
 * The four metrics per ISO week (UTC weeks, Monday first), oldest first, for tickets created in
 * each week: the same queries as `GET /v1/metrics` over each week's window (index tickets_created).
 * The current week is included and still filling.
 */
export async function computeTrend(
  db: Database,
  q: { weeks: number; now: number; team?: string | undefined; channel?: string | undefined },
): Promise<TrendWeek[]> {
  const weeks = lastIsoWeeks(q.now, q.weeks);
  return Promise.all(
    weeks.map(async (w) => {
      const report = await computeMetrics(db, {
        from: w.from,
        to: w.to,
        now: q.now,
        ...(q.team === undefined ? {} : { team: q.team }),
        ...(q.channel === undefined ? {} : { channel: q.channel }),
      });
      return {
        week: w.week,
        from: new Date(w.from).toISOString(),
        to: new Date(w.to).toISOString(),
        tickets: report.tickets,
        firstResponse: report.firstResponse,
        resolution: report.resolution,
        customerEffort: report.customerEffort,
        issuesToImprovements: report.issuesToImprovements,
        promises: report.promises,
      };
    }),
  );
}
