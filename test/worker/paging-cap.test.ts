import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  advanceTo,
  fakeOutbound,
  fireAlarm,
  flush,
  getTicket,
  HOUR,
  postMessage,
  request,
  TEST_CONFIG,
  unique,
  useConfig,
} from "./helpers";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const MIN = 60_000;
/** Each test has its own hours, later than the one before (the cap counts every page of the last hour). */
const BASE = Date.parse("2034-06-01T00:00:00Z");
const testHours = (n: number) => BASE + n * 24 * HOUR;

const reason = (n: number) =>
  `not paged: ${n} page${n === 1 ? "" : "s"} from unknown senders already in the last hour (paging.unknownSenderPagesPerHour = ${n})`;

async function capAt(unknownSenderPagesPerHour: number): Promise<void> {
  await useConfig({ ...TEST_CONFIG, paging: { unknownSenderPagesPerHour } });
}

/** A message whose only claim to be critical is a keyword, from the given sender. */
async function keywordCritical(email: string): Promise<string> {
  const { response, body } = await postMessage({
    from: { name: "Someone", email },
    subject: `Production down ${unique("s")}`,
    text: "Everything is on fire.",
  });
  expect(response.status).toBe(202);
  return body.ticket as string;
}

function triggers(out: ReturnType<typeof fakeOutbound>, key: string): number {
  return out.pagerDuty(key).filter((event) => event.event_action === "trigger").length;
}

describe("the per-hour paging cap for unknown senders (SPEC §11)", () => {
  it("4 keyword-critical tickets from strangers within an hour page 3 times; the 4th shows why; customers and callers still page; the next hour pages again", async () => {
    await capAt(3);
    const out = fakeOutbound();
    const T = testHours(1);
    const strangers: string[] = [];
    for (let i = 0; i < 4; i++) {
      advanceTo(T + i * MIN);
      const key = await keywordCritical(`stranger-${i}@example.org`);
      await flush(key);
      strangers.push(key);
    }
    expect(strangers.map((key) => triggers(out, key))).toEqual([1, 1, 1, 0]);

    const paged = await getTicket(strangers[0] as string);
    expect(paged.escalations).toEqual([
      expect.objectContaining({
        kind: "page",
        level: 4,
        target: "pagerduty:on-call",
        detail: "critical at intake",
      }),
    ]);
    const held = await getTicket(strangers[3] as string);
    // Still critical on its 1-hour clock, at its channel's level, and it says why on-call was not paged.
    expect(held).toMatchObject({
      priority: "critical",
      policy: "critical",
      escalationLevel: 2,
      status: "open",
    });
    expect(Date.parse(held.responseDueAt as string) - Date.parse(held.createdAt)).toBe(HOUR);
    expect(held.escalations).toEqual([
      expect.objectContaining({ kind: "page", level: 2, target: "on-call (not paged)", detail: reason(3) }),
    ]);
    // The team is still told at once, and told why.
    expect(out.slack(strangers[3])).toEqual([
      expect.objectContaining({ channel: "C0SUPPORT", text: expect.stringContaining(reason(3)) }),
    ]);

    // A configured customer's critical ticket always pages, cap or not.
    advanceTo(T + 4 * MIN);
    const customer = await keywordCritical("cto@acme.com");
    await flush(customer);
    expect(triggers(out, customer)).toBe(1);
    expect((await getTicket(customer)).customer).toBe("acme");
    // So does a caller that says `critical` itself: an authenticated integration is not a keyword.
    const declared = (
      await postMessage({
        from: { email: "monitor@example.org" },
        text: "checkout failing",
        priority: "critical",
      })
    ).body.ticket as string;
    await flush(declared);
    expect(triggers(out, declared)).toBe(1);
    // An agent who wants on-call for the held ticket declares an incident, which always pages.
    const incident = await request(`/v1/tickets/${strangers[3]}/escalations`, {
      method: "POST",
      json: { to: "incident" },
    });
    expect(incident.status).toBe(201);
    await flush(strangers[3] as string);
    expect(triggers(out, strangers[3] as string)).toBe(1);

    // An hour after the third page, the window has room again.
    advanceTo(T + 2 * MIN + HOUR + 1);
    const nextHour = await keywordCritical("stranger-9@example.org");
    await flush(nextHour);
    expect(triggers(out, nextHour)).toBe(1);
  });

  it("the breach re-page counts against the same cap: held back in a full hour, sent in an empty one, once", async () => {
    await capAt(1);
    const out = fakeOutbound();
    const T = testHours(2);
    advanceTo(T);
    const first = await keywordCritical("a@example.org");
    await flush(first);
    advanceTo(T + MIN);
    const heldTwice = await keywordCritical("b@example.org");
    await flush(heldTwice);
    // The first page leaves the window at T + 1 h; this one takes the hour's only page.
    advanceTo(T + HOUR + 30_000);
    const other = await keywordCritical("c@example.org");
    await flush(other);
    expect([first, heldTwice, other].map((key) => triggers(out, key))).toEqual([1, 0, 1]);

    // heldTwice misses its deadline while the hour is full: breach recorded, on-call not paged.
    advanceTo(T + MIN + HOUR + 1);
    await flush(heldTwice);
    const missed = await getTicket(heldTwice);
    expect(missed.breached).toBe(true);
    expect(missed.escalations.map((e) => [e.kind, e.target, e.detail])).toEqual([
      ["page", "on-call (not paged)", reason(1)],
      ["warning", "team:support", "75 % of target"],
      ["breach", "team:support", "100 % of target"],
      ["page", "on-call (not paged)", `critical deadline missed: ${reason(1)}`],
    ]);
    expect(triggers(out, heldTwice)).toBe(0);

    // A ticket held back at intake whose deadline comes in an empty hour is re-paged at breach.
    advanceTo(T + HOUR + 2 * MIN);
    const late = await keywordCritical("d@example.org");
    await flush(late);
    expect(triggers(out, late)).toBe(0);
    advanceTo(T + 2 * HOUR + 2 * MIN + 1);
    await flush(late);
    await fireAlarm(late); // an alarm that runs again decides nothing anew
    await flush(late);
    expect(triggers(out, late)).toBe(1);
    expect((await getTicket(late)).escalations.at(-1)).toMatchObject({
      kind: "page",
      level: 4,
      target: "pagerduty:on-call",
      detail: "critical deadline missed: re-page",
    });
  });

  it("a priority an agent chose is not a stranger's keyword: the re-page at breach is no longer capped", async () => {
    await capAt(1);
    const out = fakeOutbound();
    const T = testHours(3);
    advanceTo(T);
    const first = await keywordCritical("e@example.org");
    await flush(first);
    advanceTo(T + MIN);
    const held = await keywordCritical("f@example.org");
    await flush(held);
    expect(triggers(out, held)).toBe(0);
    // An agent looks at it, lowers it, and decides it is critical after all.
    advanceTo(T + 2 * MIN);
    for (const priority of ["high", "critical"]) {
      const patch = await request(`/v1/tickets/${held}`, { method: "PATCH", json: { priority } });
      expect(patch.status).toBe(200);
    }
    advanceTo(T + HOUR + 30_000);
    const filler = await keywordCritical("g@example.org");
    await flush(filler);
    expect(triggers(out, filler)).toBe(1);
    // The hour is full, but this ticket's breach re-page goes out.
    advanceTo(T + MIN + HOUR + 1);
    await flush(held);
    expect(triggers(out, held)).toBe(1);
  });

  it("timers deciding at the same moment never page past the cap", async () => {
    await capAt(3);
    const out = fakeOutbound();
    advanceTo(testHours(4));
    // Eight tickets at one instant; their timers are due together and run at once.
    const keys: string[] = [];
    for (let i = 0; i < 8; i++) keys.push(await keywordCritical(`crowd-${i}@example.org`));
    await Promise.all(keys.map((key) => fireAlarm(key)));
    await Promise.all(keys.map((key) => flush(key)));
    const counts = keys.map((key) => triggers(out, key));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(3);
    const tickets = await Promise.all(keys.map((key) => getTicket(key)));
    const held = tickets.filter((t) => t.escalations.some((e) => e.detail === reason(3)));
    expect(held).toHaveLength(5);
    for (const t of held) expect(triggers(out, t.key)).toBe(0);
  });

  it("a cap of 0 never pages for a stranger's keyword, and says so", async () => {
    await capAt(0);
    const out = fakeOutbound();
    advanceTo(testHours(6));
    const key = await keywordCritical("nobody@example.org");
    await flush(key);
    expect(triggers(out, key)).toBe(0);
    expect((await getTicket(key)).escalations[0]?.detail).toBe(
      "not paged: critical keywords from unknown senders never page (paging.unknownSenderPagesPerHour = 0)",
    );
    const customer = await keywordCritical("ops@small.co");
    await flush(customer);
    expect(triggers(out, customer)).toBe(1);
  });

  it("the cap's count and its pruning read the window index, never the whole table", async () => {
    const plan = async (query: string) =>
      (await env.DB.prepare(`EXPLAIN QUERY PLAN ${query}`).bind(Date.now()).all<{ detail: string }>()).results
        .map((r) => r.detail)
        .join("; ");
    expect(await plan("select count(*) from paging_decisions where paged = 1 and at > ?")).toContain(
      "USING COVERING INDEX paging_decisions_window (paged=? AND at>?)",
    );
    expect(await plan("delete from paging_decisions where paged in (0, 1) and at < ?")).toContain(
      "paging_decisions_window (paged=? AND at<?)",
    );
  });
});
