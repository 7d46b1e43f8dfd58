import { type SQL, sql } from "drizzle-orm";
import { emptyMetricSet, type MetricSet, type MetricsReport, ratio } from "../domain/metrics";
import { batch, type Database } from "./db";

export interface MetricsQuery {
  from: number;
  to: number;
  team?: string;
  channel?: string;
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
  return sql.join(parts, sql` and `);
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

interface GroupCounts {
  channel: string;
  team: string;
  tickets: number;
  hits: number;
  decided: number;
  resolved: number;
  improved: number;
}

/**
 * SPEC §8 over tickets created in [from, to): four statements in one D1 round trip. Counts and
 * rates come from one grouped scan per (channel, team) and are added up here for the desk, each
 * channel and each team (sums of a handful of groups); percentiles, which cannot be added up, are
 * ranked in SQL. Nothing is loaded ticket by ticket.
 */
export async function computeMetrics(db: Database, q: MetricsQuery): Promise<MetricsReport> {
  const filter = windowFilter(q);
  const results = await batch(db, [
    db.all(sql`select t.channel as channel, t.team as team, count(*) as tickets,
        coalesce(sum(t.first_response_at is not null and t.first_due_at is not null and t.first_response_at <= t.first_due_at), 0) as hits,
        coalesce(sum(t.first_due_at is not null and (t.first_response_at is not null or t.first_due_at < ${q.now})), 0) as decided,
        coalesce(sum(t.resolved_at is not null), 0) as resolved,
        coalesce(sum(t.resolved_at is not null and exists (select 1 from improvements i where i.ticket_number = t.number)), 0) as improved
      from tickets t where ${filter} group by t.channel, t.team`),
    db.all(sql`select t.channel as channel, t.team as team, count(*) as n, sum(s.score) as total
      from surveys s join tickets t on t.number = s.ticket_number
      where s.score is not null and ${filter} group by t.channel, t.team`),
    db.all(durations(filter, "first_response_at")),
    db.all(durations(filter, "resolved_at")),
  ]);
  const [groups, effort, firstResponse, resolution] = results as [
    GroupCounts[],
    { channel: string; team: string; n: number; total: number }[],
    (Row & { n: number | null; p50: number; p90: number })[],
    (Row & { n: number | null; p50: number; p90: number })[],
  ];

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
    }
  }
  for (const row of effort) {
    for (const set of targets(row)) {
      set.customerEffort.responses += row.n;
      set.effortTotal += row.total;
    }
  }
  // An empty window still yields the overall row of each ranking query, with nulls: skip it.
  for (const row of firstResponse) {
    if (row.n === null) continue;
    Object.assign(at(row.dim, row.g).firstResponse, {
      count: row.n,
      medianSeconds: row.p50,
      p90Seconds: row.p90,
    });
  }
  for (const row of resolution) {
    if (row.n === null) continue;
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
