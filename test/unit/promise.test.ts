import { describe, expect, it } from "vitest";
import { configSchema, DEFAULT_CONFIG } from "../../src/domain/config";
import {
  duePromiseSteps,
  nextPromiseStepAt,
  nextUpdateSentence,
  parseNextUpdateBy,
  planPromiseStep,
  promiseDueAt,
  promiseTimeZone,
  wallClockInZone,
} from "../../src/domain/promise";
import { isoWeek, qualityWindow, weeksOf } from "../../src/domain/quality";

const NOW = Date.UTC(2026, 11, 1, 10, 0, 0); // Tue 1 Dec 2026, 10:00 UTC
const HOUR = 3_600_000;

describe("nextUpdateBy", () => {
  it.each([
    ["PT4H", NOW + 4 * HOUR],
    ["pt30m", NOW + 30 * 60_000],
    ["P1D", NOW + 24 * HOUR],
    ["P1DT12H", NOW + 36 * HOUR],
    ["P2W", NOW + 14 * 24 * HOUR],
    ["2026-12-02T09:30:00+01:00", Date.UTC(2026, 11, 2, 8, 30)],
    ["2026-12-02T09:30Z", Date.UTC(2026, 11, 2, 9, 30)],
  ])("%s", (raw, at) => {
    expect(parseNextUpdateBy(raw, NOW)).toEqual({ ok: true, at });
  });

  it.each([
    ["P", "ISO-8601"],
    ["PT", "ISO-8601"],
    ["P1M", "ISO-8601"],
    ["P1Y", "ISO-8601"],
    ["tomorrow", "ISO-8601"],
    ["2026-12-02T09:30", "ISO-8601"],
    ["2026-13-02T09:30:00Z", "not a valid date"],
    ["PT30S", "at least a minute"],
    ["2026-12-01T09:00:00Z", "at least a minute"],
    ["P91D", "at most 90 days"],
  ])("refuses %s", (raw, problem) => {
    const parsed = parseNextUpdateBy(raw, NOW);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok === false && parsed.problem).toContain(problem);
  });
});

describe("the promise ladder", () => {
  const clock = { seq: 1, madeAt: NOW, dueAt: NOW + 4 * HOUR, fired: [] as ("warning" | "promise")[] };

  it("warns at 75 % and escalates at 100 %, each once; a late wake fires both", () => {
    expect(nextPromiseStepAt(clock)).toBe(NOW + 3 * HOUR);
    expect(duePromiseSteps(clock, NOW + 3 * HOUR - 1)).toEqual([]);
    expect(duePromiseSteps(clock, NOW + 3 * HOUR)).toEqual(["warning"]);
    expect(duePromiseSteps({ ...clock, fired: ["warning"] }, NOW + 3 * HOUR)).toEqual([]);
    expect(nextPromiseStepAt({ ...clock, fired: ["warning"] })).toBe(NOW + 4 * HOUR);
    expect(duePromiseSteps(clock, NOW + 40 * HOUR)).toEqual(["warning", "promise"]);
    expect(nextPromiseStepAt({ ...clock, fired: ["warning", "promise"] })).toBeNull();
  });

  it("SLA_TIME_SCALE divides the window", () => {
    expect(promiseDueAt(NOW, NOW + 4 * HOUR, 60)).toBe(NOW + 4 * 60_000);
    expect(promiseDueAt(NOW, NOW + 4 * HOUR, 1)).toBe(NOW + 4 * HOUR);
  });

  it("the warning goes to the assignee, the promise to the team's channel with a link", () => {
    const config = {
      ...DEFAULT_CONFIG,
      teams: [{ id: "support", name: "Support", slackChannel: "C0SUPPORT" }],
      agents: [{ id: "alice", name: "Alice", slackUserId: "U0ALICE" }],
    };
    const ticket = {
      key: "SUP-7",
      subject: "Export <!channel> stuck",
      policy: "email" as const,
      team: "support",
      assignee: "alice",
      customer: null,
      escalationLevel: 2,
    };
    const ctx = { ticket, config, link: "https://desk.test/tickets/SUP-7", dueAt: NOW + 4 * HOUR, now: NOW };
    const warning = planPromiseStep("warning", ctx);
    expect(warning.records).toEqual([
      {
        step: "warning",
        kind: "warning",
        level: 2,
        target: "agent:alice",
        detail: "75 % of the promised update",
      },
    ]);
    expect(warning.notices).toEqual([
      { via: "chat", to: "U0ALICE", text: expect.stringContaining("14:00 UTC") },
    ]);
    const broken = planPromiseStep("promise", ctx);
    expect(broken.records[0]).toMatchObject({ kind: "promise", target: "team:support" });
    expect(broken.notices).toEqual([
      {
        via: "chat",
        to: "C0SUPPORT",
        claimable: true,
        text: expect.stringContaining("<https://desk.test/tickets/SUP-7|SUP-7>"),
      },
    ]);
    // Customer text cannot act in Slack.
    expect(JSON.stringify(broken.notices)).toContain("&lt;!channel&gt;");
    expect(broken.breached).toBe(false);
  });
});

describe("the wording and the zone", () => {
  it("names the time in the zone, with the date when it is not today", () => {
    expect(nextUpdateSentence(NOW + 4 * HOUR, NOW, "UTC")).toBe(
      "We will send you our next update by 14:00 UTC.",
    );
    expect(nextUpdateSentence(NOW + 24 * HOUR, NOW, "Europe/Berlin")).toBe(
      "We will send you our next update by Wed 2 Dec, 11:00 CET.",
    );
  });

  it("reads a console wall-clock time in the desk's zone, across DST", () => {
    expect(wallClockInZone("2026-12-02T09:30", "Europe/Berlin")).toBe("2026-12-02T08:30:00.000Z");
    expect(wallClockInZone("2026-07-02T09:30", "Europe/Berlin")).toBe("2026-07-02T07:30:00.000Z");
    expect(wallClockInZone("2026-03-29T12:00", "America/New_York")).toBe("2026-03-29T16:00:00.000Z");
    expect(wallClockInZone("2026-02-30T09:30", "UTC")).toBeNull();
    expect(wallClockInZone("", "UTC")).toBeNull();
  });
});

describe("ISO weeks of the quality report", () => {
  it.each([
    [Date.UTC(2026, 11, 1), "2026-W49"],
    [Date.UTC(2021, 0, 3), "2020-W53"],
    [Date.UTC(2024, 11, 30), "2025-W01"],
    [Date.UTC(2026, 0, 1), "2026-W01"],
  ])("%s is %s", (instant, week) => {
    expect(isoWeek(instant)).toBe(week);
  });

  it("clips the weeks to the 30-day window, oldest first", () => {
    const { from, to } = qualityWindow(NOW + 123_456);
    expect(to).toBe(NOW);
    const weeks = weeksOf(from, to);
    expect(weeks[0]?.from).toBe(from);
    expect(weeks.at(-1)).toEqual({ week: "2026-W49", from: Date.UTC(2026, 10, 30), to });
    expect(weeks.map((w) => w.week)).toEqual([
      "2026-W44",
      "2026-W45",
      "2026-W46",
      "2026-W47",
      "2026-W48",
      "2026-W49",
    ]);
  });
});

describe("the zone a promise is worded in", () => {
  const tokyo = {
    id: "jp",
    timezone: "Asia/Tokyo",
    week: { mon: [["09:00", "18:00"]], tue: [["09:00", "18:00"]] } as Record<string, [string, string][]>,
    holidays: [],
  };
  it("is the desk's zone for a policy around the clock", () => {
    expect(promiseTimeZone({ ...DEFAULT_CONFIG, timezone: "Europe/Berlin" }, "email")).toBe("Europe/Berlin");
  });
  it("is the policy calendar's zone when the policy counts business hours (SPEC §14)", () => {
    const config = configSchema.parse({
      ...DEFAULT_CONFIG,
      timezone: "Europe/Berlin",
      calendars: [tokyo],
      policies: { ...DEFAULT_CONFIG.policies, email: { ...DEFAULT_CONFIG.policies.email, calendar: "jp" } },
    });
    expect(promiseTimeZone(config, "email")).toBe("Asia/Tokyo");
    expect(promiseTimeZone(config, "api")).toBe("Europe/Berlin");
  });
});
