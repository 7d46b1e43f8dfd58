import type { Config } from "./config";
import { slackLine } from "./escalation";
import { dateTimeFormat } from "./intl";
import { describeWindow, formatDeadline } from "./sla";

const DAY_MS = 86_400_000;

export interface LocalWeekTime {
  /** ISO weekday, 1 = Monday … 7 = Sunday. */
  weekday: number;
  hour: number;
  /** ISO week of the local date, e.g. `2026-W05`. */
  isoWeek: string;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** Weekday, hour and ISO week of `instant` on the wall clock of `timeZone`. */
export function localWeekTime(instant: number, timeZone: string): LocalWeekTime {
  const parts = dateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    weekday: "short",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
  }).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "";
  const weekday = WEEKDAYS[get("weekday")] ?? 1;
  const date = Date.UTC(Number(get("year")), Number(get("month")) - 1, Number(get("day")));
  // ISO 8601: the week belongs to the year of its Thursday.
  const thursday = date + (4 - weekday) * DAY_MS;
  const year = new Date(thursday).getUTCFullYear();
  const week = Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * DAY_MS)) + 1;
  return { weekday, hour: Number(get("hour")), isoWeek: `${year}-W${String(week).padStart(2, "0")}` };
}

/**
 * The digest goes out on the configured weekday from the configured hour on (a run that was
 * missed or failed at 09:00 catches up at 10:00 the same day); once per team per ISO week.
 */
export function isTriageDay(local: LocalWeekTime, settings: Config["github"]["triage"]): boolean {
  return settings.enabled && local.weekday === settings.weekday && local.hour >= settings.hour;
}

export interface DigestTicket {
  key: string;
  subject: string;
  status: "open" | "pending" | "resolved";
  priority: string;
  createdAt: number;
  responseDueAt: number | null;
  breached: boolean;
  /** `owner/repo#12` when known. */
  issue: string | null;
}

const MAX_LINES = 40;

/** The Slack text of one team's weekly digest, oldest ticket first. */
export function digestText(
  team: { name: string },
  tickets: readonly DigestTicket[],
  context: { now: number; timeZone: string; link: (key: string) => string },
): string {
  const sorted = [...tickets].sort((a, b) => a.createdAt - b.createdAt);
  const count = `${sorted.length} open GitHub ticket${sorted.length === 1 ? "" : "s"}`;
  const lines = sorted.slice(0, MAX_LINES).map((t) => {
    const where = t.issue === null ? "" : ` ${slackLine(t.issue)}`;
    const priority = t.priority === "normal" ? "" : ` · *${t.priority}*`;
    return `• <${context.link(t.key)}|${t.key}>${where} “${slackLine(t.subject || "(no subject)")}” — ${state(t, context)} · ${describeWindow(Math.max(0, context.now - t.createdAt))} old${priority}`;
  });
  const more = sorted.length > MAX_LINES ? [`…and ${sorted.length - MAX_LINES} more`] : [];
  return [`:clipboard: *Weekly GitHub triage — ${slackLine(team.name)}*: ${count}`, ...lines, ...more].join(
    "\n",
  );
}

function state(t: DigestTicket, context: { now: number; timeZone: string }): string {
  if (t.status === "pending") return "waiting on the customer";
  if (t.responseDueAt === null) return "open";
  if (t.responseDueAt <= context.now) {
    return `open, reply overdue by ${describeWindow(context.now - t.responseDueAt)}`;
  }
  return `open, reply due ${formatDeadline(t.responseDueAt, context.now, context.timeZone)}${t.breached ? " (missed an earlier deadline)" : ""}`;
}
