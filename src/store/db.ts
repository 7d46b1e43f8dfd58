import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Database = ReturnType<typeof database>;

export function database(d1: D1Database) {
  return drizzle(d1, { schema });
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
