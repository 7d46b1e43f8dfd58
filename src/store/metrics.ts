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

/** Every row three times: for the whole desk, its channel and its team; one pass answers all groupings. */
function dims(columns: SQL): SQL {
  return sql`select 'all' as dim, 'all' as g, ${columns} from base
    union all select 'channel', channel, ${columns} from base
    union all select 'team', team, ${columns} from base`;
}

/** Interpolated percentile (see domain/metrics `percentile`) of `v` over ranked rows `i` of `n`. */
function percentileOf(p: number): SQL {
  const pos = sql.raw(`((n - 1) * ${p})`);
  const lower = sql.raw(`cast((n - 1) * ${p} as integer)`);
  return sql`sum(case when i = ${lower} then v * (1 - (${pos} - ${lower}))
                      when i = ${lower} + 1 then v * (${pos} - ${lower}) else 0 end)`;
}

function durations(filter: SQL, end: "first_response_at" | "resolved_at") {
  const column = sql.raw(end);
  return sql`with base as (
      select channel, team, (${column} - created_at) / 1000.0 as v from tickets t
      where ${filter} and ${column} is not null),
    d as (${dims(sql`v`)}),
    ranked as (select dim, g, v, row_number() over (partition by dim, g order by v) - 1 as i,
                      count(*) over (partition by dim, g) as n from d)
    select dim, g, max(n) as n, ${percentileOf(0.5)} as p50, ${percentileOf(0.9)} as p90
    from ranked group by dim, g`;
}

/**
 * SPEC §8 over tickets created in [from, to): five aggregate statements in one D1 round trip,
 * each a single range scan of the created-at index; nothing is loaded ticket by ticket.
 */
export async function computeMetrics(db: Database, q: MetricsQuery): Promise<MetricsReport> {
  const filter = windowFilter(q);
  const results = await batch(db, [
    db.all<Row & { n: number }>(sql`with base as (select channel, team from tickets t where ${filter}),
      d as (${dims(sql`1 as one`)}) select dim, g, count(*) as n from d group by dim, g`),
    db.all<Row & { n: number; p50: number; p90: number }>(durations(filter, "first_response_at")),
    db.all<Row & { n: number; p50: number; p90: number }>(durations(filter, "resolved_at")),
    db.all<Row & { hits: number; decided: number }>(sql`with base as (
        select channel, team,
          case when first_response_at is not null then (first_response_at <= first_due_at)
               when first_due_at < ${q.now} then 0 end as hit
        from tickets t where ${filter} and first_due_at is not null),
      d as (${dims(sql`hit`)}) select dim, g, coalesce(sum(hit), 0) as hits, count(hit) as decided from d group by dim, g`),
    db.all<Row & { n: number; average: number }>(sql`with base as (
        select t.channel as channel, t.team as team, s.score as score
        from tickets t join surveys s on s.ticket_number = t.number
        where ${filter} and s.score is not null),
      d as (${dims(sql`score`)}) select dim, g, count(*) as n, avg(score) as average from d group by dim, g`),
    db.all<Row & { resolved: number; improved: number }>(sql`with base as (
        select channel, team,
          exists (select 1 from improvements i where i.ticket_number = t.number) as improved
        from tickets t where ${filter} and resolved_at is not null),
      d as (${dims(sql`improved`)}) select dim, g, count(*) as resolved, sum(improved) as improved from d group by dim, g`),
  ]);
  const [counts, firstResponse, resolution, withinTarget, effort, improvements] = results as [
    (Row & { n: number })[],
    (Row & { n: number; p50: number; p90: number })[],
    (Row & { n: number; p50: number; p90: number })[],
    (Row & { hits: number; decided: number })[],
    (Row & { n: number; average: number })[],
    (Row & { resolved: number; improved: number })[],
  ];

  const sets = new Map<string, MetricSet>();
  const at = (row: Row): MetricSet => {
    const key = `${row.dim}\u0000${row.g}`;
    let set = sets.get(key);
    if (set === undefined) {
      set = emptyMetricSet();
      sets.set(key, set);
    }
    return set;
  };
  for (const row of counts) at(row).tickets = row.n;
  for (const row of firstResponse) {
    Object.assign(at(row).firstResponse, { count: row.n, medianSeconds: row.p50, p90Seconds: row.p90 });
  }
  for (const row of resolution)
    at(row).resolution = { count: row.n, medianSeconds: row.p50, p90Seconds: row.p90 };
  for (const row of withinTarget) at(row).firstResponse.withinTargetRate = ratio(row.hits, row.decided);
  for (const row of effort) at(row).customerEffort = { responses: row.n, average: row.average };
  for (const row of improvements) {
    at(row).issuesToImprovements = {
      resolved: row.resolved,
      withImprovement: row.improved,
      ratio: ratio(row.improved, row.resolved),
    };
  }

  const group = (dim: Dimension): Record<string, MetricSet> =>
    Object.fromEntries(
      [...sets.entries()]
        .filter(([key]) => key.startsWith(`${dim}\u0000`))
        .map(([key, set]) => [key.slice(dim.length + 1), set])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
  const overall = sets.get("all\u0000all") ?? emptyMetricSet();
  return {
    from: new Date(q.from).toISOString(),
    to: new Date(q.to).toISOString(),
    ...overall,
    byChannel: group("channel"),
    byTeam: group("team"),
  };
}
