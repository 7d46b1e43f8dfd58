import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { IntakeJob } from "../../src/channels/queue";
import type { MetricsReport } from "../../src/domain/metrics";
import { app } from "../../src/http/app";
import worker from "../../src/index";
import { intake } from "../../src/intake";
import { linearSignature } from "../../src/integrations/linear/verify";
import { ConsoleBrowser, parseHtml } from "./console-helpers";
import {
  advanceTo,
  fakeOutbound,
  fireAlarm,
  flush,
  getTicket,
  HOUR,
  type OutboundCall,
  postMessage,
  request,
  TEST_CONFIG,
  type TicketJson,
  unique,
  useConfig,
} from "./helpers";
import {
  commentCreate,
  type FakeIssue,
  fakeIssue,
  issueUpdate,
  linearApi,
  postLinear,
  STATES,
} from "./linear-helpers";
import { envelope, freshChannel, freshTs, plain, postEvent } from "./slack-fixtures";

const CALLBACK = "https://hooks.customer.test/loop";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Sent {
  to: string;
  raw: string;
}

/** Every fake service the loop talks to: Linear's GraphQL, Slack, GitHub, the api callback, email. */
function fakeWorld(known: FakeIssue[] = []) {
  const linear = linearApi(known);
  let posts = 0;
  const out = fakeOutbound(async (call: OutboundCall) => {
    if (call.host === "linear.fake") return linear.answer(call.body);
    // Distinct ts per post: the test's clock stands still between posts.
    if (call.host === "slack.fake")
      return Response.json({ ok: true, ts: `${Math.floor(Date.now() / 1000)}.${++posts}` });
    if (call.host === "github.fake") return Response.json({ id: 1 }, { status: 200 });
    return new Response(null, { status: 204 });
  });
  const mails: Sent[] = [];
  vi.spyOn(env.EMAIL, "send").mockImplementation(async (message) => {
    const m = message as unknown as { to: string; raw: ReadableStream | string };
    const raw = typeof m.raw === "string" ? m.raw : await new Response(m.raw).text();
    mails.push({ to: m.to, raw });
    return { messageId: unique("sent") };
  });
  const graphql = (op: string) =>
    out
      .to("linear.fake")
      .map((c) => c.body as { query: string; variables: Record<string, unknown> })
      .filter((b) => b.query.includes(op));
  return { out, linear, mails, graphql };
}

/** Three customers on three channels: an email, a Slack thread and an api integration. */
async function threeTickets(tag: string) {
  const email = await intake(env, {
    channel: "email",
    idempotencyKey: unique("mail"),
    threadKeys: [],
    extraThreadKeys: [`<${unique("mid")}@customer.test>`],
    from: { email: `carol-${tag}@example.org`, name: "Carol" },
    subject: `Exports time out (${tag})`,
    text: "The export button spins forever.",
    context: { recipient: "support@example.com" },
    receivedAt: Date.now(),
  });
  if (!email.ok) throw new Error(email.detail);
  const channel = freshChannel();
  const ts = freshTs();
  const slack = await postEvent(
    envelope(plain, { channel, ts, event_ts: ts, text: `exports time out for us too (${tag})` }),
  );
  expect(slack.response.status).toBe(200);
  const api = await postMessage({
    externalId: unique("ext"),
    text: `Export job failed (${tag})`,
    callbackUrl: CALLBACK,
  });
  expect(api.response.status).toBe(202);
  const keys = { email: email.ticket, slack: slack.json.ticket as string, api: api.body.ticket as string };
  for (const key of Object.values(keys)) await flush(key);
  return { keys, slackChannel: channel, slackTs: ts };
}

async function reply(key: string, text = "We filed this with engineering.") {
  const response = await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text } });
  expect(response.status).toBe(201);
}

async function patch(key: string, json: Record<string, unknown>) {
  const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json });
  expect(response.status).toBe(200);
}

async function metricsOf(from: number, to: number): Promise<MetricsReport> {
  const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() });
  const response = await request(`/v1/metrics?${q}`);
  expect(response.status).toBe(200);
  return (await response.json()) as MetricsReport;
}

function systemTexts(ticket: TicketJson): string[] {
  return ticket.messages.filter((m) => m.kind === "system").map((m) => m.text);
}

function ladder(ticket: TicketJson, since: number): string[] {
  return ticket.escalations.filter((e) => Date.parse(e.at) >= since).map((e) => e.kind);
}

/** A window of the test's own, far from every other test's tickets (metrics count per window). */
function ownWindow(): number {
  return Date.parse("2033-01-03T00:00:00Z") + Math.floor(Math.random() * 5000) * 7 * 86_400_000;
}

describe("one bug, three tickets on three channels", () => {
  beforeEach(async () => {
    await useConfig({ ...TEST_CONFIG, linear: { announceShipped: false } });
  });

  it("links three tickets to one Linear issue, and its completion reopens each on a fresh clock", {
    timeout: 60_000,
  }, async () => {
    const T0 = ownWindow();
    advanceTo(T0);
    const world = fakeWorld();
    const { keys } = await threeTickets("reopen");
    const other = (await postMessage({ externalId: unique("ext"), text: "Unrelated question" })).body
      .ticket as string;

    // The first ticket is escalated: the bug is filed in Linear (by the platform team, which has a
    // linearTeamId).
    await patch(keys.email, { team: "platform" });
    const filed = await request(`/v1/tickets/${keys.email}/escalations`, {
      method: "POST",
      json: { to: "engineering" },
    });
    expect(filed.status).toBe(201);
    const issue = world.linear.filed[0];
    if (issue === undefined) throw new Error("no issue was filed");
    // The second links the same bug by its identifier, the third escalates to it by URL: neither files again.
    const linked = await request(`/v1/tickets/${keys.slack}/improvements`, {
      method: "POST",
      json: { linear: issue.identifier.toLowerCase() },
    });
    expect(linked.status).toBe(201);
    expect(await linked.json()).toMatchObject({
      source: "linear",
      ref: issue.identifier,
      state: "open",
      kind: "bug",
    });
    const escalated = await request(`/v1/tickets/${keys.api}/escalations`, {
      method: "POST",
      json: { to: "engineering", issue: issue.url },
    });
    expect(escalated.status).toBe(201);
    // Linking again is harmless: 200, still one link.
    const again = await request(`/v1/tickets/${keys.slack}/improvements`, {
      method: "POST",
      json: { url: issue.url },
    });
    expect(again.status).toBe(200);
    for (const key of Object.values(keys)) await flush(key);
    expect(world.linear.filed).toHaveLength(1);
    // Every ticket's link is attached to the issue, once per ticket (Linear keeps one per URL).
    const attachments = world
      .graphql("attachmentCreate")
      .map((b) => b.variables.input as Record<string, string>);
    const attachedUrls = new Set(attachments.filter((a) => a.issueId === issue.id).map((a) => a.url));
    expect(attachedUrls).toEqual(new Set(Object.values(keys).map((k) => `https://desk.test/tickets/${k}`)));
    for (const key of Object.values(keys)) {
      const t = await getTicket(key);
      expect(t.improvements).toEqual([
        expect.objectContaining({ source: "linear", ref: issue.identifier, state: "open", shippedAt: null }),
      ]);
    }

    // The agent answers everyone and resolves the four tickets.
    advanceTo(T0 + HOUR);
    for (const key of [...Object.values(keys), other]) {
      await reply(key);
      await patch(key, { status: "resolved" });
    }
    const before = await metricsOf(T0, T0 + 60 * 86_400_000);
    expect(before.issuesToImprovements).toEqual({
      resolved: 4,
      withImprovement: 3,
      ratio: 0.75,
      shipped: 0,
      shippedRatio: 0,
    });

    // Linear: the issue is completed. A bad signature and a stale timestamp change nothing.
    const T1 = T0 + 2 * HOUR;
    advanceTo(T1);
    const done = issueUpdate(issue, STATES.completed);
    expect((await postLinear(done, { signature: "0".repeat(64) })).status).toBe(401);
    const stale = { ...done, webhookTimestamp: Date.now() - 61_000 };
    const staleAnswer = await postLinear(stale);
    expect(staleAnswer.status).toBe(401);
    expect(staleAnswer.body.detail).toMatch(/60 seconds/);
    expect((await getTicket(keys.email)).status).toBe("resolved");

    const shipped = await postLinear(done);
    expect(shipped.status).toBe(200);
    expect(shipped.body).toMatchObject({ ok: true, replay: false, what: "shipped" });
    expect(new Set(shipped.body.changed as string[])).toEqual(new Set(Object.values(keys)));
    for (const key of Object.values(keys)) {
      const t = await getTicket(key);
      expect(t.status).toBe("open");
      // A fresh response clock: the customer is owed the news within the policy's 24 hours.
      expect(Date.parse(t.responseDueAt as string)).toBe(T1 + 24 * HOUR);
      expect(t.improvements[0]).toMatchObject({ state: "shipped", shippedAt: new Date(T1).toISOString() });
      expect(
        systemTexts(t).filter((s) => s.includes(`${issue.identifier}`) && s.includes("has shipped")),
      ).toHaveLength(1);
    }
    expect((await getTicket(other)).status).toBe("resolved");

    // A redelivery (same Linear-Delivery) changes nothing.
    const replay = await postLinear(done, { delivery: shipped.delivery });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ replay: true });
    // A second, different delivery of the same completion finds every improvement shipped already.
    const second = await postLinear(issueUpdate(issue, STATES.completed));
    expect(second.body).toMatchObject({ changed: [] });
    for (const key of Object.values(keys)) {
      const t = await getTicket(key);
      expect(systemTexts(t).filter((s) => s.includes("has shipped"))).toHaveLength(1);
    }

    // The ladder applies to the fresh clocks: each ticket warns once at 75 % and breaches once at 100 %.
    advanceTo(T1 + 18 * HOUR + 60_000);
    for (const key of Object.values(keys)) {
      await fireAlarm(key);
      await fireAlarm(key);
    }
    advanceTo(T1 + 24 * HOUR + 60_000);
    for (const key of Object.values(keys)) {
      await fireAlarm(key);
      await fireAlarm(key);
      const t = await getTicket(key);
      expect(ladder(t, T1)).toEqual(["warning", "breach"]);
      expect(t.breached).toBe(true);
    }

    // The agent tells each customer and resolves again: three of four resolved tickets led to a shipped change.
    advanceTo(T1 + 25 * HOUR);
    for (const key of Object.values(keys)) {
      await reply(key, "The fix is out.");
      await patch(key, { status: "resolved" });
    }
    const after = await metricsOf(T0, T0 + 60 * 86_400_000);
    expect(after.issuesToImprovements).toEqual({
      resolved: 4,
      withImprovement: 3,
      ratio: 0.75,
      shipped: 3,
      shippedRatio: 0.75,
    });
    expect(after.byChannel.email?.issuesToImprovements).toMatchObject({
      resolved: 1,
      shipped: 1,
      shippedRatio: 1,
    });
    expect(after.byChannel.api?.issuesToImprovements).toMatchObject({
      resolved: 2,
      shipped: 1,
      shippedRatio: 0.5,
    });
    expect(after.byTeam.platform?.issuesToImprovements).toMatchObject({ resolved: 1, shipped: 1 });
    for (const key of Object.values(keys)) await flush(key);
  });

  it("with linear.announceShipped, posts the news on each customer's own channel and keeps the tickets waiting", {
    timeout: 30_000,
  }, async () => {
    await useConfig({ ...TEST_CONFIG, linear: { announceShipped: true } });
    const T0 = ownWindow();
    advanceTo(T0);
    const issue = fakeIssue();
    const world = fakeWorld([issue]);
    const { keys, slackChannel, slackTs } = await threeTickets("announce");
    for (const key of Object.values(keys)) {
      const linked = await request(`/v1/tickets/${key}/improvements`, {
        method: "POST",
        json: { linear: issue.url },
      });
      expect(linked.status).toBe(201);
    }
    advanceTo(T0 + HOUR);
    await reply(keys.email);
    await reply(keys.slack);
    await reply(keys.api);
    await patch(keys.api, { status: "resolved" });
    for (const key of Object.values(keys)) await flush(key);
    const before = await metricsOf(T0, T0 + 60 * 86_400_000);
    expect(before.issuesToImprovements).toMatchObject({ resolved: 1, shipped: 0, shippedRatio: 0 });
    const mailsBefore = world.mails.length;

    const T1 = T0 + 2 * HOUR;
    advanceTo(T1);
    const shipped = await postLinear(issueUpdate(issue, STATES.completed));
    expect(shipped.status).toBe(200);
    for (const key of Object.values(keys)) await flush(key);

    // Email: a reply in the customer's thread, naming the ticket and the fix.
    // Email: one mail, to the customer; the ticket shows it as the delivered announcement.
    expect(world.mails.slice(mailsBefore).map((m) => m.to)).toEqual(["carol-announce@example.org"]);
    const emailNews = (await getTicket(keys.email)).messages.find(
      (m) => m.kind === "system" && m.text.includes("has shipped"),
    );
    expect(emailNews?.text).toContain(
      `Good news about ${keys.email}: the fix for the problem you reported has shipped`,
    );
    expect(emailNews?.delivery?.status).toBe("sent");
    // Slack: in the customer's thread.
    const posted = world.out
      .to("slack.fake")
      .map((c) => c.body as Record<string, unknown>)
      .find((b) => b.channel === slackChannel && String(b.text).includes("has shipped"));
    expect(posted).toMatchObject({ thread_ts: slackTs });
    // The engineers' own issue identifier stays off the customer's channel.
    expect(String(posted?.text)).not.toContain(issue.identifier);
    // api: the integration's callback, as a reply.
    const callback = world.out
      .to("hooks.customer.test")
      .map((c) => c.body as Record<string, unknown>)
      .find((b) => b.ticket === keys.api && String(b.text).includes("has shipped"));
    expect(callback).toMatchObject({ kind: "reply" });

    expect((await getTicket(keys.email)).status).toBe("pending");
    expect((await getTicket(keys.slack)).status).toBe("pending");
    const api = await getTicket(keys.api);
    expect(api.status).toBe("resolved");
    expect(api.responseDueAt).toBeNull();
    const announcement = api.messages.find((m) => m.kind === "system" && m.text.includes("has shipped"));
    expect(announcement?.delivery?.status).toBe("sent");
    // The resolved api ticket now counts as a shipped change: 1 of 1.
    const after = await metricsOf(T0, T0 + 60 * 86_400_000);
    expect(after.issuesToImprovements).toMatchObject({ resolved: 1, shipped: 1, shippedRatio: 1 });
  });
});

describe("Linear comments and cancellations", () => {
  beforeEach(async () => {
    await useConfig();
  });

  it("an engineer's comment becomes an internal note on every linked ticket, once", async () => {
    const issue = fakeIssue();
    fakeWorld([issue]);
    const a = (await postMessage({ externalId: unique("ext"), text: "Import broken" })).body.ticket as string;
    const b = (await postMessage({ externalId: unique("ext"), text: "Import broken here too" })).body
      .ticket as string;
    for (const key of [a, b]) {
      expect(
        (
          await request(`/v1/tickets/${key}/improvements`, {
            method: "POST",
            json: { linear: issue.identifier },
          })
        ).status,
      ).toBe(201);
    }
    const comment = commentCreate(issue, "Root cause found: the importer drops BOM-prefixed files.");
    const first = await postLinear(comment);
    expect(first.status).toBe(200);
    expect(new Set(first.body.changed as string[])).toEqual(new Set([a, b]));
    // Redelivered under a new delivery id (Linear retries with the same one; this is the worst case).
    await postLinear(comment);
    for (const key of [a, b]) {
      const t = await getTicket(key);
      const notes = t.messages.filter((m) => m.kind === "note" && m.text.includes("BOM-prefixed"));
      expect(notes).toHaveLength(1);
      expect(notes[0]?.author).toBe("linear:Eli Engineer");
      expect(t.status).toBe("open");
    }
  });

  it("a canceled issue marks the improvement canceled and tells the assignee", async () => {
    const issue = fakeIssue();
    const world = fakeWorld([issue]);
    const key = (await postMessage({ externalId: unique("ext"), text: "Dark mode please" })).body
      .ticket as string;
    await patch(key, { assignee: "alice" });
    await request(`/v1/tickets/${key}/improvements`, { method: "POST", json: { linear: issue.identifier } });
    await reply(key);
    const canceled = await postLinear(issueUpdate(issue, STATES.canceled));
    expect(canceled.body).toMatchObject({ what: "canceled", changed: [key] });
    await flush(key);
    const t = await getTicket(key);
    expect(t.improvements[0]).toMatchObject({ state: "canceled", shippedAt: null });
    expect(t.status).toBe("pending");
    expect(systemTexts(t).some((s) => s.includes("was canceled"))).toBe(true);
    const notice = world.out.slack(key).find((b) => String(b.text).includes("was canceled"));
    expect(notice).toMatchObject({ channel: "U0ALICE" });
  });

  it("refuses without a secret configured (503), without a signature (401), and ignores what it does not handle", async () => {
    const issue = fakeIssue();
    fakeWorld([issue]);
    expect((await postLinear(issueUpdate(issue, STATES.completed), { signature: null })).status).toBe(401);
    const unhandled = { type: "Project", action: "update", webhookTimestamp: Date.now(), data: {} };
    const ignored = await postLinear(unhandled);
    expect(ignored.status).toBe(200);
    expect(ignored.body.ignored).toMatch(/Project.update/);
    // The same Worker on a desk without LINEAR_WEBHOOK_SECRET.
    const unconfigured = await app.request(
      "/webhooks/linear",
      {
        method: "POST",
        headers: { "content-type": "application/json", "linear-signature": "ab", "linear-delivery": "d-1" },
        body: JSON.stringify(issueUpdate(issue, STATES.completed)),
      },
      { ...env, LINEAR_WEBHOOK_SECRET: "" },
    );
    expect(unconfigured.status).toBe(503);
    expect(await unconfigured.text()).toContain("LINEAR_WEBHOOK_SECRET");
  });

  it("a Linear issue the API does not know is a clear 422 and links nothing", async () => {
    fakeWorld([]);
    const key = (await postMessage({ externalId: unique("ext"), text: "Broken" })).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/improvements`, {
      method: "POST",
      json: { linear: "ENG-999999" },
    });
    expect(response.status).toBe(422);
    expect((await getTicket(key)).improvements).toEqual([]);
    const bad = await request(`/v1/tickets/${key}/improvements`, {
      method: "POST",
      json: { linear: "not an issue" },
    });
    expect(bad.status).toBe(400);
  });
});

describe("the console closes the loop too", () => {
  beforeEach(async () => {
    await useConfig();
  });

  it("links an existing Linear issue from the ticket page (CSRF-checked), shows its state, and lists root causes", async () => {
    const issue = fakeIssue();
    const world = fakeWorld([issue]);
    const a = (await postMessage({ externalId: unique("ext"), text: "Report export fails" })).body
      .ticket as string;
    const b = (await postMessage({ externalId: unique("ext"), text: "Export fails for us" })).body
      .ticket as string;
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();

    const forged = await browser.post(`/tickets/${a}/improvements`, { linear: issue.identifier });
    expect(forged.status).toBe(403);
    expect((await getTicket(a)).improvements).toEqual([]);

    for (const key of [a, b]) {
      const linked = await browser.post(`/tickets/${key}/improvements`, { _csrf: csrf, linear: issue.url });
      expect(linked.headers.get("location")).toContain("done=improvement");
    }
    const unknown = await browser.post(`/tickets/${a}/improvements`, { _csrf: csrf, linear: "ENG-1" });
    expect(unknown.headers.get("location")).toContain("error=linear_issue_not_found");
    // Escalating to the bug already filed links it (and files nothing).
    const c = (await postMessage({ externalId: unique("ext"), text: "Exports, again" })).body
      .ticket as string;
    const escalated = await browser.post(`/tickets/${c}/escalations`, {
      _csrf: csrf,
      to: "engineering",
      issue: issue.identifier,
    });
    expect(escalated.headers.get("location")).toContain("done=engineering");
    expect(world.linear.filed).toEqual([]);
    expect((await getTicket(c)).escalations.map((e) => e.target)).toContain(`linear:${issue.identifier}`);
    await postLinear(issueUpdate(issue, STATES.completed));
    for (const key of [a, b, c]) await flush(key);
    expect(
      world
        .graphql("attachmentCreate")
        .filter((q) => (q.variables.input as { issueId: string }).issueId === issue.id),
    ).toHaveLength(3);

    const page = await parseHtml((await browser.get(`/tickets/${a}`)).html);
    const list = page.elements.find((e) => e.attrs.id === "improvements")?.text ?? "";
    expect(list).toContain(issue.identifier);
    expect(list).toContain("shipped");
    expect(page.elements.some((e) => e.attrs.id === "improvement-linear")).toBe(true);

    const metrics = await parseHtml((await browser.get("/metrics")).html);
    const causes = metrics.elements.find((e) => e.attrs.id === "root-causes")?.text ?? "";
    expect(causes).toContain(issue.identifier);
    const row = metrics.all("tr").find((r) => r.text.includes(issue.identifier));
    expect(row?.attrs["data-state"]).toBe("shipped");
    expect(row?.text.trim()).toMatch(/3$/);
  });
});

describe("queue mode (the default): Linear is answered at once", () => {
  beforeEach(async () => {
    await useConfig();
  });

  it("puts the verified delivery on INTAKE_QUEUE, answers 200, and the consumer ships the tickets once", async () => {
    const issue = fakeIssue();
    fakeWorld([issue]);
    const key = (await postMessage({ externalId: unique("ext"), text: "Exports fail" })).body
      .ticket as string;
    await request(`/v1/tickets/${key}/improvements`, { method: "POST", json: { linear: issue.identifier } });
    await reply(key);
    const queued: IntakeJob[] = [];
    const queue = {
      send: async (job: IntakeJob) => {
        queued.push(job);
      },
    } as unknown as Queue;
    const body = JSON.stringify(issueUpdate(issue, STATES.completed));
    const delivery = crypto.randomUUID();
    const answer = await app.request(
      "/webhooks/linear",
      {
        method: "POST",
        body,
        headers: {
          "content-type": "application/json",
          "linear-delivery": delivery,
          "linear-signature": await linearSignature(env.LINEAR_WEBHOOK_SECRET, body),
        },
      },
      { ...env, INTAKE_MODE: "queue", INTAKE_QUEUE: queue },
      createExecutionContext(),
    );
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ ok: true, queued: true, delivery });
    expect((await getTicket(key)).status).toBe("pending");
    const job = queued[0];
    if (job === undefined) throw new Error("nothing was queued");
    const batch = createMessageBatch<IntakeJob>("switchboard-intake", [
      { id: "l1", timestamp: Date.now(), attempts: 1, body: job },
      { id: "l2", timestamp: Date.now(), attempts: 1, body: job },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks.sort()).toEqual(["l1", "l2"]);
    const t = await getTicket(key);
    expect(t.status).toBe("open");
    expect(t.messages.filter((m) => m.kind === "system" && m.text.includes("has shipped"))).toHaveLength(1);
    await flush(key);
  });
});
