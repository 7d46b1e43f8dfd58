import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { intake } from "../../src/intake";
import {
  countRows,
  fakeOutbound,
  flush,
  getTicket,
  postMessage,
  request,
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

describe("POST /v1/messages", () => {
  it("opens a ticket, answers 202 with the key and deadline, and records the acknowledgement", async () => {
    fakeOutbound();
    const before = Date.now();
    const { response, body } = await postMessage({ subject: "Cannot log in", text: "Since this morning." });
    expect(response.status).toBe(202);
    expect(body).toMatchObject({ ticket: expect.stringMatching(/^SUP-\d+$/), created: true });
    const due = Date.parse(body.responseDueAt as string);
    expect(due - before).toBeGreaterThanOrEqual(24 * 3_600_000 - 1000);
    expect(due - before).toBeLessThanOrEqual(24 * 3_600_000 + 1000);
    expect(body.acknowledgement).toContain(body.ticket as string);

    const ticket = await getTicket(body.ticket as string);
    expect(ticket).toMatchObject({
      channel: "api",
      subject: "Cannot log in",
      status: "open",
      priority: "normal",
      policy: "api",
      team: "support",
      visibility: "private",
      escalationLevel: 2,
      responseDueAt: body.responseDueAt,
      breached: false,
      requester: { name: "Ann", email: "ann@example.org", handle: null },
    });
    expect(ticket.messages.map((m) => [m.direction, m.kind])).toEqual([
      ["inbound", "customer"],
      ["outbound", "system"],
    ]);
    expect(ticket.messages[1]?.text).toBe(body.acknowledgement);
    expect(ticket.messages[1]?.delivery?.status).toBe("sent");
  });

  it("numbers tickets sequentially", async () => {
    const first = await postMessage({});
    const second = await postMessage({});
    const a = Number((first.body.ticket as string).slice(4));
    const b = Number((second.body.ticket as string).slice(4));
    expect(b).toBe(a + 1);
  });

  it("threads a message with the same threadId into the ticket and reopens a pending ticket", async () => {
    const threadId = unique("thread");
    const first = await postMessage({ threadId, text: "first" });
    const key = first.body.ticket as string;
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Looking into it" } });
    expect((await getTicket(key)).status).toBe("pending");

    const second = await postMessage({ threadId, text: "second" });
    expect(second.response.status).toBe(202);
    expect(second.body).toMatchObject({ ticket: key, created: false });
    const ticket = await getTicket(key);
    expect(ticket.status).toBe("open");
    expect(ticket.responseDueAt).toBe(second.body.responseDueAt);
    expect(ticket.messages.filter((m) => m.kind === "customer").map((m) => m.text)).toEqual([
      "first",
      "second",
    ]);
    // At most one acknowledgement per ticket.
    expect(ticket.messages.filter((m) => m.kind === "system")).toHaveLength(1);
  });

  it("a message naming an earlier externalId as its threadId joins that ticket", async () => {
    const externalId = unique("ext");
    const first = await postMessage({ externalId });
    const second = await postMessage({ threadId: externalId });
    expect(second.body.ticket).toBe(first.body.ticket);
  });

  it("a replay of an externalId answers 200 with the original result and writes nothing", async () => {
    const externalId = unique("ext");
    const first = await postMessage({ externalId, text: "once" });
    const counts = await Promise.all(
      ["tickets", "messages", "idempotency_keys", "thread_keys"].map(countRows),
    );
    const replay = await postMessage({ externalId, text: "once, again" });
    expect(replay.response.status).toBe(200);
    expect(replay.response.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.body).toEqual({
      ticket: first.body.ticket,
      created: true,
      responseDueAt: first.body.responseDueAt,
    });
    expect(
      await Promise.all(["tickets", "messages", "idempotency_keys", "thread_keys"].map(countRows)),
    ).toEqual(counts);
  });

  it("concurrent deliveries of the same externalId store one ticket", async () => {
    const externalId = unique("ext");
    const before = await countRows("tickets");
    const results = await Promise.all(Array.from({ length: 8 }, () => postMessage({ externalId })));
    expect(new Set(results.map((r) => r.body.ticket)).size).toBe(1);
    expect(results.map((r) => r.response.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 202]);
    expect(await countRows("tickets")).toBe(before + 1);
  });

  it("concurrent first messages of one new thread open one ticket", async () => {
    const threadId = unique("thread");
    const results = await Promise.all(Array.from({ length: 6 }, () => postMessage({ threadId })));
    const keys = new Set(results.map((r) => r.body.ticket));
    expect(keys.size).toBe(1);
    const ticket = await getTicket([...keys][0] as string);
    expect(ticket.messages.filter((m) => m.kind === "customer")).toHaveLength(6);
    expect(results.filter((r) => r.body.created === true)).toHaveLength(1);
  });

  it("posts the acknowledgement to the callbackUrl", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/switchboard" });
    await flush(body.ticket as string);
    const calls = out.to("hooks.customer.test");
    expect(calls).toHaveLength(1);
    expect(calls[0]?.body).toEqual({
      ticket: body.ticket,
      kind: "acknowledgement",
      text: body.acknowledgement,
    });
    const ticket = await getTicket(body.ticket as string);
    expect(ticket.messages[1]?.delivery).toEqual({ status: "sent", error: null });
  });
});

describe("classification and routing at intake", () => {
  it("a critical keyword makes the ticket critical with the 1-hour policy", async () => {
    fakeOutbound();
    const before = Date.now();
    const { body } = await postMessage({ subject: "Production down", text: "Everything returns errors" });
    const ticket = await getTicket(body.ticket as string);
    expect(ticket).toMatchObject({ priority: "critical", policy: "critical" });
    const window = Date.parse(ticket.responseDueAt as string) - before;
    expect(window).toBeGreaterThan(3_599_000);
    expect(window).toBeLessThan(3_601_000);
  });

  it("the caller's priority is honoured", async () => {
    const { body } = await postMessage({ priority: "critical", text: "our pipeline is stuck" });
    expect((await getTicket(body.ticket as string)).policy).toBe("critical");
  });

  it("security-looking messages are forced private and routed to the security team", async () => {
    const { body } = await postMessage({
      text: "I found an exploit in your login form",
      visibility: "public",
    });
    expect(await getTicket(body.ticket as string)).toMatchObject({
      visibility: "private",
      team: "security",
      security: true,
    });
  });

  it("the caller's visibility is kept otherwise", async () => {
    const { body } = await postMessage({ visibility: "public" });
    expect((await getTicket(body.ticket as string)).visibility).toBe("public");
  });

  it("an enterprise customer, known by email domain, gets its account engineer", async () => {
    const { body } = await postMessage({ from: { email: "cto@acme.com" } });
    expect(await getTicket(body.ticket as string)).toMatchObject({ customer: "acme", assignee: "erin" });
  });

  describe.each([
    ["keyword route", { channel: "api", text: "p99 latency is 3s" }, "platform"],
    [
      "email recipient route",
      { channel: "email", text: "invoice", context: { recipient: "billing@example.com" } },
      "billing",
    ],
    [
      "GitHub repository route",
      { channel: "github", text: "bug", context: { githubRepo: "acme/sdk" } },
      "sdk",
    ],
    ["default team", { channel: "api", text: "hello there" }, "support"],
  ] as const)("%s", (_name, facts, team) => {
    it(`routes to ${team}`, async () => {
      const result = await intake(env, {
        channel: facts.channel,
        idempotencyKey: unique("route"),
        threadKeys: [unique("thread")],
        from: { email: "someone@example.net" },
        text: facts.text,
        context: "context" in facts ? facts.context : {},
        receivedAt: Date.now(),
      });
      if (!result.ok) throw new Error(result.detail);
      expect((await getTicket(result.ticket)).team).toBe(team);
    });
  });
});

describe("bad input stores nothing", () => {
  const tables = ["tickets", "messages", "idempotency_keys", "thread_keys", "attachments"];
  let counts: number[] = [];
  beforeEach(async () => {
    counts = await Promise.all(tables.map(countRows));
  });
  afterEach(async () => {
    expect(await Promise.all(tables.map(countRows))).toEqual(counts);
  });

  const valid = { externalId: "bad-input-never-stored", from: { name: "X" }, text: "hi" };

  it("no token → 401", async () => {
    const response = await request("/v1/messages", { method: "POST", json: valid, token: null });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(response.headers.get("www-authenticate")).toContain("Bearer");
  });

  it("unknown token → 401", async () => {
    const response = await request("/v1/messages", { method: "POST", json: valid, token: "not-a-token" });
    expect(response.status).toBe(401);
  });

  it("malformed JSON → 400 problem", async () => {
    const response = await request("/v1/messages", {
      method: "POST",
      body: '{"externalId": "x", ',
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    expect(((await response.json()) as { title: string }).title).toBe("Bad request");
  });

  it("a schema violation → 400 listing each issue", async () => {
    const response = await request("/v1/messages", {
      method: "POST",
      json: { from: { email: "not-an-email" }, text: "", priority: "urgent", extra: 1 },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { issues: { path: string }[] };
    expect(problem.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["externalId", "from.email", "text", "priority"]),
    );
  });

  it("a body over 1 MiB → 413", async () => {
    const response = await request("/v1/messages", {
      method: "POST",
      json: { ...valid, text: "x".repeat(1024 * 1024 + 10) },
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });

  it("a non-JSON content type → 415", async () => {
    const response = await request("/v1/messages", {
      method: "POST",
      body: "externalId=x",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(response.status).toBe(415);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
