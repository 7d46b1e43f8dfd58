import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  DAY_MS,
  durationBucket,
  type MetricSet,
  type MetricsReport,
  percentile,
  ratio,
} from "../../src/domain/metrics";
import { database } from "../../src/store/db";
import { meteredD1, newMeter } from "../../src/store/metered";
import { computeMetrics, type MetricsQuery, type PercentileStrategy } from "../../src/store/metrics";
import { advanceTo, fakeOutbound, flush, HOUR, postMessage, request, useConfig } from "./helpers";

const CHANNELS = ["api", "email", "slack", "github", "discord"] as const;
const TEAMS = ["support", "billing", "platform"] as const;

interface TicketRow {
  number: number;
  channel: string;
  team: string;
  created_at: number;
  first_response_at: number | null;
  first_due_at: number | null;
  resolved_at: number | null;
}

/** Every ticket, improvement and answered survey of the database, as the definition reads them. */
async function everything() {
  const [tickets, improvements, surveys] = await env.DB.batch([
    env.DB.prepare(
      "select number, channel, team, created_at, first_response_at, first_due_at, resolved_at from tickets",
    ),
    env.DB.prepare("select ticket_number, state from improvements"),
    env.DB.prepare("select ticket_number, score from surveys where score is not null"),
  ]);
  return {
    tickets: (tickets?.results ?? []) as unknown as TicketRow[],
    improvements: (improvements?.results ?? []) as unknown as { ticket_number: number; state: string }[],
    surveys: (surveys?.results ?? []) as unknown as { ticket_number: number; score: number }[],
  };
}

/** `metrics_days` recounted from scratch, as its triggers should have kept it. */
interface Cell {
  tickets: number;
  responded: number;
  hits: number;
  due_responded: number;
  due_open: number;
  resolved: number;
  improved: number;
  shipped: number;
  effort_responses: number;
  effort_total: number;
  first_response: Record<string, number>;
  resolution: Record<string, number>;
  due_day: number | null;
}

function recount(all: Awaited<ReturnType<typeof everything>>) {
  const cells = new Map<string, Cell>();
  for (const t of all.tickets) {
    const key = `${Math.floor(t.created_at / DAY_MS)}|${t.channel}|${t.team}`;
    const c: Cell = cells.get(key) ?? {
      tickets: 0,
      responded: 0,
      hits: 0,
      due_responded: 0,
      due_open: 0,
      resolved: 0,
      improved: 0,
      shipped: 0,
      effort_responses: 0,
      effort_total: 0,
      first_response: {},
      resolution: {},
      due_day: null,
    };
    cells.set(key, c);
    c.tickets += 1;
    if (t.first_response_at !== null) {
      c.responded += 1;
      const b = String(durationBucket(t.first_response_at - t.created_at));
      c.first_response[b] = (c.first_response[b] ?? 0) + 1;
    }
    if (t.first_response_at !== null && t.first_due_at !== null && t.first_response_at <= t.first_due_at)
      c.hits += 1;
    if (t.first_due_at !== null && t.first_response_at !== null) c.due_responded += 1;
    if (t.first_due_at !== null && t.first_response_at === null) {
      c.due_open += 1;
      c.due_day = Math.max(c.due_day ?? -Infinity, Math.floor(t.first_due_at / DAY_MS));
    }
    if (t.resolved_at !== null) {
      c.resolved += 1;
      const b = String(durationBucket(t.resolved_at - t.created_at));
      c.resolution[b] = (c.resolution[b] ?? 0) + 1;
      const own = all.improvements.filter((i) => i.ticket_number === t.number);
      if (own.length > 0) c.improved += 1;
      if (own.some((i) => i.state === "shipped")) c.shipped += 1;
    }
    for (const s of all.surveys.filter((s) => s.ticket_number === t.number)) {
      c.effort_responses += 1;
      c.effort_total += s.score;
    }
  }
  return cells;
}

async function assertSummaryTrue(): Promise<number> {
  const expected = recount(await everything());
  const stored = await env.DB.prepare("select * from metrics_days").all<Record<string, unknown>>();
  const seen = new Set<string>();
  for (const row of stored.results) {
    const key = `${row.day}|${row.channel}|${row.team}`;
    const want = expected.get(key);
    const histogram = (text: unknown) =>
      Object.fromEntries(
        Object.entries(JSON.parse(String(text)) as Record<string, number>).filter(([, n]) => n !== 0),
      );
    const got = {
      tickets: row.tickets,
      responded: row.responded,
      hits: row.hits,
      due_responded: row.due_responded,
      due_open: row.due_open,
      resolved: row.resolved,
      improved: row.improved,
      shipped: row.shipped,
      effort_responses: row.effort_responses,
      effort_total: row.effort_total,
      first_response: histogram(row.first_response),
      resolution: histogram(row.resolution),
    };
    if (want === undefined) {
      // A cell every ticket left (a team change): all zeros.
      expect(got, key).toEqual({
        ...got,
        tickets: 0,
        responded: 0,
        resolved: 0,
        first_response: {},
        resolution: {},
      });
      continue;
    }
    seen.add(key);
    const { due_day, ...counts } = want;
    expect(got, key).toEqual(counts);
    // An upper bound of the unanswered tickets' deadline days: never below the real one.
    if (due_day !== null) expect(Number(row.unanswered_due_day), key).toBeGreaterThanOrEqual(Number(due_day));
  }
  expect([...expected.keys()].filter((k) => !seen.has(k))).toEqual([]);
  return expected.size;
}

/** The definition (SPEC §8, domain/metrics) applied to the tickets themselves. */
function definition(all: Awaited<ReturnType<typeof everything>>, q: MetricsQuery) {
  const inWindow = all.tickets.filter(
    (t) =>
      t.created_at >= q.from &&
      t.created_at < q.to &&
      (q.team === undefined || t.team === q.team) &&
      (q.channel === undefined || t.channel === q.channel) &&
      (q.channels === undefined || q.channels.includes(t.channel)),
  );
  const set = (ts: TicketRow[]) => {
    const fr = ts
      .filter((t) => t.first_response_at !== null)
      .map((t) => ((t.first_response_at ?? 0) - t.created_at) / 1000);
    const rs = ts
      .filter((t) => t.resolved_at !== null)
      .map((t) => ((t.resolved_at ?? 0) - t.created_at) / 1000);
    const hits = ts.filter(
      (t) => t.first_response_at !== null && t.first_due_at !== null && t.first_response_at <= t.first_due_at,
    ).length;
    const decided = ts.filter(
      (t) => t.first_due_at !== null && (t.first_response_at !== null || t.first_due_at < q.now),
    ).length;
    const resolved = ts.filter((t) => t.resolved_at !== null);
    const own = (t: TicketRow) => all.improvements.filter((i) => i.ticket_number === t.number);
    const improved = resolved.filter((t) => own(t).length > 0).length;
    const shipped = resolved.filter((t) => own(t).some((i) => i.state === "shipped")).length;
    const scores = ts.flatMap((t) =>
      all.surveys.filter((s) => s.ticket_number === t.number).map((s) => s.score),
    );
    return {
      tickets: ts.length,
      firstResponse: {
        count: fr.length,
        medianSeconds: percentile(fr, 0.5),
        p90Seconds: percentile(fr, 0.9),
        withinTargetRate: ratio(hits, decided),
      },
      resolution: { count: rs.length, medianSeconds: percentile(rs, 0.5), p90Seconds: percentile(rs, 0.9) },
      customerEffort: {
        responses: scores.length,
        average: ratio(
          scores.reduce((a, b) => a + b, 0),
          scores.length,
        ),
      },
      issuesToImprovements: {
        resolved: resolved.length,
        withImprovement: improved,
        ratio: ratio(improved, resolved.length),
        shipped,
        shippedRatio: ratio(shipped, resolved.length),
      },
      promises: { made: 0, kept: 0, broken: 0, keptRate: null },
    } satisfies MetricSet;
  };
  const by = (key: (t: TicketRow) => string) =>
    Object.fromEntries(
      [...new Set(inWindow.map(key))]
        .sort((a, b) => a.localeCompare(b))
        .map((k) => [k, set(inWindow.filter((t) => key(t) === k))]),
    );
  return { ...set(inWindow), byChannel: by((t) => t.channel), byTeam: by((t) => t.team) };
}

/** Exact counts; durations and rates to 1e-6 (float sums in another order). */
function expectSame(actual: unknown, expected: unknown, path = "report"): void {
  if (typeof expected === "number" && !Number.isInteger(expected)) {
    expect(actual, path).toBeCloseTo(expected, 6);
  } else if (expected !== null && typeof expected === "object") {
    expect(Object.keys(actual as object).sort(), path).toEqual(Object.keys(expected).sort());
    for (const [k, v] of Object.entries(expected))
      expectSame((actual as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else if (typeof actual === "number" && !Number.isInteger(actual) && typeof expected === "number") {
    expect(actual, path).toBeCloseTo(expected, 6);
  } else expect(actual, path).toEqual(expected);
}

const seeded = fc.record({
  channel: fc.constantFrom(...CHANNELS),
  team: fc.constantFrom(...TEAMS),
  /** Created this long after the region's start (ms, over four days). */
  at: fc.integer({ min: 0, max: 4 * DAY_MS }),
  firstResponse: fc.option(fc.integer({ min: 0, max: 3 * DAY_MS }), { nil: null }),
  due: fc.option(fc.integer({ min: 0, max: 2 * DAY_MS }), { nil: null }),
  resolution: fc.option(fc.integer({ min: 0, max: 20 * DAY_MS }), { nil: null }),
  improvements: fc.array(fc.constantFrom("open", "shipped", "canceled"), { maxLength: 2 }),
  score: fc.option(fc.option(fc.integer({ min: 1, max: 7 }), { nil: null }), { nil: undefined }),
  /** After the insert: moved to another team, reopened, its deadline re-timed. */
  later: fc.constantFrom("none", "none", "move", "reopen", "retime"),
});

let region = Date.parse("2045-01-01T00:00:00Z");

async function seed(list: readonly Seeded[], start: number) {
  const inserts = list.map((t) => {
    const created = start + t.at;
    return env.DB.prepare(
      `insert into tickets (channel, subject, status, priority, policy, team, visibility, security,
         escalation_level, requester_name, created_at, updated_at, first_response_at, resolved_at,
         clock_seq, first_due_at, queue_due_at, breached, revision)
       values (?, 'seeded', ?, 'normal', 'api', ?, 'private', 0, 0, 'Seed', ?, ?, ?, ?, 1, ?, 0, 0, 1)
       returning number`,
    ).bind(
      t.channel,
      t.resolution === null ? "open" : "resolved",
      t.team,
      created,
      created,
      t.firstResponse === null ? null : created + t.firstResponse,
      t.resolution === null ? null : created + t.resolution,
      t.due === null ? null : created + t.due,
    );
  });
  const numbers: number[] = [];
  for (let i = 0; i < inserts.length; i += 50) {
    const results = await env.DB.batch<{ number: number }>(inserts.slice(i, i + 50));
    for (const r of results) numbers.push(r.results[0]?.number ?? 0);
  }
  const after = list.flatMap((t, i) => {
    const number = numbers[i] ?? 0;
    return [
      ...t.improvements.map((state, j) =>
        env.DB.prepare(
          "insert into improvements (id, ticket_number, kind, title, created_at, state) values (?, ?, 'bug', 'x', 0, ?)",
        ).bind(`seed-${number}-${j}`, number, state),
      ),
      ...(t.score === undefined
        ? []
        : [
            env.DB.prepare(
              "insert into surveys (token, ticket_number, score, sent_at) values (?, ?, ?, 0)",
            ).bind(`seed-${number}`, number, t.score),
          ]),
      ...(t.later === "move"
        ? [env.DB.prepare("update tickets set team = ? where number = ?").bind(`moved-${t.team}`, number)]
        : t.later === "reopen"
          ? [
              env.DB.prepare("update tickets set resolved_at = null, status = 'open' where number = ?").bind(
                number,
              ),
            ]
          : t.later === "retime"
            ? [
                env.DB.prepare(
                  "update tickets set first_due_at = coalesce(first_due_at, created_at) + 3600000 where number = ?",
                ).bind(number),
              ]
            : []),
    ];
  });
  for (let i = 0; i < after.length; i += 50) await env.DB.batch(after.slice(i, i + 50));
}

type Seeded = {
  channel: string;
  team: string;
  at: number;
  firstResponse: number | null;
  due: number | null;
  resolution: number | null;
  improvements: string[];
  score: number | null | undefined;
  later: "none" | "move" | "reopen" | "retime";
};

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("metrics from metrics_days", () => {
  it("give what the definition gives over the tickets, for any tickets, window, filter and now", async () => {
    const filter = fc.oneof(
      fc.constant({}),
      fc.record({ team: fc.constantFrom(...TEAMS, "moved-billing") }),
      fc.record({ channel: fc.constantFrom(...CHANNELS) }),
      fc.record({ team: fc.constantFrom(...TEAMS), channel: fc.constantFrom(...CHANNELS) }),
      fc.record({ channels: fc.subarray([...CHANNELS]) }),
    );
    const instant = fc.integer({ min: -DAY_MS, max: 6 * DAY_MS });
    await fc.assert(
      fc.asyncProperty(
        fc.array(seeded, { minLength: 1, maxLength: 40 }),
        instant,
        instant,
        instant,
        filter,
        async (tickets, a, b, now, only) => {
          region += 30 * DAY_MS;
          await seed(tickets as Seeded[], region);
          const [from, to] = a < b ? [a, b] : a > b ? [b, a] : [a, a + 1];
          const q: MetricsQuery = { from: region + from, to: region + to, now: region + now, ...only };
          const all = await everything();
          const want = definition(all, q);
          for (const strategy of ["ranked", "ordered"] as PercentileStrategy[]) {
            if (strategy === "ordered" && Object.keys(only).length > 0) continue;
            const report = await computeMetrics(database(env.DB), q, { percentiles: strategy });
            const { from: _f, to: _t, ...numbers } = report as MetricsReport;
            expectSame(numbers, want, `${strategy} ${JSON.stringify(q)}`);
          }
          // And the default choice, whatever it is.
          const { from: _f, to: _t, ...numbers } = await computeMetrics(database(env.DB), q);
          expectSame(numbers, want, `default ${JSON.stringify(q)}`);
        },
      ),
      { numRuns: 40 },
    );
    await assertSummaryTrue();
  });

  it("walk any number of groups: a dozen teams over every channel, both strategies", async () => {
    region += 30 * DAY_MS;
    await seed(
      Array.from({ length: 120 }, (_, i) => ({
        channel: CHANNELS[i % 5] ?? "api",
        team: `team-${i % 12}`,
        at: i * 997_000,
        firstResponse: (i * 7919) % 200_000,
        due: 100_000,
        resolution: i % 3 === 0 ? null : (i * 104_729) % 900_000,
        improvements: i % 7 === 0 ? ["shipped"] : [],
        score: i % 4 === 0 ? (i % 7) + 1 : undefined,
        later: "none" as const,
      })),
      region,
    );
    const q = { from: region, to: region + 120 * 997_000, now: region + 10 * DAY_MS };
    const want = definition(await everything(), q);
    expect(Object.keys(want.byTeam)).toHaveLength(12);
    for (const percentiles of ["ranked", "ordered"] as const) {
      const { from: _f, to: _t, ...numbers } = await computeMetrics(database(env.DB), q, { percentiles });
      expectSame(numbers, want, percentiles);
    }
  });

  it("a window of whole UTC days reads no ticket rows for its counts, only metrics_days", async () => {
    region += 30 * DAY_MS;
    const day0 = Math.ceil(region / DAY_MS) * DAY_MS;
    await seed(
      Array.from({ length: 30 }, (_, i) => ({
        channel: CHANNELS[i % 5] ?? "api",
        team: TEAMS[i % 3] ?? "support",
        at: day0 - region + (i % 3) * DAY_MS + i * 60_000,
        firstResponse: i * 1000,
        due: 3600_000,
        resolution: i % 2 === 0 ? i * 5000 : null,
        improvements: [],
        score: undefined,
        later: "none" as const,
      })),
      region,
    );
    const q = { from: day0, to: day0 + 3 * DAY_MS, now: day0 + 10 * DAY_MS };
    const all = await everything();
    const meter = newMeter();
    const {
      from: _f,
      to: _t,
      ...numbers
    } = await computeMetrics(database(meteredD1(env.DB, meter)), q, {
      percentiles: "ranked",
    });
    expectSame(numbers, definition(all, q));
    expect(numbers.tickets).toBe(30);
    // Counts and histograms from metrics_days; tickets only in the percentile walks (and the
    // check for tickets not yet due, of which these days hold none).
    const readingTickets = meter.statements.filter((s) => /\bfrom tickets t\b/.test(s.sql));
    expect(readingTickets.length).toBeGreaterThan(0);
    for (const s of readingTickets)
      expect(s.sql).toMatch(/indexed by tickets_(first_response|resolution)_rank|unanswered_due_day/);
    expect(meter.statements.some((s) => /from metrics_days m where/.test(s.sql))).toBe(true);
  });
});

describe("metrics_days through the desk's own writes", () => {
  beforeEach(async () => {
    await useConfig();
  });

  it("stays what a recount of the tickets gives after replies, resolves, reopens, moves, improvements and surveys", async () => {
    const out = fakeOutbound();
    const T0 = Date.parse("2047-06-01T22:00:00Z");
    advanceTo(T0);
    const keys: string[] = [];
    for (let i = 0; i < 6; i++) {
      advanceTo(T0 + i * HOUR);
      // With a callback, so the resolve sends its survey there (SPEC §8).
      keys.push(
        (await postMessage({ text: `Need help ${i}`, callbackUrl: "https://hooks.customer.test/cb" })).body
          .ticket as string,
      );
    }
    const [a = "", b = "", c = "", d = "", e = ""] = keys;
    advanceTo(T0 + 7 * HOUR);
    for (const key of [a, b, c, d]) {
      const response = await request(`/v1/tickets/${key}/replies`, {
        method: "POST",
        json: { text: "On it." },
      });
      expect(response.status).toBe(201);
    }
    // A second staff reply changes nothing the metrics count.
    await request(`/v1/tickets/${a}/replies`, { method: "POST", json: { text: "Still on it." } });
    advanceTo(T0 + 9 * HOUR);
    for (const key of [a, b, c]) {
      const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
      expect(response.status).toBe(200);
    }
    await request(`/v1/tickets/${b}`, { method: "PATCH", json: { status: "open" } });
    await request(`/v1/tickets/${c}`, { method: "PATCH", json: { team: "platform" } });
    await request(`/v1/tickets/${e}`, { method: "PATCH", json: { team: "platform", priority: "high" } });
    const linked = await request(`/v1/tickets/${a}/improvements`, {
      method: "POST",
      json: { kind: "docs", title: "Document it" },
    });
    expect(linked.status).toBeLessThan(300);
    await request(`/v1/tickets/${c}/improvements`, {
      method: "POST",
      json: { kind: "bug", title: "Fix it" },
    });
    await env.DB.prepare("update improvements set state = 'shipped' where ticket_number = ?")
      .bind(Number(c.slice(4)))
      .run();
    for (const key of [a, c]) await flush(key);
    const survey = out.about(a).find((call) => (call.body as { kind: string }).kind === "survey")?.body as
      | { url: string }
      | undefined;
    expect(survey).toBeDefined();
    const answered = await request(new URL(survey?.url ?? "").pathname, {
      method: "POST",
      token: null,
      body: new URLSearchParams({ score: "6" }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(answered.status).toBe(200);
    expect(await assertSummaryTrue()).toBeGreaterThan(0);
    // And the report over those hours agrees with the definition.
    const q = { from: T0, to: T0 + 6 * HOUR, now: T0 + 10 * HOUR };
    const { from: _f, to: _t, ...numbers } = await computeMetrics(database(env.DB), q);
    expectSame(numbers, definition(await everything(), q));
    expect(numbers.tickets).toBe(6);
    expect(numbers.customerEffort).toEqual({ responses: 1, average: 6 });
    expect(numbers.issuesToImprovements).toMatchObject({ resolved: 2, withImprovement: 2, shipped: 1 });
  });
});
