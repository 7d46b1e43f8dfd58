import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type MetricsReport, percentile } from "../../src/domain/metrics";
import { app } from "../../src/http/app";
import { database } from "../../src/store/db";
import { meteredD1, newMeter } from "../../src/store/metered";
import { choosePercentileStrategy, computeMetrics, type PercentileStrategy } from "../../src/store/metrics";
import { TOKEN } from "./helpers";

const CHANNELS = ["api", "email", "slack", "github", "discord"] as const;
const TEAMS = ["support", "billing", "platform"] as const;

interface Seeded {
  channel: (typeof CHANNELS)[number];
  team: (typeof TEAMS)[number];
  /** Seconds from creation to the first response / resolution; null when it has not happened. */
  firstResponse: number | null;
  resolution: number | null;
}

const seededTicket = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  team: fc.constantFrom(...TEAMS),
  firstResponse: fc.option(fc.integer({ min: 0, max: 200_000 }), { nil: null }),
  resolution: fc.option(fc.integer({ min: 0, max: 900_000 }), { nil: null }),
});

/** Tickets written straight into D1, created one second apart from `start`. */
async function seed(tickets: readonly Seeded[], start: number): Promise<void> {
  const statements = tickets.map((t, i) => {
    const created = start + i * 1000;
    return env.DB.prepare(
      `insert into tickets (channel, subject, status, priority, policy, team, visibility, security,
         escalation_level, requester_name, created_at, updated_at, first_response_at, resolved_at,
         clock_seq, first_due_at, queue_due_at, breached, revision)
       values (?, 'seeded', ?, 'normal', ?, ?, 'private', 0, 0, 'Seed', ?, ?, ?, ?, 1, ?, ?, 0, 1)`,
    ).bind(
      t.channel,
      t.resolution === null ? "pending" : "resolved",
      t.channel,
      t.team,
      created,
      created,
      t.firstResponse === null ? null : created + t.firstResponse * 1000,
      t.resolution === null ? null : created + t.resolution * 1000,
      created + 86_400_000,
      t.resolution === null ? 8_640_000_000_000_000 : 8_640_000_000_000_001,
    );
  });
  for (let i = 0; i < statements.length; i += 50) await env.DB.batch(statements.slice(i, i + 50));
}

/** What the report should say about one group's durations, from the definition in domain/metrics. */
function expected(values: number[]) {
  return {
    count: values.length,
    medianSeconds: percentile(values, 0.5),
    p90Seconds: percentile(values, 0.9),
  };
}

function durationsOf(tickets: readonly Seeded[], pick: (t: Seeded) => number | null): number[] {
  return tickets.map(pick).filter((v): v is number => v !== null);
}

function assertPercentiles(report: MetricsReport, tickets: readonly Seeded[]) {
  const check = (set: MetricsReport | undefined, subset: readonly Seeded[]) => {
    if (subset.length === 0) return;
    expect(set).toBeDefined();
    const fr = expected(durationsOf(subset, (t) => t.firstResponse));
    const rs = expected(durationsOf(subset, (t) => t.resolution));
    expect(set?.firstResponse.count ?? 0).toBe(fr.count);
    if (fr.count > 0) {
      expect(set?.firstResponse.medianSeconds).toBeCloseTo(fr.medianSeconds ?? Number.NaN, 6);
      expect(set?.firstResponse.p90Seconds).toBeCloseTo(fr.p90Seconds ?? Number.NaN, 6);
    }
    expect(set?.resolution.count ?? 0).toBe(rs.count);
    if (rs.count > 0) {
      expect(set?.resolution.medianSeconds).toBeCloseTo(rs.medianSeconds ?? Number.NaN, 6);
      expect(set?.resolution.p90Seconds).toBeCloseTo(rs.p90Seconds ?? Number.NaN, 6);
    }
  };
  check(report, tickets);
  for (const channel of CHANNELS) {
    check(
      report.byChannel[channel] as MetricsReport | undefined,
      tickets.filter((t) => t.channel === channel),
    );
  }
  for (const team of TEAMS) {
    check(
      report.byTeam[team] as MetricsReport | undefined,
      tickets.filter((t) => t.team === team),
    );
  }
}

let window = Date.parse("2040-01-01T00:00:00Z");

describe("metrics percentiles", () => {
  it("walking the duration indexes and ranking the window give the defined percentiles, for any tickets", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seededTicket, { minLength: 1, maxLength: 60 }), async (tickets) => {
        // Each run gets a window of its own, after every earlier one.
        window += 30 * 86_400_000;
        await seed(tickets, window);
        const q = { from: window, to: window + tickets.length * 1000, now: window + 90 * 86_400_000 };
        for (const strategy of ["ordered", "ranked"] as PercentileStrategy[]) {
          const report = await computeMetrics(database(env.DB), q, { percentiles: strategy });
          expect(report.tickets).toBe(tickets.length);
          assertPercentiles(report, tickets);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("the ordered walk skips tickets outside the window on both sides", async () => {
    window += 30 * 86_400_000;
    const before: Seeded[] = Array.from({ length: 20 }, (_, i) => ({
      channel: "api",
      team: "support",
      firstResponse: i,
      resolution: 1000 + i,
    }));
    const inside: Seeded[] = [
      { channel: "api", team: "support", firstResponse: 50, resolution: 5000 },
      { channel: "email", team: "billing", firstResponse: 70, resolution: null },
      { channel: "api", team: "support", firstResponse: null, resolution: 9000 },
      { channel: "slack", team: "support", firstResponse: 10, resolution: 7000 },
    ];
    await seed([...before, ...inside, ...before], window);
    const q = {
      from: window + before.length * 1000,
      to: window + (before.length + inside.length) * 1000,
      now: window + 90 * 86_400_000,
    };
    const report = await computeMetrics(database(env.DB), q, { percentiles: "ordered" });
    expect(report.tickets).toBe(4);
    assertPercentiles(report, inside);
    // First responses 10, 50, 70 s: median 50, p90 = 50 + 0.8 × 20.
    expect(report.firstResponse.medianSeconds).toBe(50);
    expect(report.firstResponse.p90Seconds).toBeCloseTo(66, 9);
  });

  it("GET /v1/metrics over a window holding the whole desk walks the indexes, and agrees with ranking", async () => {
    // This file's D1 holds only what it seeded; a window over all of it takes the ordered path.
    const all = { from: new Date(0).toISOString(), to: new Date(Date.parse("2100-01-01")).toISOString() };
    const meter = newMeter();
    const response = await app.request(
      `https://desk.test/v1/metrics?from=${all.from}&to=${all.to}`,
      { headers: { authorization: `Bearer ${TOKEN}` } },
      { ...env, DB: meteredD1(env.DB, meter) },
    );
    expect(response.status).toBe(200);
    const viaApi = (await response.json()) as MetricsReport;
    expect(meter.statements.some((s) => /indexed by tickets_first_response_rank\b/.test(s.sql))).toBe(true);
    expect(meter.statements.some((s) => /row_number\(\) over/.test(s.sql))).toBe(false);
    const ranked = await computeMetrics(
      database(env.DB),
      { from: 0, to: Date.parse(all.to), now: Date.now() },
      { percentiles: "ranked" },
    );
    expect(viaApi.tickets).toBe(ranked.tickets);
    expect(viaApi.tickets).toBeGreaterThan(0);
    expect(viaApi.firstResponse.medianSeconds).toBeCloseTo(
      ranked.firstResponse.medianSeconds ?? Number.NaN,
      6,
    );
    expect(viaApi.firstResponse.p90Seconds).toBeCloseTo(ranked.firstResponse.p90Seconds ?? Number.NaN, 6);
    expect(viaApi.resolution.medianSeconds).toBeCloseTo(ranked.resolution.medianSeconds ?? Number.NaN, 6);
    expect(viaApi.resolution.p90Seconds).toBeCloseTo(ranked.resolution.p90Seconds ?? Number.NaN, 6);
    expect(Object.keys(viaApi.byTeam).sort()).toEqual(Object.keys(ranked.byTeam).sort());
  });
});

describe("choosePercentileStrategy", () => {
  it("walks the indexes when the window holds much of the desk, ranks otherwise or when filtered", () => {
    expect(choosePercentileStrategy({}, 100_000, 100_000)).toBe("ordered");
    expect(choosePercentileStrategy({}, 30_000, 100_000)).toBe("ordered");
    expect(choosePercentileStrategy({}, 29_999, 100_000)).toBe("ranked");
    expect(choosePercentileStrategy({ team: "support" }, 100_000, 100_000)).toBe("ranked");
    expect(choosePercentileStrategy({ channel: "api" }, 100_000, 100_000)).toBe("ranked");
    expect(choosePercentileStrategy({}, 0, 0)).toBe("ranked");
  });
});
