import { eq, sql } from "drizzle-orm";
import { type Config, configSchema, DEFAULT_CONFIG, type PolicyName } from "../domain/config";
import { batch, type Database } from "./db";
import { clockRetimeInserts } from "./retime";
import { config as configTable } from "./schema";

const ROUTING = "routing";

/**
 * The last document this isolate validated, by its stored text. Validating the routing document
 * (zod, plus an ICU time-zone check) costs more than the D1 read, and intake and every alarm load it;
 * the row is still read every time, so a `PUT /v1/config` applies to the very next request.
 */
let validated: { text: string; config: Config } | undefined;

/** The statement `loadConfig` runs, for callers that put it in a batch with their own reads. */
export function configQuery(db: Database) {
  return db
    .select({ text: sql<string>`${configTable.document}`.mapWith(String) })
    .from(configTable)
    .where(eq(configTable.id, ROUTING));
}

/** The stored routing document, or the shipped default on a fresh install. One row read. */
export async function loadConfig(db: Database): Promise<Config> {
  return configFromRow(await configQuery(db).get());
}

/** The configuration a `configQuery` row holds (the default when there is none). */
export function configFromRow(row: { text: string } | undefined): Config {
  if (row === undefined) return DEFAULT_CONFIG;
  if (validated?.text === row.text) return validated.config;
  let document: unknown;
  try {
    document = JSON.parse(row.text);
  } catch {
    document = undefined;
  }
  const parsed = configSchema.safeParse(document);
  // A stored document was valid when it was written; if a later release tightened the schema, keep
  // the desk running on the default rather than failing every intake.
  if (!parsed.success) {
    console.error("stored routing configuration no longer validates; using the default", parsed.error.issues);
    return DEFAULT_CONFIG;
  }
  // Shared by every request of this isolate from now on: frozen, so nobody can change it for the others.
  const config = deepFreeze(parsed.data);
  validated = { text: row.text, config };
  return config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

/**
 * Store the routing document. `retime` (SPEC §14): policies whose running clocks the change
 * re-times; their `clock_retimes` rows go into the same batch as the document (the debt the write owes).
 */
export async function saveConfig(
  db: Database,
  document: Config,
  by: string,
  now: number,
  retime: readonly PolicyName[] = [],
): Promise<void> {
  await batch(db, [
    db
      .insert(configTable)
      .values({ id: ROUTING, document, updatedAt: now, updatedBy: by })
      .onConflictDoUpdate({ target: configTable.id, set: { document, updatedAt: now, updatedBy: by } }),
    ...clockRetimeInserts(db, retime, now),
  ]);
}
