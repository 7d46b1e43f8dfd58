import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { intake } from "../../src/intake";
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
  timer,
  unique,
  useConfig,
} from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function openTicket(body: Record<string, unknown> = {}) {
  const { body: result } = await postMessage(body);
  const key = result.ticket as string;
  const ticket = await getTicket(key);
  return { key, start: Date.parse(ticket.createdAt), due: Date.parse(ticket.responseDueAt as string) };
}

describe("critical tickets", () => {
  it("page on-call through PagerDuty at intake, keyed by the ticket", async () => {
    const out = fakeOutbound();
    const { key } = await openTicket({ subject: "Production down", text: "all requests fail" });
    await flush(key);
    expect(out.pagerDuty(key)).toEqual([
      {
        routing_key: "pd-routing-test",
        event_action: "trigger",
        dedup_key: key,
        payload: { summary: `${key} critical: Production down`, source: "switchboard", severity: "critical" },
        links: [{ href: `https://desk.test/tickets/${key}`, text: `Open ${key}` }],
      },
    ]);
    expect(out.slack(key)).toEqual([
      expect.objectContaining({ channel: "C0SUPPORT", text: expect.stringContaining(key) }),
    ]);
    const ticket = await getTicket(key);
    expect(ticket.escalations).toEqual([
      expect.objectContaining({ kind: "page", level: 4, target: "pagerduty:on-call" }),
    ]);
    expect(ticket.escalationLevel).toBe(4);
  });

  it("a team's own routing key overrides the desk's", async () => {
    const out = fakeOutbound();
    const { key } = await openTicket({ subject: "outage", text: "5xx everywhere" });
    await flush(key);
    expect((await getTicket(key)).team).toBe("platform");
    expect(out.pagerDuty(key)[0]?.routing_key).toBe("pd-platform");
  });

  it("re-page at breach, and a staff reply acknowledges the incident", async () => {
    const out = fakeOutbound();
    const { key, due } = await openTicket({ subject: "sev1: checkout broken" });
    await flush(key);
    advanceTo(due + 1);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual(["page", "warning", "breach", "page"]);
    expect(out.pagerDuty(key).map((e) => e.event_action)).toEqual(["trigger", "trigger"]);

    const reply = await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "On it." } });
    expect(reply.status).toBe(201);
    await flush(key);
    expect(out.pagerDuty(key).map((e) => e.event_action)).toEqual(["trigger", "trigger", "acknowledge"]);
    expect(out.pagerDuty(key)[2]).toEqual({
      routing_key: "pd-routing-test",
      event_action: "acknowledge",
      dedup_key: key,
    });
  });

  it("resolving a paged ticket resolves the incident", async () => {
    const out = fakeOutbound();
    const { key } = await openTicket({ priority: "critical" });
    await flush(key);
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
    await flush(key);
    expect(out.pagerDuty(key).map((e) => e.event_action)).toEqual(["trigger", "resolve"]);
  });
});

describe("the ladder, fired by the ticket's alarm", () => {
  it("warns at 75 %, breaches at 100 %, tells the lead at 200 %", async () => {
    const out = fakeOutbound();
    const { key, start, due } = await openTicket();
    const window = due - start;
    expect(window).toBe(24 * HOUR);

    advanceTo(start + window * 0.75 + 1);
    await flush(key);
    let ticket = await getTicket(key);
    expect(ticket.escalations).toEqual([
      expect.objectContaining({ kind: "warning", level: 2, target: "team:support" }),
    ]);
    expect(ticket.breached).toBe(false);
    expect(out.slack(key)).toEqual([expect.objectContaining({ channel: "C0SUPPORT" })]);

    advanceTo(due + 1);
    await flush(key);
    ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "breach"]);
    expect(ticket.breached).toBe(true);

    advanceTo(start + 2 * window + 1);
    await flush(key);
    ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "breach", "lead"]);
    expect(ticket.escalations[2]).toMatchObject({ target: "lead:U0LEAD" });
    // The lead is a Slack user: told directly.
    expect(out.slack(key).map((m) => m.channel)).toEqual(["C0SUPPORT", "C0SUPPORT", "U0LEAD"]);
    expect((await timer(key).status()).nextAlarm).toBeNull();
  });

  it("running the same alarm twice records one escalation", async () => {
    const out = fakeOutbound();
    const { key, start, due } = await openTicket();
    advanceTo(start + (due - start) * 0.8);
    await flush(key);
    await timer(key).sync({
      ticketNumber: Number(key.slice(4)),
      revision: 0,
      clock: null,
      event: "updated",
    });
    // A stale sync (revision 0) must not stop the clock; the next run finds nothing new to do.
    await fireAlarm(key);
    await fireAlarm(key);
    expect(kinds(await getTicket(key))).toEqual(["warning"]);
    expect(out.slack(key)).toHaveLength(1);
  });

  it("a timer that wakes late fires every overdue step once", async () => {
    const out = fakeOutbound();
    const { key, start, due } = await openTicket();
    advanceTo(start + 2.5 * (due - start));
    await flush(key);
    await fireAlarm(key);
    const ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "breach", "lead"]);
    expect(new Set(ticket.escalations.map((e) => e.at)).size).toBe(1);
    expect(out.slack(key)).toHaveLength(3);
  });

  it("warns the assignee directly when they can be reached", async () => {
    const out = fakeOutbound();
    const { key, start, due } = await openTicket();
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { assignee: "alice" } });
    advanceTo(start + (due - start) * 0.76);
    await flush(key);
    expect((await getTicket(key)).escalations[0]).toMatchObject({ kind: "warning", target: "agent:alice" });
    expect(out.slack(key)).toEqual([expect.objectContaining({ channel: "U0ALICE" })]);
  });

  it("an enterprise Slack ticket tells the account engineer at breach and pages at 200 %", async () => {
    const out = fakeOutbound();
    const result = await intake(env, {
      channel: "slack",
      idempotencyKey: unique("Ev"),
      threadKeys: [unique("C0ACMESHARED")],
      from: { handle: "U0CUSTOMER" },
      text: "Webhooks are delayed",
      context: { slackTeamId: "T0ACME", slackChannel: "C0ACMESHARED" },
      receivedAt: Date.now(),
    });
    if (!result.ok) throw new Error(result.detail);
    const key = result.ticket;
    const opened = await getTicket(key);
    expect(opened).toMatchObject({ policy: "enterprise-slack", customer: "acme", assignee: "erin" });
    const start = Date.parse(opened.createdAt);
    const due = Date.parse(opened.responseDueAt as string);
    expect(due - start).toBe(4 * HOUR);

    advanceTo(due + 1);
    await flush(key);
    let ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "breach"]);
    expect(ticket.escalations[1]?.target).toBe("team:support, account-engineer:erin");
    // The account engineer is told at intake, warned at 75 %, and told again at breach.
    expect(out.slack(key).map((m) => m.channel)).toEqual(["U0ERIN", "U0ERIN", "C0SUPPORT", "U0ERIN"]);

    advanceTo(start + 8 * HOUR + 1);
    await flush(key);
    ticket = await getTicket(key);
    expect(kinds(ticket)).toEqual(["warning", "breach", "page"]);
    expect(out.pagerDuty(key)).toEqual([
      expect.objectContaining({ event_action: "trigger", dedup_key: key }),
    ]);
  });
});

describe("clocks", () => {
  it("a staff reply stops the clock: nothing fires after it", async () => {
    const out = fakeOutbound();
    const { key, start, due } = await openTicket();
    advanceTo(start + HOUR);
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Hi! Checking." } });
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({ status: "pending", responseDueAt: null });
    expect(Date.parse(ticket.firstResponseAt as string)).toBe(start + HOUR);
    advanceTo(due + 3 * HOUR);
    await fireAlarm(key);
    expect(kinds(await getTicket(key))).toEqual([]);
    expect(out.slack(key)).toHaveLength(0);
  });

  it("an internal note stops nothing", async () => {
    fakeOutbound();
    const { key, due } = await openTicket();
    await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "customer is on old SDK", internal: true },
    });
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({
      status: "open",
      firstResponseAt: null,
      responseDueAt: new Date(due).toISOString(),
    });
    advanceTo(due + 1);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual(["warning", "breach"]);
  });

  it("a priority change re-times the running clock from when it started", async () => {
    const out = fakeOutbound();
    const { key, start } = await openTicket();
    advanceTo(start + 10 * 60_000);
    const raised = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "critical" } });
    expect(raised.status).toBe(200);
    let ticket = await getTicket(key);
    expect(ticket).toMatchObject({ priority: "critical", policy: "critical" });
    expect(Date.parse(ticket.responseDueAt as string)).toBe(start + HOUR);
    await flush(key);
    // Raised to critical: on-call is paged at once.
    expect(out.pagerDuty(key).map((e) => e.event_action)).toEqual(["trigger"]);

    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "normal" } });
    ticket = await getTicket(key);
    expect(ticket.policy).toBe("api");
    expect(Date.parse(ticket.responseDueAt as string)).toBe(start + 24 * HOUR);
    advanceTo(start + HOUR + 1);
    await fireAlarm(key);
    expect(kinds(await getTicket(key))).toEqual(["page"]);
  });

  it("a customer message after our reply starts a new clock with its own ladder", async () => {
    fakeOutbound();
    const threadId = unique("thread");
    const { key, start } = await openTicket({ threadId });
    advanceTo(start + 19 * HOUR);
    await flush(key);
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed?" } });
    advanceTo(start + 20 * HOUR);
    await postMessage({ threadId, text: "Still broken" });
    const ticket = await getTicket(key);
    expect(Date.parse(ticket.responseDueAt as string)).toBe(start + 44 * HOUR);
    advanceTo(start + 38 * HOUR + 1);
    await flush(key);
    expect(kinds(await getTicket(key))).toEqual(["warning", "warning"]);
  });
});
