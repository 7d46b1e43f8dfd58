import { type SQL, sql } from "drizzle-orm";
import { emptyMetricSet, type MetricSet, type MetricsReport, ratio } from "../domain/metrics";
import { batch, batchOf, type Database } from "./db";
import { promiseCountsQuery } from "./promises";

export interface MetricsQuery {
  from: number;
  to: number;
  team?: string;
  channel?: string;
  /** Only tickets on these channels (the public quality report's "public channels"). */
  channels?: readonly string[];
  now: number;
}

type Dimension = "all" | "channel" | "team";

interface Row {
  dim: Dimension;
  g: string;
}

/** Tickets created in the window (index `tickets_created (created_at, channel, team)`). */
function windowFilter(q: MetricsQuery): SQL {
  const parts = [sql`t.created_at >= ${q.from}`, sql`t.created_at < ${q.to}`];
  if (q.team !== undefined) parts.push(sql`t.team = ${q.team}`);
  if (q.channel !== undefined) parts.push(sql`t.channel = ${q.channel}`);
  if (q.channels !== undefined) parts.push(channelIn(q.channels));
  return sql.join(parts, sql` and `);
}

/** `t.channel in (…)`; an empty list matches nothing. */
export function channelIn(channels: readonly string[]): SQL {
  if (channels.length === 0) return sql`0`;
  return sql`t.channel in (${sql.join(
    channels.map((c) => sql`${c}`),
    sql`, `,
  )})`;
}

/** Interpolated percentile (see domain/metrics `percentile`) of `v` over rows ranked `i` (from 0) of `n`. */
function percentileOf(i: string, n: string, p: number): SQL {
  const pos = sql.raw(`((${n} - 1) * ${p})`);
  const lower = sql.raw(`cast((${n} - 1) * ${p} as integer)`);
  const rank = sql.raw(i);
  return sql`sum(case when ${rank} = ${lower} then v * (1 - (${pos} - ${lower}))
                      when ${rank} = ${lower} + 1 then v * (${pos} - ${lower}) else 0 end)`;
}

/**
 * Median and p90 of a duration, for the whole desk, each channel and each team, from one scan:
 * the rows are ranked three ways by window functions over one materialised set, then aggregated.
 */
function durations(filter: SQL, end: "first_response_at" | "resolved_at") {
  const column = sql.raw(end);
  return sql`with r as materialized (
      select channel, team, v,
        row_number() over (order by v) - 1 as ia, count(*) over () as na,
        row_number() over (partition by channel order by v) - 1 as ic, count(*) over (partition by channel) as nc,
        row_number() over (partition by team order by v) - 1 as it, count(*) over (partition by team) as nt
      from (select channel, team, (${column} - created_at) / 1000.0 as v from tickets t
            where ${filter} and ${column} is not null))
    select 'all' as dim, 'all' as g, max(na) as n, ${percentileOf("ia", "na", 0.5)} as p50, ${percentileOf("ia", "na", 0.9)} as p90 from r
    union all
    select 'channel', channel, max(nc), ${percentileOf("ic", "nc", 0.5)}, ${percentileOf("ic", "nc", 0.9)} from r group by channel
    union all
    select 'team', team, max(nt), ${percentileOf("it", "nt", 0.5)}, ${percentileOf("it", "nt", 0.9)} from r group by team`;
}

type PercentileRow = Row & { n: number | null; p50: number | null; p90: number | null };

/**
 * `ordered`: read the two values around each wanted rank straight off a duration index
 * (`LIMIT 2 OFFSET rank`), no sort; it walks the index from the shortest duration and skips tickets
 * outside the window, so it pays off when the window holds much of the desk. `ranked`: rank the
 * window's own rows with window functions (a sort per dimension); cheaper for a narrow window.
 */
export type PercentileStrategy = "ordered" | "ranked";

/** Below this share of all tickets in the window, skipping the others costs more than sorting. */
export const ORDERED_MIN_SHARE = 0.3;

/**
 * Measured at 100,000 tickets (all in the window): ranking took ~0.5 s, walking the indexes ~50 ms.
 * The ordered walk reads about 2.1 × n / share index entries per duration, ranking sorts n rows three
 * times; the team and channel filters keep the window small, so they rank.
 */
export function choosePercentileStrategy(
  q: Pick<MetricsQuery, "team" | "channel" | "channels">,
  windowTickets: number,
  totalTickets: number,
): PercentileStrategy {
  if (q.team !== undefined || q.channel !== undefined || q.channels !== undefined) return "ranked";
  if (totalTickets === 0 || windowTickets === 0) return "ranked";
  return windowTickets / totalTickets >= ORDERED_MIN_SHARE ? "ordered" : "ranked";
}

type Duration = "first_response_at" | "resolved_at";

/** Partial expression indexes of migration 0009, one per (duration, dimension). */
const RANK_INDEXES: Record<Duration, Record<Dimension, string>> = {
  first_response_at: {
    all: "tickets_first_response_rank",
    channel: "tickets_first_response_rank_channel",
    team: "tickets_first_response_rank_team",
  },
  resolved_at: {
    all: "tickets_resolution_rank",
    channel: "tickets_resolution_rank_channel",
    team: "tickets_resolution_rank_team",
  },
};

/** D1 binds at most 100 parameters per statement; each group below takes 9. */
const GROUPS_PER_STATEMENT = 10;

interface WantedGroup {
  dim: Dimension;
  g: string;
  n: number;
}

/** The two ranks around percentile p of n values, and the weight of the upper one. */
function ranksOf(n: number, p: number): { lower: number; fraction: number } {
  const position = (n - 1) * p;
  const lower = Math.floor(position);
  return { lower, fraction: position - lower };
}

/** Duration in seconds at rank `lower` (+ interpolation), from the (up to) two values read there. */
function interpolate(values: number[], fraction: number): number | null {
  const sorted = [...values].sort((a, b) => a - b);
  const low = sorted[0];
  if (low === undefined) return null;
  const high = sorted[1] ?? low;
  return (low / 1000) * (1 - fraction) + (high / 1000) * fraction;
}

/**
 * Median and p90 of both durations for the desk, each channel and each team, each read as two index
 * entries at its rank: `LIMIT 2 OFFSET rank` over the duration index of its dimension, so SQLite
 * walks the index instead of sorting. The counts per group come from the grouped scan already run.
 */
async function orderedPercentiles(
  db: Database,
  q: MetricsQuery,
  groups: readonly GroupCounts[],
): Promise<[PercentileRow[], PercentileRow[]]> {
  const wantedFor = (count: (row: GroupCounts) => number): WantedGroup[] => {
    const sums = new Map<string, WantedGroup>();
    for (const row of groups) {
      for (const [dim, g] of [
        ["all", "all"],
        ["channel", row.channel],
        ["team", row.team],
      ] as const) {
        const key = `${dim}\u0000${g}`;
        const wanted = sums.get(key) ?? { dim, g, n: 0 };
        wanted.n += count(row);
        sums.set(key, wanted);
      }
    }
    return [...sums.values()].filter((w) => w.n > 0);
  };
  const plan: { duration: Duration; wanted: WantedGroup[] }[] = [
    { duration: "first_response_at", wanted: wantedFor((row) => row.responded) },
    { duration: "resolved_at", wanted: wantedFor((row) => row.resolved) },
  ];
  const statements: { duration: Duration; chunk: WantedGroup[]; query: SQL }[] = [];
  for (const { duration, wanted } of plan) {
    for (const dim of ["all", "channel", "team"] as const) {
      const ofDim = wanted.filter((w) => w.dim === dim);
      for (let i = 0; i < ofDim.length; i += GROUPS_PER_STATEMENT) {
        const chunk = ofDim.slice(i, i + GROUPS_PER_STATEMENT);
        statements.push({ duration, chunk, query: rankStatement(duration, dim, chunk, q) });
      }
    }
  }
  if (statements.length === 0) return [[], []];
  const results = await batchOf(
    db,
    statements.map((s) => db.all<{ i: number; lo: string | null; hi: string | null }>(s.query)),
  );
  const values = (text: string | null | undefined) => (text ? (JSON.parse(text) as number[]) : []);
  const out: Record<Duration, PercentileRow[]> = { first_response_at: [], resolved_at: [] };
  statements.forEach((statement, i) => {
    const rows = new Map((results[i] ?? []).map((row) => [row.i, row]));
    statement.chunk.forEach((w, j) => {
      const row = rows.get(j);
      out[statement.duration].push({
        dim: w.dim,
        g: w.g,
        n: w.n,
        p50: interpolate(values(row?.lo), ranksOf(w.n, 0.5).fraction),
        p90: interpolate(values(row?.hi), ranksOf(w.n, 0.9).fraction),
      });
    });
  });
  return [out.first_response_at, out.resolved_at];
}

/** One row per group (`i`, its place in the chunk): the values at its p50 and p90 ranks, as JSON arrays. */
function rankStatement(
  duration: Duration,
  dim: Dimension,
  chunk: readonly WantedGroup[],
  q: MetricsQuery,
): SQL {
  const column = sql.raw(duration);
  const index = sql.raw(RANK_INDEXES[duration][dim]);
  const at = (w: WantedGroup, rank: number) => {
    const group =
      dim === "all" ? sql`` : dim === "channel" ? sql` and channel = ${w.g}` : sql` and team = ${w.g}`;
    return sql`(select json_group_array(d) from (select (${column} - created_at) as d from tickets indexed by ${index}
        where ${column} is not null${group} and created_at >= ${q.from} and created_at < ${q.to}
        order by (${column} - created_at) limit 2 offset ${rank}))`;
  };
  return sql.join(
    chunk.map(
      (w, i) =>
        sql`select ${i} as i, ${at(w, ranksOf(w.n, 0.5).lower)} as lo, ${at(w, ranksOf(w.n, 0.9).lower)} as hi`,
    ),
    sql` union all `,
  );
}

interface GroupCounts {
  channel: string;
  team: string;
  tickets: number;
  hits: number;
  decided: number;
  resolved: number;
  responded: number;
  improved: number;
  shipped: number;
}

/**
 * SPEC §8 over tickets created in [from, to), in two D1 round trips. Counts and rates come from one
 * grouped scan per (channel, team) and are added up here for the desk, each channel and each team
 * (sums of a handful of groups); percentiles, which cannot be added up, come from SQL: either by
 * walking the duration indexes to the wanted ranks ("ordered") or by ranking the window's rows
 * ("ranked"), whichever reads less (`choosePercentileStrategy`). Nothing is loaded ticket by ticket.
 */
export async function computeMetrics(
  db: Database,
  q: MetricsQuery,
  options: { percentiles?: PercentileStrategy } = {},
): Promise<MetricsReport> {
  const filter = windowFilter(q);
  const [groups, effort, [{ total } = { total: 0 }], promised] = await batch(db, [
    db.all<GroupCounts>(sql`select t.channel as channel, t.team as team, count(*) as tickets,
        coalesce(sum(t.first_response_at is not null and t.first_due_at is not null and t.first_response_at <= t.first_due_at), 0) as hits,
        coalesce(sum(t.first_due_at is not null and (t.first_response_at is not null or t.first_due_at < ${q.now})), 0) as decided,
        coalesce(sum(t.resolved_at is not null), 0) as resolved,
        count(t.first_response_at) as responded,
        coalesce(sum(t.resolved_at is not null and exists (select 1 from improvements i where i.ticket_number = t.number)), 0) as improved,
        coalesce(sum(t.resolved_at is not null and exists (select 1 from improvements i where i.ticket_number = t.number and i.state = 'shipped')), 0) as shipped
      from tickets t where ${filter} group by t.channel, t.team`),
    db.all<{
      channel: string;
      team: string;
      n: number;
      total: number;
    }>(sql`select t.channel as channel, t.team as team, count(*) as n, sum(s.score) as total
      from surveys s join tickets t on t.number = s.ticket_number
      where s.score is not null and ${filter} group by t.channel, t.team`),
    // Tickets ever opened (numbers are never reused): how much of the desk the window holds.
    db.all<{ total: number }>(sql`select coalesce(max(number), 0) as total from tickets`),
    // Promised updates made in the window (SPEC §16), whatever the ticket's age.
    promiseCountsQuery(db, q),
  ]);
  const windowTickets = groups.reduce((sum, row) => sum + row.tickets, 0);
  const strategy = options.percentiles ?? choosePercentileStrategy(q, windowTickets, total);
  const [firstResponse, resolution] =
    strategy === "ordered"
      ? await orderedPercentiles(db, q, groups)
      : await batch(db, [
          db.all<PercentileRow>(durations(filter, "first_response_at")),
          db.all<PercentileRow>(durations(filter, "resolved_at")),
        ]);

  const sets = new Map<string, MetricSet & { effortTotal: number; hits: number; decided: number }>();
  const at = (dim: Dimension, g: string) => {
    const key = `${dim}\u0000${g}`;
    let set = sets.get(key);
    if (set === undefined) {
      set = { ...emptyMetricSet(), effortTotal: 0, hits: 0, decided: 0 };
      sets.set(key, set);
    }
    return set;
  };
  const targets = (row: { channel: string; team: string }) => [
    at("all", "all"),
    at("channel", row.channel),
    at("team", row.team),
  ];
  for (const row of groups) {
    for (const set of targets(row)) {
      set.tickets += row.tickets;
      set.hits += row.hits;
      set.decided += row.decided;
      set.issuesToImprovements.resolved += row.resolved;
      set.issuesToImprovements.withImprovement += row.improved;
      set.issuesToImprovements.shipped += row.shipped;
    }
  }
  for (const row of effort) {
    for (const set of targets(row)) {
      set.customerEffort.responses += row.n;
      set.effortTotal += row.total;
    }
  }
  for (const row of promised) {
    for (const set of targets(row)) {
      set.promises.made += row.made;
      set.promises.kept += row.kept;
      set.promises.broken += row.broken;
    }
  }
  // An empty window still yields the overall row of each ranking query, with nulls: skip it.
  for (const row of firstResponse) {
    if (row.n === null || row.n === 0) continue;
    Object.assign(at(row.dim, row.g).firstResponse, {
      count: row.n,
      medianSeconds: row.p50,
      p90Seconds: row.p90,
    });
  }
  for (const row of resolution) {
    if (row.n === null || row.n === 0) continue;
    at(row.dim, row.g).resolution = { count: row.n, medianSeconds: row.p50, p90Seconds: row.p90 };
  }

  const finish = (set: MetricSet & { effortTotal: number; hits: number; decided: number }): MetricSet => ({
    tickets: set.tickets,
    firstResponse: { ...set.firstResponse, withinTargetRate: ratio(set.hits, set.decided) },
    resolution: set.resolution,
    customerEffort: {
      responses: set.customerEffort.responses,
      average: ratio(set.effortTotal, set.customerEffort.responses),
    },
    issuesToImprovements: {
      ...set.issuesToImprovements,
      ratio: ratio(set.issuesToImprovements.withImprovement, set.issuesToImprovements.resolved),
      shippedRatio: ratio(set.issuesToImprovements.shipped, set.issuesToImprovements.resolved),
    },
    promises: {
      ...set.promises,
      keptRate: ratio(set.promises.kept, set.promises.kept + set.promises.broken),
    },
  });
  const group = (dim: Dimension): Record<string, MetricSet> =>
    Object.fromEntries(
      [...sets.entries()]
        .filter(([key]) => key.startsWith(`${dim}\u0000`))
        .map(([key, set]) => [key.slice(dim.length + 1), finish(set)] as const)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  const overall = sets.get("all\u0000all");
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    ...(overall === undefined ? emptyMetricSet() : finish(overall)),
    byChannel: group("channel"),
    byTeam: group("team"),
  };
}
