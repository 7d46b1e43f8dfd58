/**
 * A D1 binding that records every statement it runs and adds up D1's own `meta.rows_read` /
 * `rows_written`. Used by the benchmark (`D1_METERING=1` makes every response carry
 * `x-d1-rows-read` / `x-d1-rows-written`) and by the query-plan test, which replays each recorded
 * statement under EXPLAIN QUERY PLAN. `raw()` results carry no meta, so it is answered from
 * `all()` — objects turned back into arrays in column order.
 */
export interface Meter {
  rowsRead: number;
  rowsWritten: number;
  /** Calls to D1: a batch is one, however many statements it carries. */
  roundTrips: number;
  statements: { sql: string; params: unknown[] }[];
}

export function newMeter(): Meter {
  return { rowsRead: 0, rowsWritten: 0, roundTrips: 0, statements: [] };
}

function count(meter: Meter, result: unknown): void {
  const meta = (result as { meta?: { rows_read?: number; rows_written?: number } } | null)?.meta;
  meter.rowsRead += meta?.rows_read ?? 0;
  meter.rowsWritten += meta?.rows_written ?? 0;
  isolateMeter.rowsRead += meta?.rows_read ?? 0;
  isolateMeter.rowsWritten += meta?.rows_written ?? 0;
}

interface Recorded {
  statement: D1PreparedStatement;
  sql: string;
  params: unknown[];
}

const RECORDED = Symbol("recorded");

function wrapStatement(
  meter: Meter,
  statement: D1PreparedStatement,
  sql: string,
  params: unknown[],
): D1PreparedStatement {
  const wrapped = {
    [RECORDED]: { statement, sql, params } satisfies Recorded,
    bind: (...values: unknown[]) => wrapStatement(meter, statement.bind(...values), sql, values),
    async first(column?: string) {
      meter.statements.push({ sql, params });
      meter.roundTrips += 1;
      const result = await statement.all();
      count(meter, result);
      const row = (result.results[0] ?? null) as Record<string, unknown> | null;
      return column === undefined || row === null ? row : row[column];
    },
    async all() {
      meter.statements.push({ sql, params });
      meter.roundTrips += 1;
      const result = await statement.all();
      count(meter, result);
      return result;
    },
    async run() {
      meter.statements.push({ sql, params });
      meter.roundTrips += 1;
      const result = await statement.run();
      count(meter, result);
      return result;
    },
    async raw(options?: { columnNames?: boolean }) {
      meter.statements.push({ sql, params });
      meter.roundTrips += 1;
      const result = await statement.all();
      count(meter, result);
      const rows = result.results as Record<string, unknown>[];
      const columns = rows[0] === undefined ? [] : Object.keys(rows[0]);
      const arrays = rows.map((row) => columns.map((c) => row[c]));
      return options?.columnNames === true ? [columns, ...arrays] : arrays;
    },
  };
  return wrapped as unknown as D1PreparedStatement;
}

export function meteredD1(d1: D1Database, meter: Meter): D1Database {
  const proxy = {
    prepare: (sql: string) => wrapStatement(meter, d1.prepare(sql), sql, []),
    async batch(statements: D1PreparedStatement[]) {
      meter.roundTrips += 1;
      const inner = statements.map((s) => {
        const recorded = (s as unknown as { [RECORDED]?: Recorded })[RECORDED];
        if (recorded !== undefined) meter.statements.push({ sql: recorded.sql, params: recorded.params });
        return recorded?.statement ?? s;
      });
      const results = await d1.batch(inner);
      for (const result of results) count(meter, result);
      return results;
    },
    exec: (query: string) => d1.exec(query),
    withSession: (...args: Parameters<D1Database["withSession"]>) => d1.withSession(...args),
    dump: () => d1.dump(),
  };
  return proxy as unknown as D1Database;
}

/**
 * Benchmark only (`D1_METERING=1`): what this isolate has done since it started, across requests,
 * queue batches, crons and the TicketTimer objects it hosts — D1 rows (as D1 reports them), and
 * Durable Object invocations with their wall time. The benchmark reads it from the
 * `x-isolate-*` headers of any response to turn a run of ticket exchanges into billable meters.
 */
export const isolateMeter = {
  rowsRead: 0,
  rowsWritten: 0,
  doRequests: 0,
  doWallMs: 0,
};

/**
 * `env` with its D1 binding metered (into the isolate's totals) when `D1_METERING=1`, else `env`
 * itself. For what the HTTP middleware does not see: queue batches, crons, email, timer objects.
 */
export function meteredEnv<E extends { DB: D1Database; D1_METERING?: string }>(env: E): E {
  if (env.D1_METERING !== "1") return env;
  return { ...env, DB: meteredD1(env.DB, newMeter()) };
}

/** A Durable Object invocation (RPC call or alarm) for the isolate's totals; call the result when it ends. */
export function meterObjectInvocation(env: { D1_METERING?: string }): () => void {
  if (env.D1_METERING !== "1") return () => {};
  const started = Date.now();
  isolateMeter.doRequests += 1;
  return () => {
    isolateMeter.doWallMs += Date.now() - started;
  };
}
