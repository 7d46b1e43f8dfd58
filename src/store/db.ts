import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

/**
 * No relational schema: nothing uses drizzle's `db.query` API, and handing it the schema makes
 * every new instance walk all of it (extractTablesRelationalConfig). That walk ran once per
 * request wherever the binding object is new per request (the benchmark's metered D1 wraps each
 * request's binding), and it is pure overhead everywhere else.
 */
function open(d1: D1Database) {
  return drizzle(d1);
}

export type Database = ReturnType<typeof open>;

/**
 * One drizzle instance per D1 binding object: building one walks the whole schema (its relational
 * configuration), which showed up in intake profiles when it ran on every call.
 */
const instances = new WeakMap<D1Database, Database>();

export function database(d1: D1Database): Database {
  let db = instances.get(d1);
  if (db === undefined) {
    db = open(d1);
    instances.set(d1, db);
  }
  return db;
}

export { schema };

/** D1 reports a lost race on a primary key or unique index this way; the caller re-reads and retries. */
export function isUniqueViolation(error: unknown): boolean {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current instanceof Error && !seen.has(current)) {
    seen.add(current);
    if (/UNIQUE constraint failed|SQLITE_CONSTRAINT/i.test(current.message)) return true;
    current = current.cause;
  }
  return false;
}

/** Anything drizzle can run in a D1 batch: a query builder or a raw `db.run(sql…)` statement. */
export type Statement = BatchItem<"sqlite">;

interface PreparedLike {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(result: unknown, isFromBatch: boolean): unknown;
}

function prepared(item: Statement): PreparedLike {
  // drizzle's builders and raw statements both have `_prepare()`; it is internal, so not in their types.
  return (item as unknown as { _prepare(): PreparedLike })._prepare();
}

async function run(db: Database, items: readonly Statement[]): Promise<unknown[]> {
  const d1 = db.$client;
  const all = items.map(prepared);
  const results = await d1.batch(
    all.map((p) => {
      const query = p.getQuery();
      return d1.prepare(query.sql).bind(...query.params);
    }),
  );
  return results.map((result, i) => all[i]?.mapResult(result, true));
}

/**
 * `db.batch()` for drizzle query builders *and* raw `db.run(sql…)` statements, typed like drizzle's
 * own: each result has its statement's type. drizzle-orm 0.45's D1 batch binds parameters through
 * `prepared.stmt`, which raw statements do not have (they fail with "reading 'bind'"); here every
 * statement is prepared from its SQL text and parameters. One D1 batch: one round trip, one
 * transaction, all or nothing.
 */
export async function batch<T extends readonly [Statement, ...Statement[]]>(
  db: Database,
  items: T,
): Promise<BatchResponse<T>> {
  return (await run(db, items)) as BatchResponse<T>;
}

/** A batch of any length of statements of one kind; each result has that statement's type. */
export async function batchOf<S extends Statement>(
  db: Database,
  items: readonly S[],
): Promise<S["_"]["result"][]> {
  return items.length === 0 ? [] : ((await run(db, items)) as S["_"]["result"][]);
}

/** A batch of any length whose results nobody reads (an empty list runs nothing). */
export async function batchAll(db: Database, items: readonly Statement[]): Promise<void> {
  if (items.length > 0) await run(db, items);
}

/**
 * One batch around a main statement: `before`, then `main`, then `after`, all or nothing; the
 * main statement's result is returned.
 */
export async function batchAround<M extends Statement>(
  db: Database,
  before: readonly Statement[],
  main: M,
  after: readonly Statement[] = [],
): Promise<M["_"]["result"]> {
  const results = await run(db, [...before, main, ...after]);
  return results[before.length] as M["_"]["result"];
}

/**
 * Several `batchAround` groups in ONE batch (one round trip, one transaction): the main result of
 * each group, in order. For a bulk action whose every item is its own guarded change.
 */
export async function batchAroundMany<M extends Statement>(
  db: Database,
  groups: readonly { before: readonly Statement[]; main: M; after: readonly Statement[] }[],
): Promise<M["_"]["result"][]> {
  if (groups.length === 0) return [];
  const items: Statement[] = [];
  const at: number[] = [];
  for (const g of groups) {
    items.push(...g.before);
    at.push(items.length);
    items.push(g.main, ...g.after);
  }
  const results = await run(db, items);
  return at.map((i) => results[i] as M["_"]["result"]);
}
