import { and, eq, gt, isNull, or } from "drizzle-orm";
import type { Database } from "./db";
import { surveys, tickets } from "./schema";

export type SurveyRow = typeof surveys.$inferSelect;

/** A survey as its public page shows it: whether its ticket may be named there. */
export type SurveyState = SurveyRow & { ticketPublic: boolean };

/**
 * Record the first answer to a survey that still counts (not answered, not revoked by a reopen,
 * not expired); the ticket it belongs to, or undefined when it did not count.
 */
export async function recordSurveyAnswer(
  db: Database,
  token: string,
  score: number,
  now: number,
): Promise<{ ticketNumber: number } | undefined> {
  const updated = await db
    .update(surveys)
    .set({ score, answeredAt: now })
    .where(
      and(
        eq(surveys.token, token),
        isNull(surveys.answeredAt),
        isNull(surveys.revokedAt),
        or(isNull(surveys.expiresAt), gt(surveys.expiresAt, now)),
      ),
    )
    .returning({ ticketNumber: surveys.ticketNumber });
  return updated[0];
}

export async function getSurvey(db: Database, token: string): Promise<SurveyState | undefined> {
  const row = await db
    .select({ survey: surveys, visibility: tickets.visibility })
    .from(surveys)
    .leftJoin(tickets, eq(tickets.number, surveys.ticketNumber))
    .where(eq(surveys.token, token))
    .get();
  return row === undefined ? undefined : { ...row.survey, ticketPublic: row.visibility === "public" };
}
