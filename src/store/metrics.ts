import { type SQL, sql } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";
import {
  coverWindow,
  DAY_MS,
  emptyMetricSet,
  locatePercentile,
  type MetricSet,
  type MetricsReport,
  ratio,
} from "../domain/metrics";
import { batch, batchOf, type Database } from "./db";
import { bucketSqlText, METRIC_DAY_COUNTS, type MetricDayCount } from "./metrics-days";
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

/**
 * The filters of a metrics query on table alias `t` (tickets) or `m` (metrics_days). On tickets
 * each term is written `+t.team`: SQLite's documented way to keep a term from choosing the index
 * (here `tickets_team_queue` or `tickets_channel_queue`, which would read every ticket of the team
 * or channel), so the window's range on `tickets_created` leads.
 */
function cellFilter(q: MetricsQuery, alias: "t" | "m"): SQL[] {
  const a = sql.raw(alias === "t" ? "+t" : "m");
  const parts: SQL[] = [];
  if (q.team !== undefined) parts.push(sql`${a}.team = ${q.team}`);
  if (q.channel !== undefined) parts.push(sql`${a}.channel = ${q.channel}`);
  if (q.channels !== undefined) parts.push(channelIn(q.channels, alias === "t" ? "+t" : "m"));
  return parts;
}

/** `t.channel in (…)`; an empty list matches nothing. */
export function channelIn(channels: readonly string[], alias: "t" | "+t" | "m" = "t"): SQL {
  if (channels.length === 0) return sql`0`;
  return sql`${sql.raw(alias)}.channel in (${sql.join(
    channels.map((c) => sql`${c}`),
    sql`, `,
  )})`;
}

/** Tickets created in [from, to) that pass the query's filters (a range of index `tickets_created`). */
function createdIn(q: MetricsQuery, range: { from: number; to: number }): SQL {
  return sql.join(
    [sql`t.created_at >= ${range.from}`, sql`t.created_at < ${range.to}`, ...cellFilter(q, "t")],
    sql` and `,
  );
}

type PercentileRow = Row & { n: number | null; p50: number | null; p90: number | null };

/**
 * Both strategies read the two values around each wanted rank straight off a duration index
 * (`LIMIT 2 OFFSET rank`, no sort). `ordered` walks the index from the shortest duration and skips
 * tickets outside the window, so it reads about (rank / share of the desk in the window) entries.
 * `ranked` first finds the bucket holding the rank in the window's duration histograms
 * (`metrics_days`, store/metrics-days.ts) and walks only that bucket: a few hundred entries, at
 * most the bucket's own tickets.
 */
export type PercentileStrategy = "ordered" | "ranked";

/** From this share of all tickets in the window on, the percentiles walk the indexes from the start. */
export const ORDERED_MIN_SHARE = 0.3;

/**
 * The team and channel filters and narrow windows rank. Measured since the histograms exist
 * (README "A million tickets"), ranking reads less at every share tried, the whole desk included
 * (1,000,000 tickets: 39 k rows and 0.26 s against 14.5 M rows and 1.8 s); the threshold stays where
 * test/worker/metrics-percentiles.test.ts pins it until that test is revisited.
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

/**
 * D1 binds at most 100 parameters per statement: the walks are packed up to that, each group's two
 * as columns of one row (D1's SQLite also refuses compound selects of more than 5 terms).
 */
const MAX_PARAMS = 100;
const dialect = new SQLiteAsyncDialect();

interface WantedGroup {
  dim: Dimension;
  g: string;
  n: number;
}

/**
 * One walk: the values at `offset` and the next one, in duration order, among the group's durations
 * in the window; `bounded` walks only [from, to), which holds `count` of them (and only `take` of
 * its values are wanted), so it goes from whichever end is closer.
 */
interface Walk {
  offset: number;
  bounded?: { from: number; to: number; count: number; take: 1 | 2 };
}

/** A group's two percentiles: where each one's walk starts, and its interpolation. */
interface PlannedGroup extends WantedGroup {
  p50: Walk & { fraction: number };
  p90: Walk & { fraction: number };
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

/** The groups (desk, each channel, each team) with their counts, from the window's counts per cell. */
function wantedFor(groups: readonly GroupCounts[], count: (row: GroupCounts) => number): WantedGroup[] {
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
}

/** `ordered`: each rank walked from the shortest duration. */
function orderedPlan(groups: readonly GroupCounts[]): Record<Duration, PlannedGroup[]> {
  const plan = (count: (row: GroupCounts) => number) =>
    wantedFor(groups, count).map((w) => {
      const p50 = ranksOf(w.n, 0.5);
      const p90 = ranksOf(w.n, 0.9);
      return {
        ...w,
        p50: { offset: p50.lower, fraction: p50.fraction },
        p90: { offset: p90.lower, fraction: p90.fraction },
      };
    });
  return { first_response_at: plan((row) => row.responded), resolved_at: plan((row) => row.resolved) };
}

type Histogram = Map<number, number>;

/** `ranked`: each rank walked from the lower bound of the histogram bucket that holds it. */
function rankedPlan(histograms: Map<string, Record<Duration, Histogram>>): Record<Duration, PlannedGroup[]> {
  const merged = new Map<string, { dim: Dimension; g: string; h: Record<Duration, Histogram> }>();
  for (const [cell, h] of histograms) {
    const [channel = "", team = ""] = cell.split("\u0000");
    for (const [dim, g] of [
      ["all", "all"],
      ["channel", channel],
      ["team", team],
    ] as const) {
      const key = `${dim}\u0000${g}`;
      let group = merged.get(key);
      if (group === undefined) {
        group = { dim, g, h: { first_response_at: new Map(), resolved_at: new Map() } };
        merged.set(key, group);
      }
      for (const duration of ["first_response_at", "resolved_at"] as const) {
        const into = group.h[duration];
        for (const [bucket, n] of h[duration]) into.set(bucket, (into.get(bucket) ?? 0) + n);
      }
    }
  }
  const out: Record<Duration, PlannedGroup[]> = { first_response_at: [], resolved_at: [] };
  for (const group of merged.values()) {
    for (const duration of ["first_response_at", "resolved_at"] as const) {
      const p50 = locatePercentile(group.h[duration], 0.5);
      const p90 = locatePercentile(group.h[duration], 0.9);
      if (p50 === null || p90 === null) continue;
      const n = [...group.h[duration].values()].reduce((sum, c) => sum + c, 0);
      const walk = (at: NonNullable<typeof p50>) => ({
        offset: at.offset,
        fraction: at.fraction,
        bounded: { from: at.from, to: at.to, count: at.count, take: at.take },
      });
      out[duration].push({ dim: group.dim, g: group.g, n, p50: walk(p50), p90: walk(p90) });
    }
  }
  return out;
}

/**
 * Median and p90 of both durations for the desk, each channel and each team, each read as two
 * index entries at its rank by the walks planned: as many groups per statement as D1 binds, one batch.
 */
async function walkPercentiles(
  db: Database,
  q: MetricsQuery,
  plan: Record<Duration, PlannedGroup[]>,
): Promise<[PercentileRow[], PercentileRow[]]> {
  const statements: { duration: Duration; chunk: PlannedGroup[]; query: SQL }[] = [];
  for (const duration of ["first_response_at", "resolved_at"] as const) {
    let chunk: PlannedGroup[] = [];
    let columns: SQL[] = [];
    let params = 0;
    const flush = () => {
      if (columns.length > 0)
        statements.push({ duration, chunk, query: sql`select ${sql.join(columns, sql`, `)}` });
      chunk = [];
      columns = [];
      params = 0;
    };
    for (const w of plan[duration]) {
      let walks = groupWalks(duration, w, q, chunk.length);
      let count = dialect.sqlToQuery(walks).params.length;
      if (params + count > MAX_PARAMS) {
        flush();
        walks = groupWalks(duration, w, q, 0);
        count = dialect.sqlToQuery(walks).params.length;
      }
      chunk.push(w);
      columns.push(walks);
      params += count;
    }
    flush();
  }
  if (statements.length === 0) return [[], []];
  const results = await batchOf(
    db,
    statements.map((s) => db.all<Record<string, string | null>>(s.query)),
  );
  const values = (text: string | null | undefined) => (text ? (JSON.parse(text) as number[]) : []);
  const out: Record<Duration, PercentileRow[]> = { first_response_at: [], resolved_at: [] };
  statements.forEach((statement, i) => {
    const row = results[i]?.[0];
    statement.chunk.forEach((w, j) => {
      out[statement.duration].push({
        dim: w.dim,
        g: w.g,
        n: w.n,
        p50: interpolate(values(row?.[`lo${j}`]), w.p50.fraction),
        p90: interpolate(values(row?.[`hi${j}`]), w.p90.fraction),
      });
    });
  });
  return [out.first_response_at, out.resolved_at];
}

/**
 * The index a group's walk takes and the conditions on it: the group's own channel or team leads
 * the index; the query's other filters are checked on the rows the walk meets.
 */
function walkIndex(dim: Dimension, g: string, q: MetricsQuery): { index: Dimension; where: SQL[] } {
  const extra = (skip: "channel" | "team" | null) => [
    ...(q.team !== undefined && skip !== "team" ? [sql`team = ${q.team}`] : []),
    ...(q.channel !== undefined && skip !== "channel" ? [sql`channel = ${q.channel}`] : []),
    ...(q.channels !== undefined ? [channelIn(q.channels, "t")] : []),
  ];
  if (dim === "channel") return { index: "channel", where: [sql`channel = ${g}`, ...extra("channel")] };
  if (dim === "team") return { index: "team", where: [sql`team = ${g}`, ...extra("team")] };
  if (q.channel !== undefined)
    return { index: "channel", where: [sql`channel = ${q.channel}`, ...extra("channel")] };
  if (q.team !== undefined) return { index: "team", where: [sql`team = ${q.team}`, ...extra("team")] };
  return { index: "all", where: extra(null) };
}

/** Two columns for group `i` of a statement: the values at its p50 and p90 ranks, as JSON arrays. */
function groupWalks(duration: Duration, w: PlannedGroup, q: MetricsQuery, i: number): SQL {
  const column = sql.raw(duration);
  const { index, where } = walkIndex(w.dim, w.g, q);
  const d = sql`(${column} - created_at)`;
  const conditions = where.length === 0 ? sql`` : sql` and ${sql.join(where, sql` and `)}`;
  const at = (walk: Walk) => {
    let order = sql`${d} limit 2 offset ${walk.offset}`;
    let bounds = sql``;
    if (walk.bounded !== undefined) {
      const { from, to, count, take } = walk.bounded;
      bounds = sql` and ${d} >= ${from} and ${d} < ${to}`;
      const fromEnd = count - walk.offset - take;
      order =
        fromEnd < walk.offset
          ? sql`${d} desc limit ${take} offset ${fromEnd}`
          : sql`${d} limit ${take} offset ${walk.offset}`;
    }
    return sql`(select json_group_array(d) from (select ${d} as d from tickets t indexed by ${sql.raw(RANK_INDEXES[duration][index])}
        where ${column} is not null${conditions}${bounds} and created_at >= ${q.from} and created_at < ${q.to}
        order by ${order}))`;
  };
  return sql`${at(w.p50)} as ${sql.raw(`lo${i}`)}, ${at(w.p90)} as ${sql.raw(`hi${i}`)}`;
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

/** What `metrics_days` and a piece of the window (read from the tickets) both answer, per cell. */
type CellCounts = { channel: string; team: string } & Record<MetricDayCount, number>;

/** The whole days of the window, summed per cell from `metrics_days` (its primary key's range). */
function dayCounts(db: Database, q: MetricsQuery, days: { from: number; to: number }) {
  const where = sql.join(
    [sql`m.day >= ${days.from}`, sql`m.day < ${days.to}`, ...cellFilter(q, "m")],
    sql` and `,
  );
  return db.all<CellCounts>(sql`select m.channel as channel, m.team as team,
      ${sql.raw(METRIC_DAY_COUNTS.map((c) => `sum(m.${c}) as ${c}`).join(", "))}
    from metrics_days m where ${where} group by m.channel, m.team`);
}

/** A partial day, counted from its tickets as `metrics_days` counts them (index `tickets_created`). */
function pieceCounts(db: Database, q: MetricsQuery, piece: { from: number; to: number }) {
  return db.all<CellCounts>(sql`select t.channel as channel, t.team as team, count(*) as tickets,
      count(t.first_response_at) as responded,
      coalesce(sum(t.first_response_at <= t.first_due_at), 0) as hits,
      coalesce(sum(t.first_due_at is not null and t.first_response_at is not null), 0) as due_responded,
      coalesce(sum(t.first_due_at is not null and t.first_response_at is null), 0) as due_open,
      count(t.resolved_at) as resolved,
      coalesce(sum(t.resolved_at is not null and exists (select 1 from improvements i where i.ticket_number = t.number)), 0) as improved,
      coalesce(sum(t.resolved_at is not null and exists (select 1 from improvements i where i.ticket_number = t.number and i.state = 'shipped')), 0) as shipped,
      0 as effort_responses, 0 as effort_total
    from tickets t where ${createdIn(q, piece)} group by t.channel, t.team`);
}

/** The survey answers of a partial day's tickets (each ticket's surveys by `surveys_ticket`). */
function pieceEffort(db: Database, q: MetricsQuery, piece: { from: number; to: number }) {
  return db.all<{ channel: string; team: string; n: number; total: number }>(sql`select t.channel as channel,
      t.team as team, count(*) as n, sum(s.score) as total
    from tickets t cross join surveys s on s.ticket_number = t.number
    where ${createdIn(q, piece)} and s.score is not null group by t.channel, t.team`);
}

/**
 * Tickets of the window still unanswered and not yet due at `now`: `decided` leaves them out. Only
 * days whose `unanswered_due_day` is today or later can hold one (typically the last day or two),
 * and only those days' tickets are read (each day a range of `tickets_created`).
 */
function notYetDue(db: Database, q: MetricsQuery) {
  const today = Math.floor(q.now / DAY_MS);
  const days = sql.join(
    [
      sql`m.day >= ${Math.floor(q.from / DAY_MS)}`,
      sql`m.day < ${Math.ceil(q.to / DAY_MS)}`,
      sql`m.unanswered_due_day >= ${today}`,
      ...cellFilter(q, "m"),
    ],
    sql` and `,
  );
  return db.all<{ channel: string; team: string; n: number }>(sql`select t.channel as channel, t.team as team,
      count(*) as n
    from (select distinct m.day as day from metrics_days m where ${days}) as d
      cross join tickets t
    where t.created_at >= max(d.day * ${DAY_MS}, ${q.from}) and t.created_at < min((d.day + 1) * ${DAY_MS}, ${q.to})
      ${sql.join(
        cellFilter(q, "t").map((part) => sql`and ${part} `),
        sql``,
      )}and t.first_response_at is null and t.first_due_at >= ${q.now}
    group by t.channel, t.team`);
}

/** The window's whole days' duration histograms, one row per day and cell (JSON, summed here). */
function dayHistograms(db: Database, q: MetricsQuery, days: { from: number; to: number }) {
  const where = sql.join(
    [sql`m.day >= ${days.from}`, sql`m.day < ${days.to}`, ...cellFilter(q, "m")],
    sql` and `,
  );
  return db.all<{ channel: string; team: string; first_response: string; resolution: string }>(sql`select
      m.channel as channel, m.team as team, m.first_response as first_response, m.resolution as resolution
    from metrics_days m where ${where}`);
}

/**
 * A partial day's duration histograms, bucketed as `metrics_days` buckets them. The tickets without
 * the duration fall in a null bucket, dropped by `having`: a `where … is not null` would let SQLite
 * take the partial rank indexes, which hold every answered ticket ever, instead of the window's range.
 */
function pieceHistograms(db: Database, q: MetricsQuery, piece: { from: number; to: number }) {
  const filter = createdIn(q, piece);
  const bucket = (column: string) => sql.raw(bucketSqlText(`(t.${column} - t.created_at)`));
  return db.all<{ channel: string; team: string; duration: Duration; bucket: number; n: number }>(sql`select
      t.channel as channel, t.team as team, 'first_response_at' as duration, ${bucket("first_response_at")} as bucket, count(*) as n
    from tickets t where ${filter} group by 1, 2, 4 having bucket is not null
    union all
    select t.channel, t.team, 'resolved_at', ${bucket("resolved_at")} as bucket, count(*)
    from tickets t where ${filter} group by 1, 2, 4 having bucket is not null`);
}

type EffortRow = { channel: string; team: string; n: number; total: number };

const cellKey = (row: { channel: string; team: string }) => `${row.channel}\u0000${row.team}`;

function zeroCounts(): Record<MetricDayCount, number> {
  return Object.fromEntries(METRIC_DAY_COUNTS.map((c) => [c, 0])) as Record<MetricDayCount, number>;
}

type HistogramQuery =
  | { kind: "days"; statement: ReturnType<typeof dayHistograms> }
  | { kind: "piece"; sign: 1 | -1; statement: ReturnType<typeof pieceHistograms> };

/** The window's duration histograms per cell (of the cells with tickets in it): days plus or minus pieces. */
function sumHistograms(
  queries: readonly HistogramQuery[],
  results: readonly unknown[][],
  live: readonly { channel: string; team: string }[],
): Map<string, Record<Duration, Histogram>> {
  const out = new Map<string, Record<Duration, Histogram>>();
  for (const cell of live) out.set(cellKey(cell), { first_response_at: new Map(), resolved_at: new Map() });
  const add = (row: { channel: string; team: string }, duration: Duration, bucket: number, n: number) => {
    const histogram = out.get(cellKey(row))?.[duration];
    if (histogram !== undefined) histogram.set(bucket, (histogram.get(bucket) ?? 0) + n);
  };
  queries.forEach((query, i) => {
    const rows = results[i] ?? [];
    if (query.kind === "days") {
      for (const row of rows as Awaited<ReturnType<typeof dayHistograms>>) {
        for (const [duration, text] of [
          ["first_response_at", row.first_response],
          ["resolved_at", row.resolution],
        ] as const) {
          for (const [bucket, n] of Object.entries(JSON.parse(text) as Record<string, number>)) {
            if (n !== 0) add(row, duration, Number(bucket), n);
          }
        }
      }
    } else {
      for (const row of rows as Awaited<ReturnType<typeof pieceHistograms>>) {
        add(row, row.duration, row.bucket, query.sign * row.n);
      }
    }
  });
  return out;
}

/**
 * SPEC §8 over tickets created in [from, to). The counts come from `metrics_days` (one row per
 * day, channel and team, kept by triggers) for the window's whole days, plus or minus its partial
 * days counted from the tickets (`coverWindow`), and are added up here for the desk, each channel
 * and each team; percentiles, which cannot be added up, are read off the duration indexes at their
 * ranks: found through the window's duration histograms ("ranked"), or by walking from the start
 * ("ordered", `choosePercentileStrategy`). Two or three D1 round trips; nothing is loaded ticket by
 * ticket.
 */
export async function computeMetrics(
  db: Database,
  q: MetricsQuery,
  options: { percentiles?: PercentileStrategy } = {},
): Promise<MetricsReport> {
  const { days, pieces } = coverWindow(q.from, q.to);
  const histogramQueries = (): HistogramQuery[] => [
    ...(days === null ? [] : [{ kind: "days" as const, statement: dayHistograms(db, q, days) }]),
    ...pieces.map((p) => ({ kind: "piece" as const, sign: p.sign, statement: pieceHistograms(db, q, p) })),
  ];
  // A filtered query always ranks (`choosePercentileStrategy`): its histograms come in the first round trip.
  const rankedAhead =
    options.percentiles === undefined
      ? choosePercentileStrategy(q, 1, 1) === "ranked"
      : options.percentiles === "ranked";
  const early = rankedAhead ? histogramQueries() : [];
  const counted = [
    ...(days === null ? [] : [{ sign: 1, statement: dayCounts(db, q, days) }]),
    ...pieces.map((p) => ({ sign: p.sign, statement: pieceCounts(db, q, p) })),
  ];
  const surveyed = pieces.map((p) => ({ sign: p.sign, statement: pieceEffort(db, q, p) }));
  const [[{ total } = { total: 0 }], promised, pending, ...rest] = await batch(db, [
    // Tickets ever opened (numbers are never reused): how much of the desk the window holds.
    db.all<{ total: number }>(sql`select coalesce(max(number), 0) as total from tickets`),
    // Promised updates made in the window (SPEC §16), whatever the ticket's age.
    promiseCountsQuery(db, q),
    notYetDue(db, q),
    ...counted.map((c) => c.statement),
    ...surveyed.map((e) => e.statement),
    ...early.map((h) => h.statement),
  ]);
  const results: unknown[][] = rest;

  const cells = new Map<string, CellCounts>();
  const cellOf = (row: { channel: string; team: string }) => {
    const key = cellKey(row);
    let cell = cells.get(key);
    if (cell === undefined) {
      cell = { channel: row.channel, team: row.team, ...zeroCounts() };
      cells.set(key, cell);
    }
    return cell;
  };
  counted.forEach(({ sign }, i) => {
    for (const row of (results[i] ?? []) as CellCounts[]) {
      const cell = cellOf(row);
      for (const c of METRIC_DAY_COUNTS) cell[c] += sign * row[c];
    }
  });
  surveyed.forEach(({ sign }, i) => {
    for (const row of (results[counted.length + i] ?? []) as EffortRow[]) {
      const cell = cellOf(row);
      cell.effort_responses += sign * row.n;
      cell.effort_total += sign * row.total;
    }
  });
  const notDue = new Map(pending.map((row) => [cellKey(row), row.n]));
  // A cell without tickets in the window (a day's row a move emptied) is no group of the report.
  const live = [...cells.values()].filter((cell) => cell.tickets > 0);
  const groups: GroupCounts[] = live.map((cell) => ({
    channel: cell.channel,
    team: cell.team,
    tickets: cell.tickets,
    hits: cell.hits,
    decided: cell.due_responded + cell.due_open - (notDue.get(cellKey(cell)) ?? 0),
    resolved: cell.resolved,
    responded: cell.responded,
    improved: cell.improved,
    shipped: cell.shipped,
  }));
  const effort = live
    .filter((cell) => cell.effort_responses > 0)
    .map((cell) => ({
      channel: cell.channel,
      team: cell.team,
      n: cell.effort_responses,
      total: cell.effort_total,
    }));

  const windowTickets = groups.reduce((sum, row) => sum + row.tickets, 0);
  const strategy = options.percentiles ?? choosePercentileStrategy(q, windowTickets, total);
  let plan: Record<Duration, PlannedGroup[]>;
  if (strategy === "ordered") plan = orderedPlan(groups);
  else if (rankedAhead) {
    plan = rankedPlan(sumHistograms(early, results.slice(counted.length + surveyed.length), live));
  } else {
    const late = histogramQueries();
    const rows = await batchOf(
      db,
      late.map((h) => h.statement as ReturnType<typeof dayHistograms>),
    );
    plan = rankedPlan(sumHistograms(late, rows, live));
  }
  const [firstResponse, resolution] = await walkPercentiles(db, q, plan);

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
