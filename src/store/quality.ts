import { emptyMetricSet, type MetricsReport } from "../domain/metrics";
import {
  PUBLIC_CHANNELS,
  type PublicChannel,
  type QualityReport,
  type QualityScope,
  qualitySet,
  weeksOf,
} from "../domain/quality";
import type { Database } from "./db";
import { computeMetrics } from "./metrics";

/** The desk, the public channels together, and each public channel, over [from, to). */
async function scope(db: Database, from: number, to: number, now: number): Promise<QualityScope> {
  const [desk, publicChannels] = await Promise.all([
    computeMetrics(db, { from, to, now }),
    computeMetrics(db, { from, to, now, channels: PUBLIC_CHANNELS }),
  ]);
  const channel = (report: MetricsReport, name: PublicChannel) =>
    qualitySet(report.byChannel[name] ?? emptyMetricSet());
  return {
    desk: qualitySet(desk),
    publicChannels: qualitySet(publicChannels),
    byChannel: { github: channel(publicChannels, "github"), discord: channel(publicChannels, "discord") },
  };
}

/**
 * SPEC §16's public report for the window [from, to): the whole window, then each ISO week in it.
 * Two metric computations per scope (the desk, and the public channels, whose `byChannel` gives
 * each of them); callers cache the result (http/routes/quality.ts) so a crowd never reaches D1.
 */
export async function computeQuality(
  db: Database,
  window: { from: number; to: number; now: number },
): Promise<QualityReport> {
  const weeks = weeksOf(window.from, window.to);
  const [whole, ...perWeek] = await Promise.all([
    scope(db, window.from, window.to, window.now),
    ...weeks.map((w) => scope(db, w.from, w.to, window.now)),
  ]);
  if (whole === undefined) throw new Error("the quality report's window is missing");
  return {
    from: new Date(window.from).toISOString(),
    to: new Date(window.to).toISOString(),
    publicChannelNames: [...PUBLIC_CHANNELS],
    ...whole,
    weeks: weeks.map((w, i) => {
      const numbers = perWeek[i];
      if (numbers === undefined) throw new Error(`the quality report's week ${w.week} is missing`);
      return {
        week: w.week,
        from: new Date(w.from).toISOString(),
        to: new Date(w.to).toISOString(),
        ...numbers,
      };
    }),
  };
}
