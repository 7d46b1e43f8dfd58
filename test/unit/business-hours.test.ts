import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  addOpenTime,
  type BusinessCalendar,
  businessSameDayDeadline,
  calendarProblems,
  isOpenAt,
  nextOpening,
  openFractionAt,
  openTimeBetween,
  WEEKDAYS,
} from "../../src/domain/business-hours";
import { configSchema } from "../../src/domain/config";
import {
  clockAcknowledgementText,
  clockTiming,
  describeBusinessWindow,
  retimedPolicies,
} from "../../src/domain/sla";

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * The reference: a brute-force walk over every minute. Each minute's wall clock comes from its own
 * `Intl.DateTimeFormat` (no code shared with the module under test beyond ICU), read once per
 * quarter hour — every zone changes its offset on a quarter hour — and cached.
 */
const walkers = new Map<string, Intl.DateTimeFormat>();
const quarterOffsets = new Map<string, number>();
const QUARTER = 15 * 60_000;
function offsetAt(instant: number, timeZone: string): number {
  const quarter = Math.floor(instant / QUARTER) * QUARTER;
  const key = `${timeZone}@${quarter}`;
  const cached = quarterOffsets.get(key);
  if (cached !== undefined) return cached;
  let format = walkers.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
    });
    walkers.set(timeZone, format);
  }
  const p = Object.fromEntries(format.formatToParts(new Date(quarter)).map((x) => [x.type, Number(x.value)]));
  const offset = Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0) - quarter;
  quarterOffsets.set(key, offset);
  return offset;
}

function toMinutes(t: string): number {
  const [h, m] = t.split(":").map(Number);
  return (h ?? 0) * 60 + (m ?? 0);
}

/** The calendar read literally: per weekday its [start, end] minutes, holidays as day numbers. */
const literal = new WeakMap<BusinessCalendar, { week: [number, number][][]; holidays: Set<number> }>();
function read(calendar: BusinessCalendar) {
  let r = literal.get(calendar);
  if (r === undefined) {
    r = {
      week: WEEKDAYS.map((name) =>
        (calendar.week[name] ?? []).map(([s, e]): [number, number] => [toMinutes(s), toMinutes(e)]),
      ),
      holidays: new Set(calendar.holidays.map((d) => Date.parse(`${d}T00:00:00Z`) / 86_400_000)),
    };
    literal.set(calendar, r);
  }
  return r;
}

/** Open at this minute, by the README's definition read literally. */
function openMinute(calendar: BusinessCalendar, instant: number): boolean {
  const wall = instant + offsetAt(instant, calendar.timezone);
  const dayNumber = Math.floor(wall / 86_400_000);
  const minute = Math.floor((wall - dayNumber * 86_400_000) / MINUTE);
  const weekday = (new Date(dayNumber * 86_400_000).getUTCDay() + 6) % 7; // Monday = 0
  const { week, holidays } = read(calendar);
  if (holidays.has(dayNumber)) return false;
  for (const [a, b] of week[weekday] ?? []) {
    if (b > a ? minute >= a && minute < b : minute >= a) return true;
  }
  for (const [a, b] of week[(weekday + 6) % 7] ?? []) {
    if (b <= a && minute < b) return true;
  }
  return false;
}

const WALK_LIMIT_MINUTES = 60 * 24 * 21;

function walkDeadline(calendar: BusinessCalendar, start: number, minutes: number): number | null {
  let counted = 0;
  for (let m = 0; m < WALK_LIMIT_MINUTES; m++) {
    const at = start + m * MINUTE;
    if (openMinute(calendar, at)) {
      counted++;
      if (counted === minutes) return at + MINUTE;
    }
  }
  return null;
}

function walkOpenMinutes(calendar: BusinessCalendar, from: number, to: number): number {
  let counted = 0;
  for (let at = from; at < to; at += MINUTE) if (openMinute(calendar, at)) counted++;
  return counted;
}

const ZONES = [
  "Europe/Berlin",
  "America/New_York",
  "Asia/Kolkata",
  "Australia/Adelaide",
  "Asia/Kathmandu",
  "UTC",
  "America/St_Johns",
  "Australia/Lord_Howe",
] as const;

/** Days around the 2026/2027 DST changes of the zones above, and ordinary days. */
const ANCHORS = [
  "2026-03-08T07:00:00Z", // New York springs forward
  "2026-03-29T01:00:00Z", // Berlin springs forward
  "2026-04-05T02:00:00Z", // Adelaide / Lord Howe fall back
  "2026-10-04T02:00:00Z", // Adelaide springs forward
  "2026-10-25T01:00:00Z", // Berlin falls back
  "2026-11-01T06:00:00Z", // New York falls back
  "2026-12-24T12:00:00Z",
  "2027-06-15T08:00:00Z",
].map((s) => Date.parse(s));

const hhmm = fc
  .tuple(fc.integer({ min: 0, max: 23 }), fc.constantFrom(0, 15, 30, 45, 7, 59))
  .map(([h, m]) => `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`);
const range = fc.oneof(
  fc.tuple(hhmm, hhmm).filter(([a, b]) => a !== b) as fc.Arbitrary<[string, string]>,
  fc.constant<[string, string]>(["09:00", "17:30"]),
  fc.constant<[string, string]>(["22:00", "06:00"]),
  fc.constant<[string, string]>(["00:00", "24:00"]),
  fc.constant<[string, string]>(["01:30", "03:30"]),
);

const calendarArb = fc
  .record({
    timezone: fc.constantFrom(...ZONES),
    days: fc.array(fc.array(range, { maxLength: 2 }), { minLength: 7, maxLength: 7 }),
    anchor: fc.constantFrom(...ANCHORS),
    holidayOffsets: fc.array(fc.integer({ min: -2, max: 12 }), { maxLength: 4 }),
  })
  .map(({ timezone, days, anchor, holidayOffsets }) => {
    const week = Object.fromEntries(WEEKDAYS.map((name, i) => [name, days[i] ?? []]));
    const holidays = holidayOffsets.map((d) => new Date(anchor + d * 86_400_000).toISOString().slice(0, 10));
    return { calendar: { id: "x", timezone, week, holidays } as BusinessCalendar, anchor };
  })
  .filter(({ calendar }) => calendarProblems(calendar).length === 0);

const caseArb = fc.record({
  c: calendarArb,
  startMinute: fc.integer({ min: -3 * 1440, max: 3 * 1440 }),
  targetMinutes: fc.integer({ min: 1, max: 2 * 1440 }),
});

describe("business-hours arithmetic equals a brute-force minute walk", { timeout: 120_000 }, () => {
  it("addOpenTime: the deadline, to the minute", () => {
    fc.assert(
      fc.property(caseArb, ({ c, startMinute, targetMinutes }) => {
        const start = Math.floor(c.anchor / MINUTE) * MINUTE + startMinute * MINUTE;
        const expected = walkDeadline(c.calendar, start, targetMinutes);
        fc.pre(expected !== null);
        expect(addOpenTime(c.calendar, start, targetMinutes * MINUTE)).toBe(expected);
      }),
      { numRuns: 150 },
    );
  });

  it("openTimeBetween: the inverse, and the 75 % / 200 % fractions of open time", () => {
    fc.assert(
      fc.property(caseArb, ({ c, startMinute, targetMinutes }) => {
        const start = Math.floor(c.anchor / MINUTE) * MINUTE + startMinute * MINUTE;
        const due = walkDeadline(c.calendar, start, targetMinutes);
        fc.pre(due !== null);
        expect(openTimeBetween(c.calendar, start, due)).toBe(targetMinutes * MINUTE);
        const probe = start + Math.floor((due - start) / 2 / MINUTE) * MINUTE;
        expect(openTimeBetween(c.calendar, start, probe)).toBe(
          walkOpenMinutes(c.calendar, start, probe) * MINUTE,
        );
        if (targetMinutes % 4 === 0) {
          const warning = walkDeadline(c.calendar, start, (targetMinutes * 3) / 4);
          expect(openFractionAt(c.calendar, start, due, 0.75)).toBe(warning);
        }
        const overdue = walkDeadline(c.calendar, start, targetMinutes * 2);
        if (overdue !== null) expect(openFractionAt(c.calendar, start, due, 2)).toBe(overdue);
      }),
      { numRuns: 100 },
    );
  });

  it("isOpenAt and nextOpening agree with the walk", () => {
    fc.assert(
      fc.property(caseArb, ({ c, startMinute }) => {
        const start = Math.floor(c.anchor / MINUTE) * MINUTE + startMinute * MINUTE;
        expect(isOpenAt(c.calendar, start)).toBe(openMinute(c.calendar, start));
        const first = walkDeadline(c.calendar, start, 1);
        fc.pre(first !== null);
        expect(nextOpening(c.calendar, start)).toBe(first - MINUTE);
      }),
      { numRuns: 150 },
    );
  });
});

const eu: BusinessCalendar = {
  id: "eu",
  timezone: "Europe/Berlin",
  week: {
    mon: [["09:00", "17:30"]],
    tue: [["09:00", "17:30"]],
    wed: [["09:00", "17:30"]],
    thu: [["09:00", "17:30"]],
    fri: [["09:00", "17:30"]],
    sat: [],
    sun: [],
  },
  holidays: ["2026-12-07"],
};

describe("business-hours examples", () => {
  it("Friday 16:30 Berlin + 4 business hours, Monday a holiday → Tuesday 12:00 (09:00–17:30)", () => {
    const start = Date.parse("2026-12-04T15:30:00Z"); // Fri 16:30 CET
    expect(new Date(addOpenTime(eu, start, 4 * HOUR)).toISOString()).toBe("2026-12-08T11:00:00.000Z");
    // 75 %: 3 business hours → Tuesday 11:00; 200 %: 8 business hours → Tuesday 16:00
    expect(new Date(openFractionAt(eu, start, addOpenTime(eu, start, 4 * HOUR), 0.75)).toISOString()).toBe(
      "2026-12-08T10:00:00.000Z",
    );
    expect(new Date(openFractionAt(eu, start, addOpenTime(eu, start, 4 * HOUR), 2)).toISOString()).toBe(
      "2026-12-08T15:00:00.000Z",
    );
  });

  it("wall-clock hours hold across DST: 09:00 opening is 08:00 UTC in winter and 07:00 in summer", () => {
    // Friday 27 March 2026 17:00 CET; the clocks go forward on Sunday 29 March.
    const start = Date.parse("2026-03-27T16:00:00Z");
    expect(new Date(addOpenTime(eu, start, HOUR)).toISOString()).toBe("2026-03-30T07:30:00.000Z");
  });

  it("a night shift spans midnight", () => {
    const night: BusinessCalendar = {
      id: "n",
      timezone: "UTC",
      week: { mon: [["22:00", "06:00"]] },
      holidays: [],
    };
    const start = Date.parse("2026-11-30T21:00:00Z"); // Monday 21:00 UTC
    expect(new Date(addOpenTime(night, start, 7 * HOUR)).toISOString()).toBe("2026-12-01T05:00:00.000Z");
    expect(new Date(addOpenTime(night, start, 9 * HOUR)).toISOString()).toBe("2026-12-07T23:00:00.000Z");
  });

  it("Discord's same-day rule ends with the business day; the last 4 business hours roll to the next one", () => {
    const late = 4 * HOUR;
    // Tuesday 10:00 CET: 7.5 business hours left today → today 17:30.
    expect(
      new Date(businessSameDayDeadline(eu, Date.parse("2026-12-01T09:00:00Z"), late)).toISOString(),
    ).toBe("2026-12-01T16:30:00.000Z");
    // Tuesday 14:00 CET: 3.5 business hours left → Wednesday 17:30.
    expect(
      new Date(businessSameDayDeadline(eu, Date.parse("2026-12-01T13:00:00Z"), late)).toISOString(),
    ).toBe("2026-12-02T16:30:00.000Z");
    // Friday 15:00 CET, Monday a holiday → Tuesday 17:30.
    expect(
      new Date(businessSameDayDeadline(eu, Date.parse("2026-12-04T14:00:00Z"), late)).toISOString(),
    ).toBe("2026-12-08T16:30:00.000Z");
    // Saturday: counting starts Tuesday (Monday is the holiday) → Tuesday 17:30.
    expect(
      new Date(businessSameDayDeadline(eu, Date.parse("2026-12-05T10:00:00Z"), late)).toISOString(),
    ).toBe("2026-12-08T16:30:00.000Z");
  });

  it("validation lists every problem", () => {
    const problems = calendarProblems({
      id: "bad",
      timezone: "UTC",
      week: {
        mon: [
          ["09:00", "17:00"],
          ["16:00", "18:00"],
        ],
        tue: [["25:00", "26:00"]],
        sun: [["22:00", "10:00"]],
      },
      holidays: ["2026-02-30"],
    });
    expect(problems.map(([, m]) => m)).toEqual([
      expect.stringContaining('"25:00"'),
      "ranges sun 22:00–10:00 and mon 09:00–17:00 overlap",
      "ranges mon 09:00–17:00 and mon 16:00–18:00 overlap",
      '"2026-02-30" is not an ISO date (YYYY-MM-DD)',
    ]);
    expect(
      calendarProblems({ id: "never", timezone: "UTC", week: {}, holidays: [] }).map(([, m]) => m),
    ).toEqual(["the calendar is never open: give at least one range"]);
  });
});

describe("clock timing on a policy's calendar", () => {
  const config = configSchema.parse({
    timezone: "UTC",
    defaultTeam: "support",
    teams: [{ id: "support", name: "Support" }],
    calendars: [eu],
    policies: {
      "enterprise-slack": { firstResponseSeconds: 4 * 3600, calendar: "eu" },
      discord: { firstResponseSeconds: 86400, calendar: "eu" },
    },
  });
  const friday = Date.parse("2026-12-04T15:30:00Z");

  it("gives the business deadline and the ladder's open-time instants; around the clock, none", () => {
    expect(clockTiming("enterprise-slack", friday, config, 1)).toEqual({
      dueAt: Date.parse("2026-12-08T11:00:00Z"),
      stepsAt: { warning: Date.parse("2026-12-08T10:00:00Z"), overdue: Date.parse("2026-12-08T15:00:00Z") },
    });
    expect(clockTiming("email", friday, config, 1)).toEqual({ dueAt: friday + 24 * HOUR, stepsAt: null });
    // SLA_TIME_SCALE shrinks the target, the calendar stays: 4 business minutes.
    expect(clockTiming("enterprise-slack", friday, config, 60).dueAt).toBe(friday + 4 * MINUTE);
  });

  it("Discord's same-day rule on a calendar, and its acknowledgement", () => {
    const due = clockTiming("discord", Date.parse("2026-12-01T13:00:00Z"), config, 1).dueAt;
    expect(new Date(due).toISOString()).toBe("2026-12-02T16:30:00.000Z");
    expect(
      clockAcknowledgementText("SUP-3", "discord", due, Date.parse("2026-12-01T13:00:00Z"), config),
    ).toBe(
      "Thanks — we have your request as SUP-3. We will reply by the end of the business day (Wed 2 Dec, 17:30 CET).",
    );
  });

  it("names the business deadline in the calendar's zone", () => {
    const due = clockTiming("enterprise-slack", friday, config, 1).dueAt;
    expect(clockAcknowledgementText("SUP-1", "enterprise-slack", due, friday, config)).toBe(
      "Thanks — we have your request as SUP-1. We will reply by Tue 8 Dec, 12:00 CET, within 4 business hours.",
    );
    expect(describeBusinessWindow(8.5 * HOUR)).toBe("8.5 business hours");
    expect(describeBusinessWindow(30 * MINUTE)).toBe("30 business minutes");
  });

  it("a config change re-times the policies whose calendar timing changed, and only those", () => {
    const later = configSchema.parse({
      ...config,
      calendars: [{ ...eu, holidays: [...eu.holidays, "2026-12-24"] }],
    });
    expect(retimedPolicies(config, later)).toEqual(["enterprise-slack", "discord"]);
    expect(retimedPolicies(config, config)).toEqual([]);
    const offCalendar = configSchema.parse({
      ...config,
      policies: { ...config.policies, "enterprise-slack": { firstResponseSeconds: 4 * 3600 } },
    });
    expect(retimedPolicies(config, offCalendar)).toEqual(["enterprise-slack"]);
    // Around the clock, a new target applies to new clocks only (as before calendars).
    const email = configSchema.parse({
      ...config,
      policies: { ...config.policies, email: { firstResponseSeconds: 3600 } },
    });
    expect(retimedPolicies(config, email)).toEqual([]);
  });
});
