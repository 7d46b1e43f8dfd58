import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

function open(d1: D1Database) {
  return drizzle(d1, { schema });
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

interface PreparedLike {
  getQuery(): { sql: string; params: unknown[] };
  stmt?: D1PreparedStatement;
  mapResult(result: unknown, isFromBatch: boolean): unknown;
}

interface BatchableLike {
  _prepare(): PreparedLike;
}

/**
 * `db.batch()` for drizzle query builders *and* raw `db.run(sql…)` statements. drizzle-orm 0.45's
 * D1 batch binds parameters through `prepared.stmt`, which raw statements do not have (they fail
 * with "reading 'bind'"); here every statement is prepared from its SQL text and parameters. One
 * D1 batch: one round trip, one transaction, all or nothing.
 */
export async function batch(db: Database, items: readonly unknown[]): Promise<unknown[]> {
  const d1 = db.$client;
  const prepared = items.map((item) => (item as BatchableLike)._prepare());
  const statements = prepared.map((p) => {
    const query = p.getQuery();
    return d1.prepare(query.sql).bind(...query.params);
  });
  const results = await d1.batch(statements);
  return results.map((result, i) => prepared[i]?.mapResult(result, true));
}
