import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { replyToTicket } from "../../src/commands";
import { reconcileTimers } from "../../src/timer/reconcile";
import { ConsoleBrowser, parseHtml } from "./console-helpers";
import { postGithub } from "./github-helpers";
import {
  advanceTo,
  fakeOutbound,
  fireAlarm,
  flush,
  getTicket,
  HOUR,
  kinds,
  postMessage,
  request,
  TEST_CONFIG,
  timer,
  unique,
  useConfig,
} from "./helpers";
import { customerComment, openGithubIssue } from "./privacy-helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const CALLBACK = "https://callback.test/hook";

async function openTicket(body: Record<string, unknown> = {}) {
  const { body: result } = await postMessage({ callbackUrl: CALLBACK, ...body });
  return result.ticket as string;
}

async function reply(key: string, json: Record<string, unknown>, headers: Record<string, string> = {}) {
  const response = await request(`/v1/tickets/${key}/replies`, { method: "POST", json, headers });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

type PromiseJson = { nextUpdateDueAt: string | null };

async function promiseRow(key: string, seq: number) {
  return env.DB.prepare(
    "select made_at, due_at, kept_at, escalated_at from promises where ticket_number = ? and seq = ?",
  )
    .bind(Number(key.slice(4)), seq)
    .first<{ made_at: number; due_at: number; kept_at: number | null; escalated_at: number | null }>();
}

describe("nextUpdateBy on a public reply", () => {
  it("names the promised time in the reply as sent, and shows nextUpdateDueAt", async () => {
    const out = fakeOutbound();
    const key = await openTicket();
    const now = Date.UTC(2026, 11, 1, 10, 0, 0);
    advanceTo(now);
    const { response, body } = await reply(key, { text: "We are looking into it.", nextUpdateBy: "PT4H" });
    expect(response.status).toBe(201);
    const ticket = body.ticket as PromiseJson & { status: string };
    expect(ticket.nextUpdateDueAt).toBe("2026-12-01T14:00:00.000Z");
    expect(ticket.status).toBe("pending");
    const message = body.message as { text: string };
    expect(message.text).toBe("We are looking into it.\n\nWe will send you our next update by 14:00 UTC.");
    await flush(key);
    const sent = out
      .about(key)
      .filter((c) => c.url === CALLBACK)
      .map((c) => c.body as { kind: string; text: string });
    expect(sent.at(-1)).toEqual(
      expect.objectContaining({ kind: "reply", text: expect.stringContaining("next update by 14:00 UTC") }),
    );
    expect(((await getTicket(key)) as unknown as PromiseJson).nextUpdateDueAt).toBe(
      "2026-12-01T14:00:00.000Z",
    );
  });

  it("an instant in another zone is worded in the desk's zone", async () => {
    await useConfig({ ...TEST_CONFIG, timezone: "Europe/Berlin" });
    fakeOutbound();
    const key = await openTicket();
    advanceTo(Date.UTC(2026, 11, 1, 10, 0, 0));
    const { body } = await reply(key, { text: "Checking.", nextUpdateBy: "2026-12-02T09:30:00-05:00" });
    expect((body.ticket as PromiseJson).nextUpdateDueAt).toBe("2026-12-02T14:30:00.000Z");
    expect((body.message as { text: string }).text).toContain("next update by Wed 2 Dec, 15:30 CET.");
  });

  it.each([
    [
      "a past instant",
      { text: "x", nextUpdateBy: "2020-01-01T00:00:00Z" },
      "at least a minute in the future",
    ],
    ["too far", { text: "x", nextUpdateBy: "P120D" }, "at most 90 days away"],
    ["no zone", { text: "x", nextUpdateBy: "2026-12-04T17:00" }, "ISO-8601"],
    ["months", { text: "x", nextUpdateBy: "P1M" }, "ISO-8601"],
    ["an internal note", { text: "x", internal: true, nextUpdateBy: "PT4H" }, "internal note"],
  ])("refuses %s with 400 and sends nothing", async (_name, json, detail) => {
    const out = fakeOutbound();
    const key = await openTicket();
    await flush(key);
    const before = (await getTicket(key)).messages.length;
    const { response, body } = await reply(key, json);
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(JSON.stringify(body)).toContain(detail);
    expect((await getTicket(key)).messages.length).toBe(before);
    expect(out.about(key).filter((c) => c.url === CALLBACK)).toHaveLength(1); // the acknowledgement only
  });

  it("refuses a promise on a resolved ticket (409)", async () => {
    fakeOutbound();
    const key = await openTicket();
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
    const { response } = await reply(key, { text: "x", nextUpdateBy: "PT4H" });
    expect(response.status).toBe(409);
  });
});

describe("the promise clock", () => {
  it("a promise kept by a later public reply: no escalation, counted kept", async () => {
    const out = fakeOutbound();
    const key = await openTicket();
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    await flush(key);
    advanceTo(made + 2 * HOUR);
    const kept = await reply(key, { text: "Here is the update: fixed in 1.2." });
    expect((kept.body.ticket as PromiseJson).nextUpdateDueAt).toBeNull();
    await flush(key);
    // Past the promised time: nothing fires, and the timer waits for nothing.
    advanceTo(made + 5 * HOUR);
    await fireAlarm(key);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual([]);
    expect(out.slack(key)).toEqual([]);
    expect((await timer(key).status()).promise).toBeNull();
    const row = await promiseRow(key, 1);
    expect(row?.kept_at).toBe(made + 2 * HOUR);
    expect(row?.escalated_at).toBeNull();
  });

  it("a promise broken: warning at 75 % to the assignee, then `promise` to the team, each once — alarm fired twice and late", async () => {
    const out = fakeOutbound();
    const key = await openTicket({ subject: "export stuck" });
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { assignee: "alice" } });
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    await flush(key);
    const status = await timer(key).status();
    expect(status.promise).toEqual(expect.objectContaining({ seq: 1, madeAt: made, dueAt: made + 4 * HOUR }));
    expect(status.nextAlarm).toBe(made + 3 * HOUR);

    advanceTo(made + 3 * HOUR + 1);
    await flush(key);
    await fireAlarm(key);
    await flush(key);
    let ticket = await getTicket(key);
    expect(ticket.escalations).toEqual([
      expect.objectContaining({
        kind: "warning",
        target: "agent:alice",
        detail: "75 % of the promised update",
      }),
    ]);
    expect(out.slack(key)).toEqual([
      expect.objectContaining({ channel: "U0ALICE", text: expect.stringContaining("promised update") }),
    ]);

    // Late: the timer wakes 10 hours after the promised time, twice.
    advanceTo(made + 14 * HOUR);
    await fireAlarm(key);
    await fireAlarm(key);
    await flush(key);
    ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "promise"]);
    expect(ticket.escalations[1]).toEqual(
      expect.objectContaining({ kind: "promise", target: "team:support" }),
    );
    expect(ticket.breached).toBe(false);
    const team = out.slack(key).filter((b) => b.channel === "C0SUPPORT");
    expect(team).toHaveLength(1);
    expect(String(team[0]?.text)).toContain(`<https://desk.test/tickets/${key}|${key}>`);
    expect(out.slack(key)).toHaveLength(2);
    expect((await promiseRow(key, 1))?.escalated_at).toBeGreaterThanOrEqual(made + 14 * HOUR);
    expect((await timer(key).status()).nextAlarm).toBeNull();
  });

  it("a promise replaced by a new one: the first is kept, only the second runs", async () => {
    const out = fakeOutbound();
    const key = await openTicket();
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    await flush(key);
    advanceTo(made + HOUR);
    const next = await reply(key, { text: "Narrowed it down.", nextUpdateBy: "P1D" });
    expect((next.body.ticket as PromiseJson).nextUpdateDueAt).toBe(new Date(made + 25 * HOUR).toISOString());
    await flush(key);
    expect((await timer(key).status()).promise).toEqual(
      expect.objectContaining({ seq: 2, madeAt: made + HOUR, dueAt: made + 25 * HOUR, fired: [] }),
    );
    // The first promise's times pass silently.
    advanceTo(made + 4 * HOUR + 1);
    await fireAlarm(key);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual([]);
    expect((await promiseRow(key, 1))?.kept_at).toBe(made + HOUR);
    // The second one's 75 % (18 hours of 24 after it was made).
    advanceTo(made + HOUR + 18 * HOUR + 1);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual(["warning"]);
    expect(out.slack(key)).toHaveLength(1);
  });

  it("a promise cleared by resolve; a customer message does not clear it", async () => {
    fakeOutbound();
    const threadId = unique("thread");
    const key = await openTicket({ threadId });
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    await flush(key);
    const customer = await postMessage({ threadId, callbackUrl: CALLBACK, text: "any news?" });
    expect(customer.body.ticket).toBe(key);
    let ticket = (await getTicket(key)) as unknown as PromiseJson & { status: string };
    expect(ticket.status).toBe("open");
    expect(ticket.nextUpdateDueAt).toBe(new Date(made + 4 * HOUR).toISOString());
    await flush(key);
    expect((await timer(key).status()).promise?.seq).toBe(1);

    advanceTo(made + HOUR);
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
    await flush(key);
    ticket = (await getTicket(key)) as unknown as PromiseJson & { status: string };
    expect(ticket.nextUpdateDueAt).toBeNull();
    expect((await promiseRow(key, 1))?.kept_at).toBe(made + HOUR);
    expect((await timer(key).status()).promise).toBeNull();
    advanceTo(made + 10 * HOUR);
    await fireAlarm(key);
    await flush(key);
    expect(kinds(await getTicket(key)).filter((k) => k === "promise")).toEqual([]);
  });

  it("a staff comment on GitHub keeps the promise; a customer comment does not", async () => {
    fakeOutbound();
    const { issue, key } = await openGithubIssue("Export stuck", "The export never finishes.");
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    await flush(key);
    advanceTo(made + HOUR);
    expect((await postGithub("issue_comment", customerComment(issue, "any news?"))).status).toBe(202);
    expect(((await getTicket(key)) as unknown as PromiseJson).nextUpdateDueAt).toBe(
      new Date(made + 4 * HOUR).toISOString(),
    );
    advanceTo(made + 2 * HOUR);
    const staff = customerComment(issue, "Found the cause, fix coming.", (p) => {
      p.comment.author_association = "MEMBER";
      p.comment.user.login = "a-maintainer";
    });
    expect((await postGithub("issue_comment", staff)).status).toBe(202);
    expect(((await getTicket(key)) as unknown as PromiseJson).nextUpdateDueAt).toBeNull();
    expect((await promiseRow(key, 1))?.kept_at).toBe(made + 2 * HOUR);
    await flush(key);
    expect((await timer(key).status()).promise).toBeNull();
  });

  it("SLA_TIME_SCALE divides the promise window", async () => {
    const out = fakeOutbound();
    const key = await openTicket();
    const made = Date.now();
    advanceTo(made);
    const scaled = { ...env, SLA_TIME_SCALE: "60" };
    const result = await replyToTicket(
      scaled,
      Number(key.slice(4)),
      { text: "Looking.", internal: false, nextUpdateBy: "PT4H" },
      "alice",
    );
    expect(result.ok).toBe(true);
    const ticket = (await getTicket(key)) as unknown as PromiseJson;
    // 4 hours / 60 = 4 minutes: the clock, and the time the reply names.
    expect(ticket.nextUpdateDueAt).toBe(new Date(made + 4 * 60_000).toISOString());
    await flush(key);
    expect((await timer(key).status()).nextAlarm).toBe(made + 3 * 60_000);
    advanceTo(made + 4 * 60_000 + 1);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual(["warning", "promise"]);
    expect(out.slack(key)).toHaveLength(2);
  });

  it("a lost sync is repaired by the reconciler: the timer adopts the promise from D1", async () => {
    fakeOutbound();
    const key = await openTicket();
    await flush(key);
    const made = Date.now();
    advanceTo(made);
    // The timer cannot be reached when the reply is stored: the debt stays in timer_syncs.
    const sync = vi.spyOn(env.TICKET_TIMER, "get").mockImplementation(() => {
      throw new Error("timer unreachable");
    });
    const { response } = await reply(key, { text: "Looking.", nextUpdateBy: "PT4H" });
    expect(response.status).toBe(201);
    sync.mockRestore();
    expect((await timer(key).status()).promise).toBeNull();
    const run = await reconcileTimers(env, { ticketNumber: Number(key.slice(4)) });
    expect(run.paid).toBe(1);
    expect((await timer(key).status()).promise).toEqual(
      expect.objectContaining({ seq: 1, dueAt: made + 4 * HOUR }),
    );
  });
});

describe("the queue", () => {
  it("a pending ticket whose promise falls due sorts among the deadlines, and ?status=pending lists it", async () => {
    fakeOutbound();
    const tag = unique("queuetag");
    const key = await openTicket({ subject: `${tag} promised` });
    const made = Date.now();
    advanceTo(made);
    await reply(key, { text: "Looking.", nextUpdateBy: "PT1H" });
    const open = await openTicket({ subject: `${tag} fresh` });
    const page = (await (await request(`/v1/tickets?q=${tag}`)).json()) as {
      tickets: { key: string; nextUpdateDueAt: string | null }[];
    };
    const keys = page.tickets.map((t) => t.key);
    // Due in 1 hour (the promise) before a fresh ticket due in 24 hours.
    expect(keys.indexOf(key)).toBeGreaterThanOrEqual(0);
    expect(keys.indexOf(key)).toBeLessThan(keys.indexOf(open));
    expect(page.tickets.find((t) => t.key === key)?.nextUpdateDueAt).toBe(
      new Date(made + HOUR).toISOString(),
    );
    const pending = (await (await request(`/v1/tickets?status=pending&q=${tag}`)).json()) as {
      tickets: { key: string }[];
    };
    expect(pending.tickets.map((t) => t.key)).toContain(key);
    const onlyOpen = (await (await request(`/v1/tickets?status=open&q=${tag}`)).json()) as {
      tickets: { key: string }[];
    };
    expect(onlyOpen.tickets.map((t) => t.key)).not.toContain(key);
  });
});

describe("the console", () => {
  it("promises the next update from the ticket page (a quick choice, or a time in the desk's zone) and shows its countdown", async () => {
    await useConfig({ ...TEST_CONFIG, timezone: "Europe/Berlin" });
    fakeOutbound();
    const key = await openTicket();
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const page = await browser.get(`/tickets/${key}`);
    const form = await parseHtml(page.html);
    const choices = form.elements
      .filter((e) => e.tag === "input" && e.attrs.name === "nextUpdate")
      .map((e) => e.attrs.value);
    expect(choices).toEqual(["", "PT4H", "P1D", "P3D", "at"]);
    expect(page.html).toContain("Promise the next update");

    const made = Date.UTC(2026, 11, 1, 10, 0, 0);
    advanceTo(made);
    const sent = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      text: "We are on it.",
      internal: "false",
      nextUpdate: "PT4H",
    });
    expect(sent.status).toBe(303);
    const after = await browser.get(`/tickets/${key}`);
    const due = (await parseHtml(after.html)).elements.find((e) => e.attrs.id === "next-update-due");
    expect(due?.text).toContain("due in 4h 0m");
    expect(after.html).toContain("next update by 15:00 CET");

    // "at" a wall-clock time, read in the desk's zone (Berlin, UTC+1 in December).
    await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      text: "More soon.",
      internal: "false",
      nextUpdate: "at",
      nextUpdateAt: "2026-12-02T09:30",
    });
    expect(((await getTicket(key)) as unknown as PromiseJson).nextUpdateDueAt).toBe(
      "2026-12-02T08:30:00.000Z",
    );
    // "at" without a time sends nothing.
    const before = (await getTicket(key)).messages.length;
    const refused = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      text: "No time given.",
      internal: "false",
      nextUpdate: "at",
      nextUpdateAt: "",
    });
    expect(refused.headers.get("location")).toContain("error=invalid_next_update");
    expect((await getTicket(key)).messages.length).toBe(before);
  });
});
