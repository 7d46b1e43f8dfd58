import { zoneOffsetMs } from "./intl";

/**
 * Business-hours arithmetic (SPEC §14): where a target of open time ends on a calendar, how much
 * open time lies between two instants, and when a calendar opens next. Pure: zone math comes from
 * `Intl.DateTimeFormat` (through `zoneOffsetMs`, whose formatter is cached), so it runs in workerd.
 *
 * Semantics (README "Business hours"):
 * - An instant is *open* when its local wall-clock time, in the calendar's zone, falls inside one
 *   of the week's ranges and its local date is not a holiday. Wall-clock hours hold across DST:
 *   09:00–17:30 is open from 09:00 to 17:30 as the clocks on the wall show it, every day.
 * - A range `[start, end]` with `end` after `start` lies within its day; `end` may be `24:00`. A
 *   range whose `end` is not after its `start` (`["22:00","06:00"]`) spans midnight: it opens on
 *   its own weekday and closes on the next day's wall clock.
 * - A holiday closes its whole local date, 00:00 to 24:00, whichever day's range would cover it
 *   (the tail of a night shift that began the evening before included); the part of a holiday's
 *   night shift that falls after midnight on an ordinary day stays open.
 * - A wall time skipped by a DST change (02:30 in spring) never occurs; one repeated in autumn is
 *   open both times it occurs when it lies inside a range.
 *
 * The walk goes interval by interval (at most one zone lookup per local day), never minute by
 * minute; it gives up after `MAX_SEARCH_DAYS`, which validation makes unreachable (every calendar
 * has open time each week, holidays are a bounded list, targets are bounded).
 */

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** A calendar as the routing document holds it (validated by `calendarSchema` in config.ts). */
export interface BusinessCalendar {
  id: string;
  timezone: string;
  week: Partial<Record<Weekday, readonly (readonly [string, string])[]>>;
  holidays: readonly string[];
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;
const DAY_MINUTES = 1440;
const WEEK_MINUTES = 7 * DAY_MINUTES;
/** How far any walk looks ahead before it gives up (about ten years). */
export const MAX_SEARCH_DAYS = 3700;

export class CalendarNeverOpensError extends Error {
  constructor(id: string) {
    super(`calendar "${id}" has no open time within ${MAX_SEARCH_DAYS} days`);
  }
}

/** "HH:MM" → minutes after midnight; "24:00" → 1440. Null when malformed. */
export function parseClockTime(text: string): number | null {
  const match = /^([01]\d|2[0-4]):([0-5]\d)$/.exec(text);
  if (match === null) return null;
  const minutes = Number(match[1]) * 60 + Number(match[2]);
  return minutes > DAY_MINUTES ? null : minutes;
}

/** A range as minutes from its own day's midnight: `[start, end)` with end in (start, start + 1440]. */
export function rangeMinutes(range: readonly [string, string]): [number, number] | null {
  const start = parseClockTime(range[0]);
  const end = parseClockTime(range[1]);
  if (start === null || end === null || start === DAY_MINUTES || end === start) return null;
  return [start, end > start ? end : end + DAY_MINUTES];
}

/**
 * What is wrong with a calendar's week and holidays, as `[path, message]` pairs (empty: nothing).
 * Ranges are `HH:MM` (`24:00` only as an end), never empty, and no two overlap anywhere in the
 * week — a night shift's tail included (touching is fine: 09:00–12:00 then 12:00–17:00).
 */
export function calendarProblems(calendar: BusinessCalendar): [(string | number)[], string][] {
  const problems: [(string | number)[], string][] = [];
  const spans: { from: number; to: number; where: string }[] = [];
  WEEKDAYS.forEach((name, w) => {
    (calendar.week[name] ?? []).forEach((range, i) => {
      const minutes = rangeMinutes(range);
      if (minutes === null) {
        problems.push([
          ["week", name, i],
          `"${range[0]}"–"${range[1]}" is not a range of HH:MM times (00:00–23:59, 24:00 only as an end, start ≠ end)`,
        ]);
        return;
      }
      const from = w * DAY_MINUTES + minutes[0];
      const to = w * DAY_MINUTES + minutes[1];
      const where = `${name} ${range[0]}–${range[1]}`;
      // Sunday's night shift ends on Monday morning: the week is a circle.
      if (to > WEEK_MINUTES) {
        spans.push({ from, to: WEEK_MINUTES, where }, { from: 0, to: to - WEEK_MINUTES, where });
      } else spans.push({ from, to, where });
    });
  });
  spans.sort((a, b) => a.from - b.from);
  const reported = new Set<string>();
  for (let i = 1; i < spans.length; i++) {
    const before = spans[i - 1];
    const after = spans[i];
    if (before === undefined || after === undefined || after.from >= before.to) continue;
    const pair = `${before.where} and ${after.where}`;
    if (before.where === after.where || reported.has(pair)) continue;
    reported.add(pair);
    problems.push([["week"], `ranges ${pair} overlap`]);
  }
  if (problems.length === 0 && weeklyOpenMinutes(calendar) === 0) {
    problems.push([["week"], "the calendar is never open: give at least one range"]);
  }
  calendar.holidays.forEach((date, i) => {
    if (parseIsoDate(date) === null)
      problems.push([["holidays", i], `"${date}" is not an ISO date (YYYY-MM-DD)`]);
  });
  return problems;
}

/** "2026-12-25" → days since the epoch (null when not a real date). */
export function parseIsoDate(text: string): number | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (match === null) return null;
  const [y, m, d] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const ms = Date.UTC(y, m - 1, d);
  const back = new Date(ms);
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== m - 1 || back.getUTCDate() !== d) return null;
  return ms / DAY_MS;
}

/** Monday = 0 … Sunday = 6, for a day number (days since the epoch; 1970-01-01 was a Thursday). */
function weekdayIndex(day: number): number {
  return (((day + 3) % 7) + 7) % 7;
}

interface Compiled {
  id: string;
  timezone: string;
  /** Per weekday (Mon = 0): that day's own ranges, minutes from its midnight, end up to 2880. */
  own: [number, number][][];
  /** Per weekday: the open minutes of that local day, merged, within [0, 1440) (own ranges and the previous day's night-shift tails). */
  day: [number, number][][];
  holidays: Set<number>;
}

const compiledCache = new WeakMap<BusinessCalendar, Compiled>();

function compile(calendar: BusinessCalendar): Compiled {
  const cached = compiledCache.get(calendar);
  if (cached !== undefined) return cached;
  const own = WEEKDAYS.map((name) =>
    (calendar.week[name] ?? [])
      .map(rangeMinutes)
      .filter((r): r is [number, number] => r !== null)
      .sort((a, b) => a[0] - b[0]),
  );
  const day = own.map((ranges, i) => {
    const previous = own[(i + 6) % 7] ?? [];
    const parts: [number, number][] = [
      ...ranges.map((r): [number, number] => [r[0], Math.min(r[1], DAY_MINUTES)]),
      ...previous.filter((r) => r[1] > DAY_MINUTES).map((r): [number, number] => [0, r[1] - DAY_MINUTES]),
    ].sort((a, b) => a[0] - b[0]);
    const merged: [number, number][] = [];
    for (const part of parts) {
      const last = merged.at(-1);
      if (last !== undefined && part[0] <= last[1]) last[1] = Math.max(last[1], part[1]);
      else merged.push([part[0], part[1]]);
    }
    return merged;
  });
  const holidays = new Set(calendar.holidays.map(parseIsoDate).filter((d): d is number => d !== null));
  const compiled: Compiled = { id: calendar.id, timezone: calendar.timezone, own, day, holidays };
  compiledCache.set(calendar, compiled);
  return compiled;
}

/** Open minutes in a week, ignoring holidays (validation: a calendar must have some). */
export function weeklyOpenMinutes(calendar: BusinessCalendar): number {
  return compile(calendar).day.reduce((sum, ranges) => sum + ranges.reduce((s, r) => s + r[1] - r[0], 0), 0);
}

/** One stretch of open time: `[start, end)` instants, at one zone offset (so wall = instant + offset). */
interface Piece {
  start: number;
  end: number;
  offset: number;
}

/**
 * The first instant at or after `lo` (exclusive of `lo` itself, inclusive of `hi`) whose offset is
 * not `offsetLo`; `offsetLo` holds at `lo` and something else at `hi`. Zone changes fall on whole
 * minutes, so the search runs over minutes.
 */
function transitionBetween(lo: number, hi: number, offsetLo: number, timeZone: string): number {
  let a = Math.floor(lo / MINUTE_MS); // offset at a*60000 may be offsetLo (a*60000 ≤ lo)
  let b = Math.ceil(hi / MINUTE_MS); // offset at b*60000 differs
  if (zoneOffsetMs(a * MINUTE_MS, timeZone) !== offsetLo) return lo;
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (zoneOffsetMs(mid * MINUTE_MS, timeZone) === offsetLo) a = mid;
    else b = mid;
  }
  return Math.max(lo, b * MINUTE_MS);
}

/** Open pieces from `from` on, in order; each clipped to start no earlier than `from`. */
function* openPieces(calendar: Compiled, from: number): Generator<Piece> {
  const limit = from + MAX_SEARCH_DAYS * DAY_MS;
  let segStart = from;
  let offset = zoneOffsetMs(segStart, calendar.timezone);
  while (segStart < limit) {
    // A stretch of at most a day at one offset (no zone changes its offset twice within a day).
    let segEnd = segStart + DAY_MS;
    const offsetEnd = zoneOffsetMs(segEnd, calendar.timezone);
    let nextOffset = offset;
    if (offsetEnd !== offset) {
      segEnd = transitionBetween(segStart, segEnd, offset, calendar.timezone);
      nextOffset = zoneOffsetMs(segEnd, calendar.timezone);
    }
    const wallFrom = segStart + offset;
    const wallTo = segEnd + offset;
    for (let d = Math.floor(wallFrom / DAY_MS); d * DAY_MS < wallTo; d++) {
      if (calendar.holidays.has(d)) continue;
      for (const [a, b] of calendar.day[weekdayIndex(d)] ?? []) {
        const start = Math.max(wallFrom, d * DAY_MS + a * MINUTE_MS);
        const end = Math.min(wallTo, d * DAY_MS + b * MINUTE_MS);
        if (start < end) yield { start: start - offset, end: end - offset, offset };
      }
    }
    segStart = segEnd;
    offset = nextOffset;
  }
  throw new CalendarNeverOpensError(calendar.id);
}

/** Whether the calendar is open at `instant`. */
export function isOpenAt(calendar: BusinessCalendar, instant: number): boolean {
  const first = openPieces(compile(calendar), instant).next();
  return first.done !== true && first.value.start === instant;
}

/** The first open instant at or after `instant` (itself when open). */
export function nextOpening(calendar: BusinessCalendar, instant: number): number {
  const first = openPieces(compile(calendar), instant).next();
  if (first.done === true) throw new CalendarNeverOpensError(calendar.id);
  return first.value.start;
}

/**
 * The deadline: the earliest instant by which `openMs` of open time have passed since `start`
 * (counting starts at the next opening when `start` is outside hours). `openMs <= 0` → `start`.
 */
export function addOpenTime(calendar: BusinessCalendar, start: number, openMs: number): number {
  if (openMs <= 0) return start;
  let left = openMs;
  for (const piece of openPieces(compile(calendar), start)) {
    const length = piece.end - piece.start;
    if (left <= length) return piece.start + left;
    left -= length;
  }
  throw new CalendarNeverOpensError(calendar.id);
}

/** Open time between two instants (0 when `to <= from`). The inverse of `addOpenTime`. */
export function openTimeBetween(calendar: BusinessCalendar, from: number, to: number): number {
  if (to <= from) return 0;
  let total = 0;
  for (const piece of openPieces(compile(calendar), from)) {
    if (piece.start >= to) break;
    total += Math.min(piece.end, to) - piece.start;
    if (piece.end >= to) break;
  }
  return total;
}

/**
 * The instant at `fraction` of a clock's open time (75 %: the warning; 200 %: past the deadline):
 * `fraction` × the open time between `start` and `due`, counted on from `start`.
 */
export function openFractionAt(
  calendar: BusinessCalendar,
  start: number,
  due: number,
  fraction: number,
): number {
  return addOpenTime(calendar, start, Math.round(openTimeBetween(calendar, start, due) * fraction));
}

/**
 * Where a business day ends: the close of the last of its own ranges on local date `day` (a
 * night shift closes the next morning), as the clock reaches it — the end of the last open
 * stretch that starts before that wall time. Walks from `from`, an instant inside that day.
 */
function businessDayClose(calendar: Compiled, day: number, from: number): number {
  const ranges = calendar.own[weekdayIndex(day)] ?? [];
  const close = day * DAY_MS + Math.max(...ranges.map((r) => r[1])) * MINUTE_MS;
  let last = from;
  for (const piece of openPieces(calendar, from)) {
    const wallStart = piece.start + piece.offset;
    if (wallStart >= close) break;
    const wallEnd = piece.end + piece.offset;
    if (wallEnd >= close) return piece.start + (close - wallStart);
    last = piece.end;
  }
  return last;
}

/** Which business day an open instant belongs to: its local date, or the day before in a night shift's tail. */
function businessDayOf(calendar: Compiled, instant: number, offset: number): number {
  const wall = instant + offset;
  const day = Math.floor(wall / DAY_MS);
  const minute = (wall - day * DAY_MS) / MINUTE_MS;
  const ownToday = (calendar.own[weekdayIndex(day)] ?? []).some((r) => r[0] <= minute && minute < r[1]);
  return ownToday ? day : day - 1;
}

/**
 * Discord's same-day rule on a calendar (SPEC §1, §14): due at the end of the business day the
 * clock starts counting in (outside hours: the next one); when no more than `lateWindowMs` of open
 * time is left of that day, at the end of the next business day.
 */
export function businessSameDayDeadline(
  calendar: BusinessCalendar,
  start: number,
  lateWindowMs: number,
): number {
  const compiled = compile(calendar);
  const first = openPieces(compiled, start).next();
  if (first.done === true) throw new CalendarNeverOpensError(calendar.id);
  const opening = first.value.start;
  const day = businessDayOf(compiled, opening, first.value.offset);
  const endOfDay = businessDayClose(compiled, day, opening);
  if (openTimeBetween(calendar, start, endOfDay) > lateWindowMs) return endOfDay;
  // The next business day: the first open stretch that belongs to a later business day.
  for (const piece of openPieces(compiled, endOfDay)) {
    const next = businessDayOf(compiled, piece.start, piece.offset);
    if (next > day) return businessDayClose(compiled, next, piece.start);
  }
  throw new CalendarNeverOpensError(calendar.id);
}
