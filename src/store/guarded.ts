import { getTableColumns, getTableName, type SQL, sql } from "drizzle-orm";
import type { SQLiteTable } from "drizzle-orm/sqlite-core";

/**
 * `insert … select … where <guard>`: a row that is written only when the guard holds at that
 * point of the batch. D1 has no interactive transactions; this is how a batch stays all-or-nothing
 * in meaning when its main update may find the ticket changed (optimistic concurrency).
 */
export function guardedInsert<T extends SQLiteTable>(
  table: T,
  values: Partial<Record<keyof T["$inferInsert"], unknown>>,
  guard: SQL,
): SQL {
  const columns = getTableColumns(table) as Record<string, { name: string }>;
  const entries = Object.entries(values).filter(([, v]) => v !== undefined);
  const names = entries.map(([key]) => sql.identifier(columns[key]?.name ?? key));
  const params = entries.map(([, value]) => (value === null ? sql`null` : sql`${value}`));
  return sql`insert into ${sql.identifier(getTableName(table))} (${sql.join(names, sql`, `)})
    select ${sql.join(params, sql`, `)} where ${guard}`;
}

/** The guard: the ticket is still at the revision the change was planned from. */
export function ticketAtRevision(number: number, revision: number): SQL {
  return sql`exists (select 1 from tickets where number = ${number} and revision = ${revision})`;
}
