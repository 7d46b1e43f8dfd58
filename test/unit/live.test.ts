import { describe, expect, it } from "vitest";
import { isoWeekLabel, isoWeekStart, lastIsoWeeks } from "../../src/domain/weeks";
import { TYPING_STALE_MS, viewersOf } from "../../src/live/feed";

describe("ISO weeks (the metrics trend)", () => {
  it.each([
    ["2026-12-01T10:00:00Z", "2026-11-30T00:00:00.000Z", "2026-W49"],
    ["2026-01-01T00:00:00Z", "2025-12-29T00:00:00.000Z", "2026-W01"],
    ["2021-01-03T23:59:59Z", "2020-12-28T00:00:00.000Z", "2020-W53"],
    ["2024-12-30T00:00:00Z", "2024-12-30T00:00:00.000Z", "2025-W01"],
  ])("%s is in the week starting %s (%s)", (at, start, label) => {
    const weekStart = isoWeekStart(Date.parse(at));
    expect(new Date(weekStart).toISOString()).toBe(start);
    expect(isoWeekLabel(weekStart)).toBe(label);
  });

  it("lists the last weeks oldest first, each seven days, ending with the current one", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    const weeks = lastIsoWeeks(now, 12);
    expect(weeks).toHaveLength(12);
    expect(weeks.at(-1)?.week).toBe("2026-W49");
    expect(weeks[0]?.week).toBe("2026-W38");
    for (const w of weeks) expect(w.to - w.from).toBe(7 * 86_400_000);
  });
});

describe("presence on a ticket page", () => {
  const base = { view: "ticket:SUP-1" as const, connectedAt: 0 };
  it("lists each agent once, writing if any of their pages is, and forgets a stale typing signal", () => {
    const now = 100_000;
    expect(
      viewersOf(
        [
          { ...base, agent: "bob", composing: null, composingAt: 0 },
          { ...base, agent: "bob", composing: "reply", composingAt: now - 1000 },
          { ...base, agent: "alice", composing: "note", composingAt: now - TYPING_STALE_MS - 1 },
        ],
        now,
      ),
    ).toEqual([
      { agent: "alice", composing: null },
      { agent: "bob", composing: "reply" },
    ]);
  });
});
