import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  bucketEnd,
  coverWindow,
  DAY_MS,
  durationBucket,
  locatePercentile,
  percentile,
} from "../../src/domain/metrics";
import { metricsDaysMigrationSql } from "../../src/store/metrics-days";

const root = path.join(import.meta.dirname, "..", "..");

describe("the metrics_days migration", () => {
  it("carries exactly the triggers and backfill metricsDaysMigrationSql() writes", () => {
    const dir = path.join(root, "migrations");
    const file = fs.readdirSync(dir).find((f) => f.endsWith("_metrics_durations.sql"));
    expect(file, "the migration that creates metrics_days").toBeDefined();
    const text = fs.readFileSync(path.join(dir, file ?? ""), "utf8");
    expect(text).toContain(metricsDaysMigrationSql());
    // drizzle-kit cannot say it: one b-tree keyed (day, channel, team), so a window's days are one
    // range of the primary key whatever the planner's statistics.
    expect(text).toMatch(/CREATE TABLE `metrics_days` \([^;]*\) WITHOUT ROWID;/);
    for (const table of ["tickets", "improvements", "surveys"]) {
      expect(text).toMatch(new RegExp(`after insert on ${table} begin`));
      expect(text).toMatch(new RegExp(`after delete on ${table} begin`));
    }
  });
});

describe("duration buckets", () => {
  it.each([
    [0, 0, 1],
    [99, 99, 100],
    [100, 100, 110],
    [109, 100, 110],
    [999, 990, 1000],
    [3_456_789, 3_400_000, 3_500_000],
    [9_999_999, 9_900_000, 10_000_000],
    [-5, -5, -4],
  ])("%i ms falls in [%i, %i)", (ms, lower, end) => {
    expect(durationBucket(ms)).toBe(lower);
    expect(bucketEnd(lower)).toBe(end);
  });

  it("are contiguous, ordered and 1–10 % wide: each duration lies in [bucket, bucketEnd(bucket))", () => {
    fc.assert(
      fc.property(fc.integer({ min: -1000, max: 2 ** 50 }), (ms) => {
        const lower = durationBucket(ms);
        expect(lower).toBeLessThanOrEqual(ms);
        expect(ms).toBeLessThan(bucketEnd(lower));
        expect(durationBucket(bucketEnd(lower))).toBe(bucketEnd(lower));
        if (lower >= 100) expect((bucketEnd(lower) - lower) / lower).toBeLessThanOrEqual(0.1);
      }),
    );
  });
});

describe("coverWindow", () => {
  /** Which instants the cover counts: +1 per whole day holding it, ±1 per piece. */
  const weight = (cover: ReturnType<typeof coverWindow>, t: number) => {
    let w = 0;
    const day = Math.floor(t / DAY_MS);
    if (cover.days !== null && day >= cover.days.from && day < cover.days.to) w += 1;
    for (const p of cover.pieces) if (t >= p.from && t < p.to) w += p.sign;
    return w;
  };

  it("counts every instant of the window once and none outside, reading at most half a day at each end", () => {
    const instant = fc.integer({ min: 0, max: 60 * DAY_MS });
    fc.assert(
      fc.property(instant, instant, fc.array(instant, { maxLength: 20 }), (a, b, probes) => {
        const [from, to] = a <= b ? [a, b] : [b, a];
        const cover = coverWindow(from, to);
        const edges = [from - 1, from, to - 1, to, from + 1, to + 1];
        for (const t of [...edges, ...probes]) {
          expect(weight(cover, t), `t=${t} in [${from}, ${to})`).toBe(t >= from && t < to ? 1 : 0);
        }
        const read = cover.pieces.reduce((sum, p) => sum + (p.to - p.from), 0);
        expect(read).toBeLessThanOrEqual(DAY_MS);
        for (const p of cover.pieces) expect(p.to - p.from).toBeLessThanOrEqual(DAY_MS / 2);
      }),
    );
  });

  it("reads nothing of the tickets for whole days, and nothing for an empty window", () => {
    expect(coverWindow(3 * DAY_MS, 10 * DAY_MS)).toEqual({ days: { from: 3, to: 10 }, pieces: [] });
    expect(coverWindow(5, 5)).toEqual({ days: null, pieces: [] });
  });

  it("a 30-day window ending now subtracts the rest of today instead of reading its first hours", () => {
    const now = 100 * DAY_MS + 18 * 3_600_000;
    const cover = coverWindow(now - 30 * DAY_MS, now);
    expect(cover.days).toEqual({ from: 71, to: 101 });
    expect(cover.pieces).toEqual([
      { from: now - 30 * DAY_MS, to: 71 * DAY_MS, sign: 1 },
      { from: now, to: 101 * DAY_MS, sign: -1 },
    ]);
  });
});

describe("locatePercentile", () => {
  it("finds the bucket and offset of the ranks the defined percentile interpolates", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10_000_000 }), { minLength: 1, maxLength: 300 }),
        fc.constantFrom(0.5, 0.9),
        (values, p) => {
          const histogram = new Map<number, number>();
          for (const v of values)
            histogram.set(durationBucket(v), (histogram.get(durationBucket(v)) ?? 0) + 1);
          const at = locatePercentile(histogram, p);
          expect(at).not.toBeNull();
          if (at === null) return;
          // Read the way the store walks: the values in [from, to), in order, from `offset`.
          const inRange = values.filter((v) => v >= at.from && v < at.to).sort((x, y) => x - y);
          expect(inRange.length).toBe(at.count);
          const read = inRange.slice(at.offset, at.offset + at.take);
          expect(read.length).toBe(at.take);
          const [low = 0, high = low] = read;
          expect(low + (high - low) * at.fraction).toBeCloseTo(percentile(values, p) ?? Number.NaN, 6);
        },
      ),
    );
  });

  it("has nothing to find in an empty histogram", () => {
    expect(locatePercentile(new Map(), 0.5)).toBeNull();
    expect(locatePercentile(new Map([[100, 0]]), 0.9)).toBeNull();
  });
});
