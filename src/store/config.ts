import { eq, sql } from "drizzle-orm";
import { type Config, configSchema, DEFAULT_CONFIG, type PolicyName } from "../domain/config";
import { batch, type Database } from "./db";
import { prepared, slot } from "./prepared";
import { clockRetimeInserts } from "./retime";
import { config as configTable } from "./schema";

const ROUTING = "routing";

/**
 * The documents this isolate validated, by version (a random id every save writes, so a version
 * names one document, in every database). Validating the routing document
 * (zod, plus an ICU time-zone check) costs more than the D1 read, and intake and every alarm load
 * it; the row is still read every time, so a `PUT /v1/config` applies to the very next request, but
 * a version this isolate holds already comes back without its text (`configQuery`): a large
 * routing document (hundreds of customers) is not shipped from D1 and compared on every message.
 * A few versions are kept, so a request whose lookup was built before another request of this
 * isolate validated a newer document still finds the one its row names.
 */
const validated = new Map<string, Config>();
let latestVersion: string | null = null;
const VERSIONS_KEPT = 4;

/** The routing document's row as `configQuery` reads it: no text when this isolate holds that version. */
export type ConfigRow = { text: string | null; version: string | null };

/** The statement `loadConfig` runs, for callers that put it in a batch with their own reads. */
export function configQuery(db: Database) {
  // Nothing matches "": a row saved before versions existed (null), or a first read, comes whole.
  const known = latestVersion ?? "";
  return prepared(
    db,
    "config:select",
    (d) =>
      d
        .select({
          text: sql<
            string | null
          >`case when ${configTable.version} = ${slot("known")} then null else ${configTable.document} end`,
          version: configTable.version,
        })
        .from(configTable)
        .where(eq(configTable.id, ROUTING)),
    { known },
  );
}

/** The stored routing document, or the shipped default on a fresh install. One row read. */
export async function loadConfig(db: Database): Promise<Config> {
  const [rows] = await batch(db, [configQuery(db)]);
  return configFromRow(rows[0]);
}

/** The configuration a `configQuery` row holds (the default when there is none). */
export function configFromRow(row: ConfigRow | undefined): Config {
  if (row === undefined) return DEFAULT_CONFIG;
  const known = row.version === null ? undefined : validated.get(row.version);
  if (known !== undefined) return known;
  if (row.text === null) {
    // Only when more than VERSIONS_KEPT newer documents were validated during this request's read.
    throw new Error(
      "the routing configuration changed while it was read; nothing was stored, a retry is safe",
    );
  }
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
  if (row.version !== null) {
    validated.delete(row.version);
    validated.set(row.version, config);
    latestVersion = row.version;
    // The oldest first (a Map iterates in insertion order).
    for (const version of validated.keys()) {
      if (validated.size <= VERSIONS_KEPT) break;
      validated.delete(version);
    }
  }
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
  // The version each isolate caches the validated document by (configQuery).
  const version = crypto.randomUUID();
  await batch(db, [
    db
      .insert(configTable)
      .values({ id: ROUTING, document, updatedAt: now, updatedBy: by, version })
      .onConflictDoUpdate({
        target: configTable.id,
        set: { document, updatedAt: now, updatedBy: by, version },
      }),
    ...clockRetimeInserts(db, retime, now),
  ]);
}
