import { eq } from "drizzle-orm";
import { type Config, configSchema, DEFAULT_CONFIG } from "../domain/config";
import type { Database } from "./db";
import { config as configTable } from "./schema";

const ROUTING = "routing";

/** The stored routing document, or the shipped default on a fresh install. One row read. */
export async function loadConfig(db: Database): Promise<Config> {
  const row = await db.select().from(configTable).where(eq(configTable.id, ROUTING)).get();
  if (row === undefined) return DEFAULT_CONFIG;
  const parsed = configSchema.safeParse(row.document);
  // A stored document was valid when it was written; if a later release tightened the schema, keep
  // the desk running on the default rather than failing every intake.
  if (!parsed.success) {
    console.error("stored routing configuration no longer validates; using the default", parsed.error.issues);
    return DEFAULT_CONFIG;
  }
  return parsed.data;
}

export async function saveConfig(db: Database, document: Config, by: string, now: number): Promise<void> {
  await db
    .insert(configTable)
    .values({ id: ROUTING, document, updatedAt: now, updatedBy: by })
    .onConflictDoUpdate({ target: configTable.id, set: { document, updatedAt: now, updatedBy: by } });
}
