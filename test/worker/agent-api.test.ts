import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_CONFIG } from "../../src/domain/config";
import {
  advanceTo,
  fakeOutbound,
  flush,
  getTicket,
  postMessage,
  request,
  TEST_CONFIG,
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

interface ListBody {
  tickets: { key: string; responseDueAt: string | null; status: string; team: string; priority: string }[];
  nextCursor: string | null;
}

async function list(query: string): Promise<ListBody> {
  const response = await request(`/v1/tickets?${query}`);
  expect(response.status).toBe(200);
  return (await response.json()) as ListBody;
}

describe("GET /v1/tickets", () => {
  it("lists the most urgent deadline first and pages with a keyset cursor", async () => {
    const tag = unique("queue");
    // Three teams' worth of tickets, made distinguishable by a shared subject tag.
    const critical = await postMessage({ subject: `${tag} outage`, text: "down" });
    const normal = await postMessage({ subject: `${tag} question`, text: "how?" });
    const low = await postMessage({ subject: `${tag} later`, text: "whenever", priority: "low" });
    const page1 = await list(`q=${tag}&limit=2`);
    expect(page1.tickets.map((t) => t.key)).toEqual([critical.body.ticket, normal.body.ticket]);
    expect(page1.nextCursor).not.toBeNull();
    const page2 = await list(`q=${tag}&limit=2&cursor=${page1.nextCursor}`);
    expect(page2.tickets.map((t) => t.key)).toEqual([low.body.ticket]);
    expect(page2.nextCursor).toBeNull();
  });

  it("puts tickets that owe no reply after every deadline, and hides resolved ones by default", async () => {
    const tag = unique("owe");
    const answered = await postMessage({ subject: `${tag} a` });
    const waiting = await postMessage({ subject: `${tag} b` });
    const done = await postMessage({ subject: `${tag} c` });
    await request(`/v1/tickets/${answered.body.ticket}/replies`, {
      method: "POST",
      json: { text: "Answer" },
    });
    await request(`/v1/tickets/${done.body.ticket}`, { method: "PATCH", json: { status: "resolved" } });
    const queue = await list(`q=${tag}`);
    expect(queue.tickets.map((t) => [t.key, t.status])).toEqual([
      [waiting.body.ticket, "open"],
      [answered.body.ticket, "pending"],
    ]);
    const all = await list(`q=${tag}&status=all`);
    expect(all.tickets).toHaveLength(3);
    const resolved = await list(`q=${tag}&status=resolved`);
    expect(resolved.tickets.map((t) => t.key)).toEqual([done.body.ticket]);
  });

  it.each([
    ["team", "team=platform", (t: ListBody["tickets"][number]) => t.team === "platform"],
    ["priority", "priority=critical", (t: ListBody["tickets"][number]) => t.priority === "critical"],
    ["channel", "channel=api", () => true],
    ["breached", "breached=false", () => true],
  ])("filters by %s", async (_name, filter, check) => {
    const tag = unique("filter");
    await postMessage({ subject: `${tag} latency outage` });
    await postMessage({ subject: `${tag} hello` });
    const result = await list(`q=${tag}&${filter}`);
    expect(result.tickets.length).toBeGreaterThan(0);
    expect(result.tickets.every(check)).toBe(true);
  });

  it("rejects a bad filter, a forged cursor and a bad limit with a problem", async () => {
    for (const query of ["status=closed", "cursor=%%%", "limit=1000", "channel=fax", "breached=maybe"]) {
      const response = await request(`/v1/tickets?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("needs a token", async () => {
    expect((await request("/v1/tickets", { token: null })).status).toBe(401);
  });
});

describe("GET /v1/tickets/:key", () => {
  it("404s an unknown or malformed key", async () => {
    expect((await request("/v1/tickets/SUP-999999")).status).toBe(404);
    expect((await request("/v1/tickets/ABC-1")).status).toBe(404);
  });

  it("accepts a lower-case key", async () => {
    const { body } = await postMessage({});
    const response = await request(`/v1/tickets/${(body.ticket as string).toLowerCase()}`);
    expect(response.status).toBe(200);
  });
});

describe("PATCH /v1/tickets/:key", () => {
  it("hands the ticket to another team, records it and tells that team at once", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({});
    const key = body.ticket as string;
    const response = await request(`/v1/tickets/${key}`, {
      method: "PATCH",
      json: { team: "billing", assignee: "bob" },
    });
    expect(response.status).toBe(200);
    const ticket = (await response.json()) as { team: string; assignee: string; escalations: unknown[] };
    expect(ticket).toMatchObject({ team: "billing", assignee: "bob" });
    expect(ticket.escalations).toEqual([
      expect.objectContaining({ kind: "reassign", target: "team:billing", detail: "from support by alice" }),
    ]);
    await flush(key);
    expect(out.slack(key)).toEqual([
      expect.objectContaining({ channel: "C0BILLING", text: expect.stringContaining(key) }),
    ]);
  });

  it("rejects an unknown team and an empty or unknown field", async () => {
    const { body } = await postMessage({});
    const key = body.ticket as string;
    for (const json of [{ team: "nope" }, {}, { status: "closed" }, { colour: "red" }]) {
      const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json });
      expect(response.status, JSON.stringify(json)).toBe(400);
    }
    expect((await getTicket(key)).team).toBe("support");
  });

  it("resolving stops the clock; reopening starts a new one", async () => {
    const { body } = await postMessage({});
    const key = body.ticket as string;
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
    let ticket = await getTicket(key);
    expect(ticket).toMatchObject({ status: "resolved", responseDueAt: null });
    expect(ticket.resolvedAt).not.toBeNull();
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "open" } });
    ticket = await getTicket(key);
    expect(ticket).toMatchObject({ status: "open", resolvedAt: null });
    expect(ticket.responseDueAt).not.toBeNull();
  });
});

describe("POST /v1/tickets/:key/replies", () => {
  it("a public reply to an api ticket is POSTed to its callbackUrl", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    const key = body.ticket as string;
    const response = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Try v2.3.1" },
    });
    expect(response.status).toBe(201);
    const created = (await response.json()) as {
      message: { kind: string; author: string; delivery: unknown };
    };
    expect(created.message).toMatchObject({
      kind: "staff",
      author: "alice",
      delivery: { status: "pending", error: null },
    });
    await flush(key);
    expect(out.about(key).map((c) => c.body)).toEqual([
      expect.objectContaining({ kind: "acknowledgement" }),
      { ticket: key, kind: "reply", text: "Try v2.3.1" },
    ]);
    const ticket = await getTicket(key);
    expect(ticket.messages.find((m) => m.kind === "staff")?.delivery).toEqual({
      status: "sent",
      error: null,
    });
  });

  it("an internal note never leaves the desk", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    const key = body.ticket as string;
    await flush(key);
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "secret", internal: true } });
    await flush(key);
    expect(out.to("hooks.customer.test").map((c) => (c.body as { kind: string }).kind)).toEqual([
      "acknowledgement",
    ]);
    expect((await getTicket(key)).messages.at(-1)).toMatchObject({
      kind: "note",
      text: "secret",
      delivery: null,
    });
  });

  it("rejects an empty reply", async () => {
    const { body } = await postMessage({});
    const response = await request(`/v1/tickets/${body.ticket}/replies`, {
      method: "POST",
      json: { text: "   " },
    });
    expect(response.status).toBe(400);
  });
});

describe("outbound delivery", () => {
  it("retries a failing callback with backoff and shows the final failure on the ticket", async () => {
    const out = fakeOutbound(() => new Response("upstream sad", { status: 503 }));
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    const key = body.ticket as string;
    // Each retry is due at a later (faked) time: move the clock there and fire, until the outbox gives up.
    for (let i = 0; i < 10; i++) {
      await flush(key);
      const { nextAlarm, outbox } = await timer(key).status();
      if (outbox === 0 || nextAlarm === null) break;
      advanceTo(nextAlarm);
    }
    const attempts = out.about(key);
    expect(attempts).toHaveLength(6);
    const gaps = attempts.slice(1).map((c, i) => c.at - (attempts[i]?.at ?? 0));
    expect(gaps.map((g) => Math.round(g / 1000))).toEqual([2, 10, 30, 120, 600]);
    const ticket = await getTicket(key);
    const ack = ticket.messages.find(
      (m) => m.kind === "system" && m.delivery?.status === "failed" && m.text.startsWith("Thanks"),
    );
    expect(ack?.delivery?.error).toContain("HTTP 503");
    expect(ticket.messages.at(-1)?.text).toMatch(
      /^Delivery failed: acknowledgement .* HTTP 503: upstream sad \(after 6 attempts\)$/,
    );
    expect((await timer(key).status()).outbox).toBe(0);
    expect(out.calls.length).toBeGreaterThanOrEqual(6);
  });

  it("a permanent error is not retried", async () => {
    const out = fakeOutbound(() => new Response("gone", { status: 410 }));
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    await flush(body.ticket as string);
    expect(out.about(body.ticket as string)).toHaveLength(1);
    const ticket = await getTicket(body.ticket as string);
    expect(ticket.messages.at(-1)?.text).toContain("HTTP 410");
  });

  it("a missing secret skips the integration with a log line", async () => {
    const { deliver } = await import("../../src/notify");
    const out = fakeOutbound();
    expect(await deliver({}, { service: "slack", body: { channel: "C1", text: "hi" } })).toEqual({
      ok: "skipped",
      reason: "SLACK_BOT_TOKEN is not set",
    });
    expect(
      await deliver({}, { service: "pagerduty", routingKey: null, action: "trigger", dedupKey: "SUP-1" }),
    ).toEqual({ ok: "skipped", reason: "PAGERDUTY_ROUTING_KEY is not set" });
    expect(out.calls).toHaveLength(0);
  });
});

describe("GET/PUT /v1/config", () => {
  it("a fresh install serves the default configuration", async () => {
    await env.DB.prepare("delete from config").run();
    const response = await request("/v1/config");
    expect(await response.json()).toEqual(JSON.parse(JSON.stringify(DEFAULT_CONFIG)));
  });

  it("an invalid document is answered 400 with every problem, and the old one stays", async () => {
    const response = await request("/v1/config", {
      method: "PUT",
      json: {
        ...TEST_CONFIG,
        defaultTeam: "ghosts",
        timezone: "Nowhere/Land",
        routes: [{ team: "x", when: {} }],
      },
    });
    expect(response.status).toBe(400);
    const problem = (await response.json()) as { issues: { path: string }[] };
    expect(problem.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["timezone", "routes.0.when"]));
    const current = (await (await request("/v1/config")).json()) as { defaultTeam: string; teams: unknown[] };
    expect(current.defaultTeam).toBe("support");
    expect(current.teams).toHaveLength(TEST_CONFIG.teams.length);
  });

  it("cross-field problems are all listed too", async () => {
    const response = await request("/v1/config", {
      method: "PUT",
      json: { ...TEST_CONFIG, defaultTeam: "ghosts", routes: [{ team: "x", when: { channel: "email" } }] },
    });
    const problem = (await response.json()) as { issues: { path: string }[] };
    expect(problem.issues.map((i) => i.path)).toEqual(
      expect.arrayContaining(["defaultTeam", "routes.0.team"]),
    );
  });

  it("a stored configuration routes the next message", async () => {
    await useConfig({ ...TEST_CONFIG, routes: [{ team: "billing", when: { keywords: ["zebra"] } }] });
    const { body } = await postMessage({ text: "a zebra ate my invoice" });
    expect((await getTicket(body.ticket as string)).team).toBe("billing");
  });

  it("each change applies to the very next message, even back and forth between two documents", async () => {
    // The isolate keeps the last validated document; a change must never be served from it.
    const toBilling = { ...TEST_CONFIG, routes: [{ team: "billing", when: { keywords: ["zebra"] } }] };
    const toSupport = { ...TEST_CONFIG, routes: [] };
    for (const [document, team] of [
      [toBilling, "billing"],
      [toSupport, "support"],
      [toBilling, "billing"],
    ] as const) {
      const put = await request("/v1/config", { method: "PUT", json: document });
      expect(put.status).toBe(200);
      const { body } = await postMessage({ text: "a zebra ate my invoice" });
      expect((await getTicket(body.ticket as string)).team).toBe(team);
    }
  });
});

describe("service endpoints", () => {
  it("GET /healthz answers without a token", async () => {
    const response = await request("/healthz", { token: null });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("GET /openapi.json documents every endpoint", async () => {
    const response = await request("/openapi.json", { token: null });
    expect(response.status).toBe(200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths).sort()).toEqual(
      expect.arrayContaining([
        "/v1/config",
        "/v1/messages",
        "/v1/tickets",
        "/v1/tickets/{key}",
        "/v1/tickets/{key}/replies",
      ]),
    );
    expect(Object.keys(doc.paths["/v1/tickets/{key}"] ?? {}).sort()).toEqual(["get", "patch"]);
  });

  it("unknown routes are a problem+json 404", async () => {
    const response = await request("/v2/nothing");
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });
});
