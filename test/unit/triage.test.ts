import { describe, expect, it } from "vitest";
import { type DigestTicket, digestText, isTriageDay, localWeekTime } from "../../src/domain/triage";

const at = (iso: string) => Date.parse(iso);
const SETTINGS = { enabled: true, weekday: 1, hour: 9 };

describe("localWeekTime", () => {
  it.each([
    ["2026-01-05T09:00:00Z", "UTC", { weekday: 1, hour: 9, isoWeek: "2026-W02" }],
    ["2026-01-01T00:00:00Z", "UTC", { weekday: 4, hour: 0, isoWeek: "2026-W01" }],
    // 2027-01-01 is a Friday: it belongs to the last ISO week of 2026.
    ["2027-01-01T12:00:00Z", "UTC", { weekday: 5, hour: 12, isoWeek: "2026-W53" }],
    // Monday 00:30 in Tokyo is still Sunday in UTC.
    ["2026-03-01T15:30:00Z", "Asia/Tokyo", { weekday: 1, hour: 0, isoWeek: "2026-W10" }],
    // Summer time in New York: 09:00 local is 13:00 UTC.
    ["2026-07-06T13:00:00Z", "America/New_York", { weekday: 1, hour: 9, isoWeek: "2026-W28" }],
  ])("%s in %s", (instant, zone, expected) => {
    expect(localWeekTime(at(instant), zone)).toEqual(expected);
  });
});

describe("isTriageDay", () => {
  it("from the configured hour on the configured weekday", () => {
    expect(isTriageDay({ weekday: 1, hour: 8, isoWeek: "x" }, SETTINGS)).toBe(false);
    expect(isTriageDay({ weekday: 1, hour: 9, isoWeek: "x" }, SETTINGS)).toBe(true);
    expect(isTriageDay({ weekday: 1, hour: 23, isoWeek: "x" }, SETTINGS)).toBe(true);
    expect(isTriageDay({ weekday: 2, hour: 9, isoWeek: "x" }, SETTINGS)).toBe(false);
    expect(isTriageDay({ weekday: 1, hour: 9, isoWeek: "x" }, { ...SETTINGS, enabled: false })).toBe(false);
  });
});

describe("digestText", () => {
  const now = at("2026-01-05T09:00:00Z");
  const ticket = (over: Partial<DigestTicket>): DigestTicket => ({
    key: "SUP-1",
    subject: "Crash",
    status: "open",
    priority: "normal",
    createdAt: now - 3 * 86_400_000,
    responseDueAt: now + 3_600_000,
    breached: false,
    issue: "acme/sdk#12",
    ...over,
  });

  it("lists oldest first with age, state and priority, and escapes Slack markup", () => {
    const text = digestText(
      { name: "SDK" },
      [
        ticket({ key: "SUP-2", subject: "<b>new</b>", createdAt: now - 5 * 3_600_000 }),
        ticket({ key: "SUP-1", priority: "critical", responseDueAt: now - 2 * 3_600_000 }),
        ticket({ key: "SUP-3", status: "pending", responseDueAt: null, issue: null }),
      ],
      { now, timeZone: "UTC", link: (key) => `https://desk.test/tickets/${key}` },
    );
    expect(text.split("\n")).toEqual([
      ":clipboard: *Weekly GitHub triage — SDK*: 3 open GitHub tickets",
      "• <https://desk.test/tickets/SUP-1|SUP-1> acme/sdk#12 “Crash” — open, reply overdue by 2 hours · 3 days old · *critical*",
      "• <https://desk.test/tickets/SUP-3|SUP-3> “Crash” — waiting on the customer · 3 days old",
      "• <https://desk.test/tickets/SUP-2|SUP-2> acme/sdk#12 “&lt;b&gt;new&lt;/b&gt;” — open, reply due 10:00 UTC · 5 hours old",
    ]);
  });

  it("caps a long list", () => {
    const many = Array.from({ length: 45 }, (_, i) => ticket({ key: `SUP-${i + 1}`, createdAt: now - i }));
    const text = digestText({ name: "SDK" }, many, { now, timeZone: "UTC", link: (k) => k });
    expect(text).toContain("45 open GitHub tickets");
    expect(text.split("\n")).toHaveLength(1 + 40 + 1);
    expect(text.endsWith("…and 5 more")).toBe(true);
  });
});
