import { is, Param, Placeholder, sql } from "drizzle-orm";
import type { Database, Statement } from "./db";

/**
 * Statements drizzle builds once per isolate, for the paths every message takes.
 *
 * Building a statement (drizzle's query builder and `sqlToQuery`) was a quarter of the desk's own
 * CPU per message in the intake profiles (README "Where a new ticket's time goes"), and more once
 * several kinds of request run in one isolate. A statement here is built the first time its shape
 * (`key`) is seen, with `sql.placeholder(name)` wherever a call's value goes, and kept: later calls
 * only put their values in. What runs is the very SQL drizzle built, mapped back by drizzle's own
 * result mapper, so rows come back exactly as from the builder.
 *
 * A shape must fix everything but the placeholders: which columns an insert names (a key left out
 * gets its column default, baked in), how many values an `in (…)` has. Callers put those in `key`.
 */

interface PreparedLike {
  getQuery(): { sql: string; params: unknown[] };
  mapResult(result: unknown, isFromBatch: boolean): unknown;
}

interface Compiled {
  sql: string;
  params: readonly unknown[];
  prepared: PreparedLike;
}

const compiled = new Map<string, Compiled>();

/** At most this many shapes are kept (a guard against a caller putting values in its key). */
const MAX_SHAPES = 512;

/** `sql.placeholder(name)`: where a call's value goes in a shape's statement. */
export function slot(name: string) {
  return sql.placeholder(name);
}

/** An insert's values as placeholders for the keys that have a value (an `undefined` one takes the default). */
export function slots<T extends Record<string, unknown>>(row: T, prefix = ""): { shape: string; values: T } {
  const keys = Object.keys(row).filter((k) => row[k] !== undefined);
  // Placeholders where the row's values go; drizzle takes a placeholder for any column's value.
  const values = Object.fromEntries(keys.map((k) => [k, slot(`${prefix}${k}`)])) as unknown as T;
  return { shape: keys.join(","), values };
}

/** The values for `slots(row, prefix)`'s placeholders. */
export function slotValues(row: Record<string, unknown>, prefix = ""): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) if (v !== undefined) out[`${prefix}${k}`] = v;
  return out;
}

/** A placeholder's value as the driver takes it: drizzle's column encoder, except for null (as drizzle does). */
function fill(params: readonly unknown[], values: Record<string, unknown>): unknown[] {
  return params.map((p) => {
    if (is(p, Placeholder)) return placeholderValue(values, p.name);
    if (is(p, Param) && is(p.value, Placeholder)) {
      const value = placeholderValue(values, p.value.name);
      return value === null ? null : p.encoder.mapToDriverValue(value);
    }
    return p;
  });
}

function placeholderValue(values: Record<string, unknown>, name: string): unknown {
  if (!(name in values)) throw new Error(`prepared statement: no value for placeholder "${name}"`);
  const value = values[name];
  return value === undefined ? null : value;
}

/**
 * The statement of shape `key` (built by `build` the first time, with placeholders), with
 * `values` in its placeholders. It goes into `batch()` / `batchOf()` (db.ts) like the statement
 * `build` returns, and its result has that statement's type; it is not a query builder otherwise.
 */
export function prepared<S extends Statement>(
  db: Database,
  key: string,
  build: (db: Database) => S,
  values: Record<string, unknown>,
): S {
  let known = compiled.get(key);
  if (known === undefined) {
    const statement = (build(db) as unknown as { _prepare(): PreparedLike })._prepare();
    const query = statement.getQuery();
    known = { sql: query.sql, params: query.params, prepared: statement };
    if (compiled.size >= MAX_SHAPES) compiled.clear();
    compiled.set(key, known);
  }
  const { sql: text, params, prepared: statement } = known;
  const bound: PreparedLike = {
    getQuery: () => ({ sql: text, params: fill(params, values) }),
    mapResult: (result, isFromBatch) => statement.mapResult(result, isFromBatch),
  };
  return { _prepare: () => bound } as unknown as S;
}
