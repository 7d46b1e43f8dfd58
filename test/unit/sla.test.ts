import { describe, expect, it } from "vitest";
import { DEFAULT_CONFIG } from "../../src/domain/config";
import {
  acknowledgementText,
  dueAt,
  dueSteps,
  localMidnight,
  nextStepAt,
  responseWindowMs,
  sameDayDeadline,
  stepAt,
  zoneOffsetMs,
} from "../../src/domain/sla";

const HOUR = 3_600_000;
const at = (iso: string) => Date.parse(iso);

describe("policy targets", () => {
  it.each([
    ["critical", 1],
    ["enterprise-slack", 4],
    ["slack", 24],
    ["github", 24],
    ["email", 24],
    ["api", 24],
  ] as const)("%s answers within %i h", (policy, hours) => {
    expect(responseWindowMs(policy, at("2026-03-10T10:00:00Z"), DEFAULT_CONFIG)).toBe(hours * HOUR);
  });

  it("SLA_TIME_SCALE divides every duration", () => {
    const start = at("2026-03-10T10:00:00Z");
    expect(dueAt("critical", start, DEFAULT_CONFIG, 3600) - start).toBe(1000);
    expect(dueAt("email", start, DEFAULT_CONFIG, 1) - start).toBe(24 * HOUR);
  });
});

describe("time zones", () => {
  it("knows the offset on both sides of a DST change", () => {
    expect(zoneOffsetMs(at("2026-01-15T12:00:00Z"), "Europe/Berlin")).toBe(1 * HOUR);
    expect(zoneOffsetMs(at("2026-07-15T12:00:00Z"), "Europe/Berlin")).toBe(2 * HOUR);
    expect(zoneOffsetMs(at("2026-07-15T12:00:00Z"), "America/Los_Angeles")).toBe(-7 * HOUR);
    expect(zoneOffsetMs(at("2026-07-15T12:00:00Z"), "Asia/Kolkata")).toBe(5.5 * HOUR);
  });

  it("finds local midnight", () => {
    // 23:30 in Los Angeles on 14 July is already 15 July in UTC.
    expect(localMidnight(at("2026-07-15T06:30:00Z"), "America/Los_Angeles", 1)).toBe(
      at("2026-07-15T07:00:00Z"),
    );
    expect(localMidnight(at("2026-07-15T06:30:00Z"), "UTC", 1)).toBe(at("2026-07-16T00:00:00Z"));
  });

  it("a day that loses an hour to DST still ends at local midnight", () => {
    // Europe/Berlin springs forward on 29 March 2026: that day is 23 hours long.
    expect(localMidnight(at("2026-03-29T08:00:00Z"), "Europe/Berlin", 1)).toBe(at("2026-03-29T22:00:00Z"));
    expect(localMidnight(at("2026-03-28T12:00:00Z"), "Europe/Berlin", 1)).toBe(at("2026-03-28T23:00:00Z"));
  });
});

describe("Discord's same-day rule", () => {
  const FOUR_HOURS = 4 * HOUR;

  it("a morning message is due at the end of that local day", () => {
    expect(sameDayDeadline(at("2026-05-05T07:00:00Z"), "Europe/Berlin", FOUR_HOURS)).toBe(
      at("2026-05-05T22:00:00Z"),
    );
  });

  it("exactly four hours before midnight counts as the last four hours", () => {
    // 20:00 Berlin (CEST) = 18:00Z; midnight is 22:00Z.
    expect(sameDayDeadline(at("2026-05-05T18:00:00Z"), "Europe/Berlin", FOUR_HOURS)).toBe(
      at("2026-05-06T22:00:00Z"),
    );
  });

  it("one minute earlier still gets the same day", () => {
    expect(sameDayDeadline(at("2026-05-05T17:59:00Z"), "Europe/Berlin", FOUR_HOURS)).toBe(
      at("2026-05-05T22:00:00Z"),
    );
  });

  it("a late message gets until the end of the next day, across a DST change", () => {
    // 22:30 Berlin on Saturday 28 March (CET); the next day is the 23-hour DST day.
    expect(sameDayDeadline(at("2026-03-28T21:30:00Z"), "Europe/Berlin", FOUR_HOURS)).toBe(
      at("2026-03-29T22:00:00Z"),
    );
  });

  it("the scale divides the time left until the deadline", () => {
    const start = at("2026-05-05T07:00:00Z");
    const config = { ...DEFAULT_CONFIG, timezone: "Europe/Berlin" };
    expect(dueAt("discord", start, config, 15) - start).toBe((15 * HOUR) / 15);
  });
});

describe("the escalation ladder", () => {
  const start = at("2026-05-05T10:00:00Z");
  const due = start + 4 * HOUR;

  it("places warning at 75 %, breach at 100 % and the last step at 200 %", () => {
    expect(stepAt("warning", start, due)).toBe(start + 3 * HOUR);
    expect(stepAt("breach", start, due)).toBe(due);
    expect(stepAt("overdue", start, due)).toBe(start + 8 * HOUR);
  });

  it("a critical clock pages at once", () => {
    expect(dueSteps({ policy: "critical", startedAt: start, dueAt: start + HOUR, fired: [] }, start)).toEqual(
      ["page"],
    );
    expect(dueSteps({ policy: "email", startedAt: start, dueAt: due, fired: [] }, start)).toEqual([]);
  });

  it("a timer that wakes late fires every overdue step, each once", () => {
    const clock = {
      policy: "enterprise-slack" as const,
      startedAt: start,
      dueAt: due,
      fired: ["warning" as const],
    };
    expect(dueSteps(clock, start + 9 * HOUR)).toEqual(["breach", "overdue"]);
  });

  it("the next wake-up is the earliest unfired step; none when the ladder is done", () => {
    expect(nextStepAt({ policy: "email", startedAt: start, dueAt: due, fired: ["warning"] })).toBe(due);
    expect(
      nextStepAt({ policy: "email", startedAt: start, dueAt: due, fired: ["warning", "breach", "overdue"] }),
    ).toBeNull();
  });
});

describe("acknowledgement", () => {
  it("names the ticket, the time and the window", () => {
    const now = at("2026-05-05T10:00:00Z");
    expect(acknowledgementText("SUP-7", "critical", now + HOUR, now, "UTC")).toBe(
      "Thanks — we have your request as SUP-7. We will reply by 11:00 UTC, within 1 hour.",
    );
    expect(acknowledgementText("SUP-8", "email", now + 24 * HOUR, now, "UTC")).toBe(
      "Thanks — we have your request as SUP-8. We will reply by Wed 6 May, 10:00 UTC, within 24 hours.",
    );
  });

  it("a same-day deadline names the day it ends", () => {
    const now = at("2026-05-05T10:00:00Z");
    expect(acknowledgementText("SUP-9", "discord", at("2026-05-06T00:00:00Z"), now, "UTC")).toBe(
      "Thanks — we have your request as SUP-9. We will reply by the end of today (Tue 5 May, 24:00 UTC).",
    );
    expect(acknowledgementText("SUP-9", "discord", at("2026-05-07T00:00:00Z"), now, "UTC")).toBe(
      "Thanks — we have your request as SUP-9. We will reply by the end of tomorrow (Wed 6 May, 24:00 UTC).",
    );
    // Berlin: midnight is 22:00 UTC in summer.
    expect(acknowledgementText("SUP-9", "discord", at("2026-05-05T22:00:00Z"), now, "Europe/Berlin")).toBe(
      "Thanks — we have your request as SUP-9. We will reply by the end of today (Tue 5 May, 24:00 CEST).",
    );
  });
});
