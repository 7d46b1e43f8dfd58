/** ISO 8601 weeks (Monday to Monday, UTC) for the metrics trend (SPEC §15). Pure. */

const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

/** Monday 00:00 UTC of the ISO week holding `ms`. */
export function isoWeekStart(ms: number): number {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  // 1970-01-01 was a Thursday: getUTCDay 0 = Sunday … 6 = Saturday.
  const weekday = (new Date(day).getUTCDay() + 6) % 7;
  return day - weekday * DAY_MS;
}

/** `2026-W49`: the ISO week-numbering year is the year of the week's Thursday. */
export function isoWeekLabel(weekStart: number): string {
  const thursday = new Date(weekStart + 3 * DAY_MS);
  const year = thursday.getUTCFullYear();
  const jan1 = Date.UTC(year, 0, 1);
  const week = Math.floor((thursday.getTime() - jan1) / WEEK_MS) + 1;
  return `${year}-W${String(week).padStart(2, "0")}`;
}

/** The last `count` ISO weeks up to and including the one holding `now`, oldest first. */
export function lastIsoWeeks(now: number, count: number): { week: string; from: number; to: number }[] {
  const current = isoWeekStart(now);
  return Array.from({ length: count }, (_, i) => {
    const from = current - (count - 1 - i) * WEEK_MS;
    return { week: isoWeekLabel(from), from, to: from + WEEK_MS };
  });
}
