import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { createSession, SESSION_COOKIE, sessionKey } from "../../src/http/ui/session";
import { deliverEmail } from "./email-helpers";
import {
  countRows,
  fakeOutbound,
  flush,
  getTicket,
  request,
  TEST_CONFIG,
  unique,
  useConfig,
} from "./helpers";

/**
 * SPEC §11 "Who may do what". The test bindings (vitest.config.ts) are a desk without admins:
 * agents alice and bob, integrations acme-monitor and ci-bot. The same desk with an admin added
 * is the Worker's app run with API_TOKENS extended by `root`.
 */
const PLAIN_DESK = env.API_TOKENS;
const ADMIN_DESK = `${env.API_TOKENS},root:test-token-root:admin`;

const ACME = "test-token-acme";
const CI = "test-token-ci";

async function call(
  tokens: string,
  token: string | null,
  method: string,
  path: string,
  init: { json?: unknown; headers?: Record<string, string>; body?: BodyInit } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return app.request(
    `https://desk.test${path}`,
    { method, headers, body, redirect: "manual" },
    { ...env, API_TOKENS: tokens },
  );
}

/** Sign in to the console through the real form (login cookie + double-submit token). */
async function consoleSignIn(tokens: string, token: string): Promise<Response> {
  const login = await call(tokens, null, "GET", "/login");
  const cookie = (login.headers.getSetCookie()[0] ?? "").split(";")[0] ?? "";
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await login.text())?.[1] ?? "";
  return call(tokens, null, "POST", "/login", {
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, token, next: "/queue" }).toString(),
  });
}

// ---- the role matrix -----------------------------------------------------------------------------

interface Endpoint {
  method: string;
  /** As /openapi.json names it; `{key}` and `{id}` are filled in per test. */
  path: string;
  json?: () => unknown;
  query?: string;
  /** The endpoint's own answer once the role is let through. */
  ok: number;
  /** The endpoint is public: a token, whatever its role, changes nothing. */
  public?: true;
}

const ENDPOINTS: Endpoint[] = [
  {
    method: "POST",
    path: "/v1/messages",
    json: () => ({ externalId: unique("matrix"), from: { name: "Ann" }, text: "Exports fail" }),
    ok: 202,
  },
  { method: "GET", path: "/v1/tickets", ok: 200 },
  { method: "GET", path: "/v1/tickets/{key}", ok: 200 },
  { method: "PATCH", path: "/v1/tickets/{key}", json: () => ({ priority: "high" }), ok: 200 },
  {
    method: "POST",
    path: "/v1/tickets/{key}/replies",
    json: () => ({ text: "Looking into it", internal: true }),
    ok: 201,
  },
  {
    method: "POST",
    path: "/v1/tickets/{key}/improvements",
    json: () => ({ kind: "docs", title: "Document export limits" }),
    ok: 201,
  },
  { method: "POST", path: "/v1/tickets/{key}/escalations", json: () => ({ to: "incident" }), ok: 201 },
  { method: "GET", path: "/v1/metrics", ok: 200 },
  { method: "GET", path: "/v1/metrics/trend", ok: 200 },
  { method: "GET", path: "/v1/quarantine", ok: 200 },
  // `{id}` is an attachment's id, no quarantined mail's: let through, the promotion finds nothing.
  { method: "POST", path: "/v1/quarantine/{id}/promote", ok: 404 },
  { method: "GET", path: "/v1/discord/gateway", ok: 200 },
  { method: "POST", path: "/v1/discord/gateway", ok: 200 },
  { method: "GET", path: "/v1/attachments/{id}", ok: 200 },
  { method: "GET", path: "/v1/config", ok: 200 },
  { method: "PUT", path: "/v1/config", json: () => TEST_CONFIG, ok: 200 },
  { method: "GET", path: "/v1/search", query: "?q=exports", ok: 200, public: true },
  { method: "GET", path: "/v1/quality", ok: 200, public: true },
];

type Verdict = "allowed" | 403;

interface Caller {
  role: string;
  tokens: string;
  token: string;
  /** Everything but POST /v1/messages and PUT /v1/config is the same for every role but integration. */
  verdict: (endpoint: Endpoint) => Verdict;
}

const CALLERS: Caller[] = [
  { role: "admin", tokens: ADMIN_DESK, token: "test-token-root", verdict: () => "allowed" },
  {
    role: "agent, on a desk with an admin",
    tokens: ADMIN_DESK,
    token: "test-token-alice",
    verdict: (e) => (e.method === "PUT" && e.path === "/v1/config" ? 403 : "allowed"),
  },
  {
    role: "agent, on a desk without admins",
    tokens: PLAIN_DESK,
    token: "test-token-alice",
    verdict: () => "allowed",
  },
  {
    role: "integration",
    tokens: ADMIN_DESK,
    token: ACME,
    verdict: (e) => (e.path === "/v1/messages" || e.public ? "allowed" : 403),
  },
  {
    role: "integration, on a desk without admins",
    tokens: PLAIN_DESK,
    token: ACME,
    verdict: (e) => (e.path === "/v1/messages" || e.public ? "allowed" : 403),
  },
];

let ticketKey = "";
let attachmentId = "";

beforeAll(async () => {
  await useConfig();
  const created = await call(PLAIN_DESK, "test-token-alice", "POST", "/v1/messages", {
    json: { externalId: unique("matrix-ticket"), from: { name: "Ann" }, text: "Our exports fail" },
  });
  ticketKey = ((await created.json()) as { ticket: string }).ticket;
  const messageId = `${unique("matrix")}@example.org`;
  const raw = [
    "From: Ann <ann@example.org>",
    "To: support@example.com",
    "Subject: Log attached",
    `Message-ID: <${messageId}>`,
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="b1"',
    "",
    "--b1",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "The log is attached.",
    "--b1",
    "Content-Type: text/plain",
    'Content-Disposition: attachment; filename="export.log"',
    "",
    "export failed at 10:02",
    "--b1--",
    "",
  ].join("\r\n");
  await deliverEmail(raw);
  const row = await env.DB.prepare(
    "select a.id from attachments a join messages m on m.id = a.message_id where m.external_id like ?",
  )
    .bind(`%${messageId}%`)
    .first<{ id: string }>();
  attachmentId = row?.id ?? "";
});

beforeEach(() => {
  fakeOutbound();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("the role matrix: every API endpoint for every role", () => {
  it("covers every operation in /openapi.json", async () => {
    const doc = (await (await request("/openapi.json", { token: null })).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const covered = ENDPOINTS.map((e) => `${e.method} ${e.path}`);
    expect(covered).toEqual(expect.arrayContaining(documented));
    expect(attachmentId).not.toBe("");
  });

  describe.each(CALLERS)("$role", (caller) => {
    it.each(ENDPOINTS.map((e) => ({ ...e, verdict: caller.verdict(e) })))(
      "$method $path → $verdict",
      async (endpoint) => {
        const path =
          endpoint.path.replace("{key}", ticketKey).replace("{id}", attachmentId) + (endpoint.query ?? "");
        const response = await call(caller.tokens, caller.token, endpoint.method, path, {
          ...(endpoint.json === undefined ? {} : { json: endpoint.json() }),
        });
        if (endpoint.verdict === "allowed") {
          expect(response.status, await response.clone().text()).toBe(endpoint.ok);
          return;
        }
        expect(response.status).toBe(403);
        expect(response.headers.get("content-type")).toBe("application/problem+json");
        const problem = (await response.json()) as { title: string; status: number; detail: string };
        expect(problem).toMatchObject({ title: "Forbidden", status: 403 });
        expect(problem.detail).toContain(caller.role.startsWith("integration") ? "integration" : "agent");
      },
    );
  });

  it("a 403 changes nothing: an integration cannot touch a ticket or the configuration", async () => {
    const before = await getTicket(ticketKey);
    for (const [method, path, json] of [
      ["PATCH", `/v1/tickets/${ticketKey}`, { status: "resolved" }],
      ["POST", `/v1/tickets/${ticketKey}/replies`, { text: "forged reply" }],
      ["PUT", "/v1/config", { ...TEST_CONFIG, defaultTeam: "billing" }],
    ] as const) {
      expect((await call(ADMIN_DESK, ACME, method, path, { json })).status).toBe(403);
    }
    const after = await getTicket(ticketKey);
    expect(after.status).toBe(before.status);
    expect(after.messages).toHaveLength(before.messages.length);
    const config = (await (await request("/v1/config")).json()) as { defaultTeam: string };
    expect(config.defaultTeam).toBe("support");
  });

  it("the 403 names the role; an unknown token is still 401", async () => {
    const refused = await call(PLAIN_DESK, ACME, "GET", "/v1/tickets");
    expect(((await refused.json()) as { detail: string }).detail).toBe(
      "This token has the role integration, which may only POST /v1/messages.",
    );
    const agent = await call(ADMIN_DESK, "test-token-alice", "PUT", "/v1/config", { json: TEST_CONFIG });
    expect(((await agent.json()) as { detail: string }).detail).toMatch(
      /role agent; this desk has admins, and only an admin may change the configuration/,
    );
    expect((await call(ADMIN_DESK, "no-such-token", "GET", "/v1/tickets")).status).toBe(401);
    expect((await call(ADMIN_DESK, null, "PUT", "/v1/config", { json: TEST_CONFIG })).status).toBe(401);
  });

  it("records the admin as the author of a configuration change", async () => {
    expect(
      (await call(ADMIN_DESK, "test-token-root", "PUT", "/v1/config", { json: TEST_CONFIG })).status,
    ).toBe(200);
    const row = await env.DB.prepare("select updated_by as by from config").first<{ by: string }>();
    expect(row?.by).toBe("root");
  });
});

describe("console sign-in by role", () => {
  it.each([
    { role: "admin", tokens: ADMIN_DESK, token: "test-token-root", status: 303 },
    { role: "agent", tokens: ADMIN_DESK, token: "test-token-alice", status: 303 },
    { role: "agent, desk without admins", tokens: PLAIN_DESK, token: "test-token-alice", status: 303 },
    { role: "integration", tokens: ADMIN_DESK, token: ACME, status: 403 },
  ])("$role → $status", async ({ tokens, token, status }) => {
    const response = await consoleSignIn(tokens, token);
    expect(response.status).toBe(status);
    const session = response.headers.getSetCookie().some((c) => c.startsWith(`${SESSION_COOKIE}=`));
    expect(session).toBe(status === 303);
    if (status === 403) {
      expect(await response.text()).toContain("integration");
    }
  });

  it("ends the session of a name whose token became an integration's", async () => {
    const key = await sessionKey({ SESSION_SECRET: "s3cret" });
    if (key === null) throw new Error("no key");
    const cookie = `${SESSION_COOKIE}=${await createSession(key, "carol", Date.now())}`;
    const queue = (tokens: string) =>
      app.request(
        "https://desk.test/queue",
        { headers: { cookie } },
        { ...env, SESSION_SECRET: "s3cret", API_TOKENS: tokens },
      );
    expect((await queue("carol:c-token")).status).toBe(200);
    expect((await queue("carol:c-token:integration")).status).toBe(303);
  });

  it("never offers an integration as an assignee", async () => {
    const signedIn = await consoleSignIn(PLAIN_DESK, "test-token-alice");
    const cookie = (signedIn.headers.getSetCookie().find((c) => c.startsWith(SESSION_COOKIE)) ?? "").split(
      ";",
    )[0];
    const page = await call(PLAIN_DESK, null, "GET", `/tickets/${ticketKey}`, {
      headers: { cookie: cookie ?? "" },
    });
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html).toContain('value="bob"');
    expect(html).not.toContain("acme-monitor");
    expect(html).not.toContain("ci-bot");
  });
});

// ---- ids scoped to the token's name ---------------------------------------------------------------

async function post(token: string, body: Record<string, unknown>) {
  const response = await request("/v1/messages", {
    method: "POST",
    token,
    json: { from: { name: "Monitor" }, text: "Disk full", ...body },
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe("externalId and threadId are scoped to the token's name", () => {
  beforeEach(async () => {
    await useConfig();
  });

  it("two integrations using the same externalId get separate tickets, and each replay answers its own", async () => {
    const externalId = unique("alert");
    const acme = await post(ACME, { externalId, text: "acme: disk full on db-1" });
    const ci = await post(CI, { externalId, text: "ci: build 512 failed" });
    expect(acme).toMatchObject({ status: 202, body: { created: true } });
    expect(ci).toMatchObject({ status: 202, body: { created: true } });
    expect(ci.body.ticket).not.toBe(acme.body.ticket);

    const acmeAgain = await post(ACME, { externalId, text: "acme: disk full on db-1" });
    const ciAgain = await post(CI, { externalId, text: "ci: build 512 failed" });
    expect(acmeAgain).toMatchObject({ status: 200, body: { ticket: acme.body.ticket, created: true } });
    expect(ciAgain).toMatchObject({ status: 200, body: { ticket: ci.body.ticket, created: true } });

    const acmeTicket = await getTicket(acme.body.ticket as string);
    const ciTicket = await getTicket(ci.body.ticket as string);
    expect(acmeTicket.messages.filter((m) => m.kind === "customer").map((m) => m.text)).toEqual([
      "acme: disk full on db-1",
    ]);
    expect(ciTicket.messages.filter((m) => m.kind === "customer").map((m) => m.text)).toEqual([
      "ci: build 512 failed",
    ]);
  });

  it("two integrations using the same threadId each thread into their own ticket only", async () => {
    const threadId = unique("incident");
    const acme1 = await post(ACME, { externalId: unique("a"), threadId, text: "acme first" });
    const ci1 = await post(CI, { externalId: unique("c"), threadId, text: "ci first" });
    expect(ci1.body).toMatchObject({ created: true });
    expect(ci1.body.ticket).not.toBe(acme1.body.ticket);
    const acme2 = await post(ACME, { externalId: unique("a"), threadId, text: "acme second" });
    const ci2 = await post(CI, { externalId: unique("c"), threadId, text: "ci second" });
    expect(acme2.body).toMatchObject({ ticket: acme1.body.ticket, created: false });
    expect(ci2.body).toMatchObject({ ticket: ci1.body.ticket, created: false });
    const texts = async (key: unknown) =>
      (await getTicket(key as string)).messages.filter((m) => m.kind === "customer").map((m) => m.text);
    expect(await texts(acme1.body.ticket)).toEqual(["acme first", "acme second"]);
    expect(await texts(ci1.body.ticket)).toEqual(["ci first", "ci second"]);
  });

  it("an agent's and an integration's ids do not meet either, and an integration cannot reach an agent-opened thread", async () => {
    const threadId = unique("shared");
    const alice = await post("test-token-alice", { externalId: unique("x"), threadId, text: "from alice" });
    const acme = await post(ACME, { externalId: unique("x"), threadId, text: "from acme" });
    expect(acme.body).toMatchObject({ created: true });
    expect(acme.body.ticket).not.toBe(alice.body.ticket);
  });

  it("a message without threadId is its own thread, which only the same token can name later", async () => {
    const externalId = unique("first");
    const opened = await post(ACME, { externalId });
    const follow = await post(ACME, { externalId: unique("next"), threadId: externalId, text: "more" });
    const stranger = await post(CI, { externalId: unique("next"), threadId: externalId, text: "mine?" });
    expect(follow.body).toMatchObject({ ticket: opened.body.ticket, created: false });
    expect(stranger.body).toMatchObject({ created: true });
    expect(stranger.body.ticket).not.toBe(opened.body.ticket);
  });

  it("a ticket from before scoping stops threading: a follow-up opens a new ticket", async () => {
    const threadId = unique("legacy");
    const old = await post(ACME, { externalId: unique("old"), threadId, text: "before the upgrade" });
    await unscope(old.body.ticket);
    const after = await post(ACME, { externalId: unique("new"), threadId, text: "after the upgrade" });
    expect(after.body).toMatchObject({ created: true });
    expect(after.body.ticket).not.toBe(old.body.ticket);
  });

  it("the README's adoption statement gives a one-integration desk's old keys their name, once", async () => {
    const threadId = unique("legacy");
    const externalId = unique("old");
    const old = await post(ACME, { externalId, threadId, text: "before the upgrade" });
    await unscope(old.body.ticket);
    const deployedAt = Date.now() + 1;
    // README "Tokens and roles", run twice: the second run changes nothing.
    for (let run = 0; run < 2; run++) {
      for (const table of ["thread_keys", "idempotency_keys"]) {
        await env.DB.prepare(
          `update or ignore ${table} set key = 'acme-monitor:' || key
           where channel = 'api' and created_at < ? and key not like 'acme-monitor:%'`,
        )
          .bind(deployedAt)
          .run();
      }
    }
    const replay = await post(ACME, { externalId, threadId, text: "before the upgrade" });
    expect(replay).toMatchObject({ status: 200, body: { ticket: old.body.ticket } });
    const adopted = await post(ACME, { externalId: unique("new"), threadId, text: "threads again" });
    expect(adopted.body).toMatchObject({ ticket: old.body.ticket, created: false });
  });
});

/** Make a ticket look like one stored by the release before scoping: its api keys are the bare ids. */
async function unscope(ticket: unknown): Promise<void> {
  const number = Number(String(ticket).slice(4));
  for (const table of ["thread_keys", "idempotency_keys"]) {
    await env.DB.prepare(
      `update ${table} set key = substr(key, length('acme-monitor:') + 1)
       where channel = 'api' and ticket_number = ? and key like 'acme-monitor:%'`,
    )
      .bind(number)
      .run();
  }
}

// ---- where callbacks may go ---------------------------------------------------------------------

describe("callbackUrl: https, and only the integration's callbackHosts", () => {
  beforeEach(async () => {
    await useConfig({
      ...TEST_CONFIG,
      integrations: [{ name: "acme-monitor", callbackHosts: ["hooks.acme.test", "HOOKS2.acme.test"] }],
    });
  });

  it("refuses a callbackUrl on another host with 400 and stores nothing", async () => {
    const externalId = unique("cb");
    const [tickets, keys] = [await countRows("tickets"), await countRows("idempotency_keys")];
    const refused = await post(ACME, { externalId, callbackUrl: "https://evil.test/steal" });
    expect(refused.status).toBe(400);
    expect(refused.body).toMatchObject({
      status: 400,
      detail:
        "callbackUrl's host evil.test is not one of this integration's callbackHosts (hooks.acme.test, HOOKS2.acme.test)",
      issues: [{ path: "callbackUrl" }],
    });
    expect([await countRows("tickets"), await countRows("idempotency_keys")]).toEqual([tickets, keys]);
    // Nothing was stored: the same externalId with an allowed host opens the ticket.
    const accepted = await post(ACME, { externalId, callbackUrl: "https://hooks.acme.test/cb" });
    expect(accepted).toMatchObject({ status: 202, body: { created: true } });
  });

  it("a listed host matches ignoring case and port, and the callback goes there", async () => {
    const out = fakeOutbound();
    const url = `https://Hooks2.ACME.test:8443/cb/${unique("p")}`;
    const accepted = await post(ACME, { externalId: unique("cb"), callbackUrl: url });
    expect(accepted.status).toBe(202);
    await flush(accepted.body.ticket as string);
    expect(out.about(accepted.body.ticket as string).map((c) => c.host)).toEqual(["hooks2.acme.test:8443"]);
  });

  it("a follow-up in the thread is held to the same hosts", async () => {
    const threadId = unique("t");
    await post(ACME, { externalId: unique("cb"), threadId, callbackUrl: "https://hooks.acme.test/cb" });
    const before = await countRows("messages");
    const refused = await post(ACME, {
      externalId: unique("cb"),
      threadId,
      callbackUrl: "https://evil.test/x",
    });
    expect(refused.status).toBe(400);
    expect(await countRows("messages")).toBe(before);
  });

  it("an integration without callbackHosts may name any https host", async () => {
    const accepted = await post(CI, {
      externalId: unique("cb"),
      callbackUrl: "https://ci.example.test/hook",
    });
    expect(accepted.status).toBe(202);
  });

  it.each([
    ["http://hooks.acme.test/cb", 400],
    ["ftp://hooks.acme.test/cb", 400],
    ["http://localhost:8080/cb", 202],
    ["http://127.0.0.1:8080/cb", 202],
    ["http://[::1]:8080/cb", 202],
    ["http://hooks.localhost/cb", 202],
  ])("%s → %i (https only, plain http on loopback for development)", async (callbackUrl, status) => {
    const response = await post(CI, { externalId: unique("cb"), callbackUrl });
    expect(response.status).toBe(status);
    if (status === 400) {
      expect(JSON.stringify(response.body)).toContain("callbackUrl must be https");
    }
  });

  it("validates integrations in the configuration; the old document stays", async () => {
    const put = async (integrations: unknown) => {
      const response = await request("/v1/config", { method: "PUT", json: { ...TEST_CONFIG, integrations } });
      expect(response.status).toBe(400);
      return ((await response.json()) as { issues: { path: string }[] }).issues.map((i) => i.path);
    };
    expect(
      await put([
        { name: "acme-monitor", callbackHosts: ["https://hooks.acme.test/path"] },
        { name: "big", callbackHosts: Array.from({ length: 21 }, (_, i) => `h${i}.test`) },
        { name: "" },
        { name: "x", callbackHosts: [], extra: true },
      ]),
    ).toEqual(
      expect.arrayContaining([
        "integrations.0.callbackHosts.0",
        "integrations.1.callbackHosts",
        "integrations.2.name",
        "integrations.3",
      ]),
    );
    expect(await put([{ name: "acme-monitor" }, { name: "acme-monitor" }])).toEqual(["integrations.1.name"]);
    expect(await put(Array.from({ length: 201 }, (_, i) => ({ name: `i${i}` })))).toEqual(["integrations"]);
    const config = (await (await request("/v1/config")).json()) as { integrations: unknown[] };
    expect(config.integrations).toEqual([
      { name: "acme-monitor", callbackHosts: ["hooks.acme.test", "HOOKS2.acme.test"] },
    ]);
  });

  it("an empty callbackHosts list means no callbacks for that integration", async () => {
    await useConfig({ ...TEST_CONFIG, integrations: [{ name: "acme-monitor", callbackHosts: [] }] });
    const refused = await post(ACME, { externalId: unique("cb"), callbackUrl: "https://hooks.acme.test/cb" });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain("(none)");
    const without = await post(ACME, { externalId: unique("cb") });
    expect(without.status).toBe(202);
  });
});
