import { and, eq, isNull } from "drizzle-orm";
import type { Database } from "./db";
import { surveys } from "./schema";

export type SurveyRow = typeof surveys.$inferSelect;

/** Record the first answer to a survey; the ticket it belongs to, or undefined if it was unknown or answered. */
export async function recordSurveyAnswer(
  db: Database,
  token: string,
  score: number,
  now: number,
): Promise<{ ticketNumber: number } | undefined> {
  const updated = await db
    .update(surveys)
    .set({ score, answeredAt: now })
    .where(and(eq(surveys.token, token), isNull(surveys.answeredAt)))
    .returning({ ticketNumber: surveys.ticketNumber });
  return updated[0];
}

export async function getSurvey(db: Database, token: string): Promise<SurveyRow | undefined> {
  return db.select().from(surveys).where(eq(surveys.token, token)).get();
}
