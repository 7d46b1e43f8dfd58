import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { createSession, SESSION_COOKIE, sessionKey } from "../../src/http/ui/session";
import { ConsoleBrowser, cspNonce, parseHtml } from "./console-helpers";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  flush,
  HOUR,
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

async function newTicket(body: Record<string, unknown> = {}): Promise<string> {
  const { response, body: json } = await postMessage({ subject: unique("Subject"), ...body });
  expect(response.status).toBe(202);
  return json.ticket as string;
}

describe("console sign-in", () => {
  it("sends / to the sign-in page when signed out and to the queue when signed in", async () => {
    const browser = new ConsoleBrowser();
    const signedOut = await browser.fetch("/");
    expect(signedOut.status).toBe(302);
    expect(signedOut.headers.get("location")).toBe("/login");
    await browser.signIn();
    expect((await browser.fetch("/")).headers.get("location")).toBe("/queue");
  });

  it("sends a signed-out agent to /login and back to the page they asked for", async () => {
    const browser = new ConsoleBrowser();
    const queue = await browser.fetch("/queue?team=platform");
    expect(queue.status).toBe(303);
    expect(queue.headers.get("location")).toBe(`/login?next=${encodeURIComponent("/queue?team=platform")}`);
    const login = await browser.get(queue.headers.get("location") ?? "");
    const page = await parseHtml(login.html);
    expect(page.inputValue("next")).toBe("/queue?team=platform");
    const response = await browser.post("/login", {
      _csrf: page.inputValue("_csrf"),
      token: "test-token-alice",
      next: page.inputValue("next"),
    });
    expect(response.headers.get("location")).toBe("/queue?team=platform");
  });

  it("sets an HttpOnly, Secure, SameSite=Strict session cookie that is signed and never the token", async () => {
    const browser = new ConsoleBrowser();
    const login = await browser.get("/login");
    const loginCookie = login.response.headers.getSetCookie().find((c) => c.startsWith("__Host-sb_login="));
    expect(loginCookie).toMatch(/HttpOnly/i);
    expect(loginCookie).toMatch(/SameSite=Strict/i);
    const response = await browser.post("/login", {
      _csrf: (await parseHtml(login.html)).inputValue("_csrf"),
      token: "test-token-alice",
    });
    expect(response.status).toBe(303);
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith(`${SESSION_COOKIE}=`)) ?? "";
    const attributes = cookie.split(";").map((a) => a.trim().toLowerCase());
    expect(attributes).toEqual(
      expect.arrayContaining(["httponly", "secure", "samesite=strict", "path=/", `max-age=${12 * 3600}`]),
    );
    expect(attributes.some((a) => a.startsWith("domain="))).toBe(false);
    const value = browser.cookies.get(SESSION_COOKIE) ?? "";
    expect(value).not.toContain("test-token-alice");
    const payload = JSON.parse(atob((value.split(".")[0] ?? "").replace(/-/g, "+").replace(/_/g, "/")));
    expect(payload).toMatchObject({ agent: "alice" });
    expect(JSON.stringify(payload)).not.toContain("test-token");
    const queue = await browser.get("/queue");
    expect(queue.response.status).toBe(200);
    expect(queue.html).toContain("Signed in as <strong>alice</strong>");
  });

  it("refuses an unknown token with 401 and no session", async () => {
    const browser = new ConsoleBrowser();
    const login = await browser.get("/login");
    const response = await browser.post("/login", {
      _csrf: (await parseHtml(login.html)).inputValue("_csrf"),
      token: "not-a-token",
    });
    expect(response.status).toBe(401);
    expect(await response.text()).toContain("Unknown agent token.");
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("refuses a sign-in without the login form's CSRF token (login CSRF)", async () => {
    const browser = new ConsoleBrowser();
    await browser.get("/login");
    expect((await browser.post("/login", { token: "test-token-alice" })).status).toBe(403);
    expect((await browser.post("/login", { _csrf: "forged", token: "test-token-alice" })).status).toBe(403);
    const stranger = new ConsoleBrowser();
    const login = await new ConsoleBrowser().get("/login");
    const foreign = (await parseHtml(login.html)).inputValue("_csrf");
    expect((await stranger.post("/login", { _csrf: foreign, token: "test-token-alice" })).status).toBe(403);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    expect(stranger.cookies.has(SESSION_COOKIE)).toBe(false);
  });

  it("follows `next` only to paths on this site", async () => {
    for (const next of [
      "//evil.example/x",
      "https://evil.example/",
      "/\\evil.example",
      "javascript:alert(1)",
    ]) {
      const browser = new ConsoleBrowser();
      const login = await browser.get("/login");
      const response = await browser.post("/login", {
        _csrf: (await parseHtml(login.html)).inputValue("_csrf"),
        token: "test-token-alice",
        next,
      });
      expect(response.headers.get("location")).toBe("/queue");
    }
  });

  it("refuses a tampered, forged or expired session cookie", async () => {
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const value = browser.cookies.get(SESSION_COOKIE) ?? "";
    const [payload = "", signature = ""] = value.split(".");
    const claims = JSON.parse(atob(payload.replace(/-/g, "+").replace(/_/g, "/")));
    const bobPayload = btoa(JSON.stringify({ ...claims, agent: "bob" }))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
    for (const cookie of [`${bobPayload}.${signature}`, `${payload}.AAAA`, "garbage", `${payload}`]) {
      const forged = new ConsoleBrowser();
      forged.cookies.set(SESSION_COOKIE, cookie);
      const response = await forged.fetch("/queue");
      expect(response.status).toBe(303);
      expect(response.headers.get("location")).toMatch(/^\/login/);
    }
    // A cookie signed with some other key (not derived from this desk's tokens) is refused too.
    const otherKey = await sessionKey({ SESSION_SECRET: "someone else's secret" });
    if (otherKey === null) throw new Error("no key");
    const other = new ConsoleBrowser();
    other.cookies.set(SESSION_COOKIE, await createSession(otherKey, "alice", Date.now()));
    expect((await other.fetch("/queue")).status).toBe(303);

    advanceTo(Date.now() + 12 * HOUR + 60_000);
    const expired = await browser.fetch("/queue");
    expect(expired.status).toBe(303);
    expect(expired.headers.get("location")).toMatch(/^\/login/);
  });

  it("signs out with a CSRF-checked POST that clears the cookie", async () => {
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    expect((await browser.post("/logout", {})).status).toBe(403);
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(true);
    const response = await browser.post("/logout", { _csrf: csrf });
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/login");
    expect(browser.cookies.has(SESSION_COOKIE)).toBe(false);
    expect((await browser.fetch("/queue")).status).toBe(303);
  });

  it("uses SESSION_SECRET as the signing key when it is set", async () => {
    const key = await sessionKey({ SESSION_SECRET: "s3cret", API_TOKENS: env.API_TOKENS });
    const derived = await sessionKey({ API_TOKENS: env.API_TOKENS });
    if (key === null || derived === null) throw new Error("no key");
    const cookie = await createSession(key, "alice", Date.now());
    const browser = new ConsoleBrowser();
    browser.cookies.set(SESSION_COOKIE, cookie);
    // The test desk has no SESSION_SECRET, so its key is the one derived from API_TOKENS.
    expect((await browser.fetch("/queue")).status).toBe(303);
    browser.cookies.set(SESSION_COOKIE, await createSession(derived, "alice", Date.now()));
    expect((await browser.fetch("/queue")).status).toBe(200);
  });
  it("with SESSION_SECRET, ends the session of an agent removed from API_TOKENS", async () => {
    const key = await sessionKey({ SESSION_SECRET: "s3cret" });
    if (key === null) throw new Error("no key");
    const cookie = `${SESSION_COOKIE}=${await createSession(key, "alice", Date.now())}`;
    const queue = (tokens: string) =>
      app.request(
        "https://desk.test/queue",
        { headers: { cookie } },
        { ...env, SESSION_SECRET: "s3cret", API_TOKENS: tokens },
      );
    expect((await queue("alice:a-token,bob:b-token")).status).toBe(200);
    const removed = await queue("bob:b-token");
    expect(removed.status).toBe(303);
    expect(removed.headers.getSetCookie().join()).toMatch(/__Host-sb_session=;.*Max-Age=0/i);
  });
});

describe("console CSRF", () => {
  it("rejects every POST without this session's CSRF token and changes nothing", async () => {
    fakeOutbound();
    const key = await newTicket();
    const alice = new ConsoleBrowser();
    const csrf = await alice.signIn();
    const bob = new ConsoleBrowser();
    const bobCsrf = await bob.signIn("test-token-bob");
    expect(bobCsrf).not.toBe(csrf);
    const before = await countRows("messages");
    const posts: [string, Record<string, string>][] = [
      [`/tickets/${key}/replies`, { text: "forged reply", internal: "false" }],
      [`/tickets/${key}`, { status: "resolved" }],
      [`/tickets/${key}/improvements`, { kind: "bug", title: "forged" }],
      [`/tickets/${key}/escalations`, { to: "incident" }],
    ];
    for (const [path, fields] of posts) {
      for (const token of [undefined, "", "forged", bobCsrf]) {
        const response = await alice.post(path, token === undefined ? fields : { ...fields, _csrf: token });
        expect(response.status, `${path} with ${token}`).toBe(403);
      }
    }
    expect(await countRows("messages")).toBe(before);
    const ticket = await (await request(`/v1/tickets/${key}`)).json();
    expect(ticket).toMatchObject({ status: "open", improvements: [], escalations: [] });
    // The same post with the right token goes through.
    const ok = await alice.post(`/tickets/${key}/replies`, {
      text: "real reply",
      internal: "false",
      _csrf: csrf,
    });
    expect(ok.status).toBe(303);
  });
});

describe("console security headers", () => {
  it("serves every console page with a strict nonce CSP, nosniff and same-origin referrers", async () => {
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const key = await newTicket();
    for (const path of ["/login", "/queue", `/tickets/${key}`, "/metrics", "/kb", "/kb?q=anything"]) {
      const { response, html } = await browser.get(path);
      expect(response.status, path).toBe(path === "/login" ? 302 : 200);
      if (response.status !== 200) continue;
      const csp = response.headers.get("content-security-policy") ?? "";
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("object-src 'none'");
      expect(csp).not.toContain("unsafe-inline");
      expect(response.headers.get("x-content-type-options")).toBe("nosniff");
      expect(response.headers.get("referrer-policy")).toBe("same-origin");
      expect(response.headers.get("cache-control")).toBe("no-store");
      const nonce = cspNonce(response);
      for (const script of (await parseHtml(html)).all("script")) expect(script.attrs.nonce).toBe(nonce);
    }
    const login = await new ConsoleBrowser().get("/login");
    expect(login.response.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });

  it("shadows none of the API, health, OpenAPI and survey routes", async () => {
    const health = await request("/healthz", { token: null });
    expect(await health.json()).toEqual({ ok: true });
    expect(health.headers.get("content-security-policy")).toBeNull();
    expect((await request("/openapi.json", { token: null })).headers.get("content-type")).toContain("json");
    const api = await request("/v1/tickets", { token: null });
    expect(api.status).toBe(401);
    expect(api.headers.get("content-type")).toContain("application/problem+json");
    expect((await request("/survey/no-such-token", { token: null })).status).toBe(404);
    expect((await request("/v1/search?q=x", { token: null })).status).toBe(200);
  });
});

describe("console pages", () => {
  it("queue: filters by team, channel, priority, status and breached; breached and soonest-due first", async () => {
    const out = fakeOutbound();
    const marker = unique("queue");
    const t0 = Date.now();
    advanceTo(t0);
    const normal = await newTicket({ subject: `${marker} normal`, text: "hello" });
    const platform = await newTicket({ subject: `${marker} slow`, text: "latency is high" });
    const critical = await newTicket({
      subject: `${marker} down`,
      text: "please help",
      priority: "critical",
    });
    advanceTo(t0 + 2 * HOUR);
    await flush(critical);
    expect(out.pagerDuty(critical).length).toBeGreaterThan(0);
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const order = async (query: string) => {
      const { response, html } = await browser.get(`/queue?q=${encodeURIComponent(marker)}${query}`);
      expect(response.status).toBe(200);
      return (await parseHtml(html))
        .all("tr")
        .flatMap((tr) => (tr.attrs["data-ticket"] ? [tr.attrs["data-ticket"]] : []));
    };
    // The breached critical ticket leads; then the two 24-hour tickets by deadline.
    expect(await order("")).toEqual([critical, normal, platform]);
    expect(await order("&team=platform")).toEqual([platform]);
    expect(await order("&priority=critical")).toEqual([critical]);
    expect(await order("&breached=true")).toEqual([critical]);
    expect(await order("&breached=false")).toEqual([normal, platform]);
    expect(await order("&channel=email")).toEqual([]);
    expect(await order("&channel=api&status=open")).toEqual([critical, normal, platform]);
    const { html } = await browser.get(`/queue?q=${encodeURIComponent(marker)}`);
    expect(html).toContain("SLA breached");
    expect(html).toMatch(
      /<time datetime="[^"]+" data-countdown="" class="overdue"[^>]*>overdue by 1h 0m<\/time>/,
    );
    expect(html).toMatch(/data-countdown=""[^>]*>due in 2\dh/);
    const bad = await browser.get("/queue?status=bogus");
    expect(bad.response.status).toBe(400);
    expect(bad.html).toContain("not valid");
  });

  it("queue: keyset paging keeps the filters and visits every ticket once", async () => {
    fakeOutbound();
    const marker = unique("paging");
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) keys.push(await newTicket({ subject: `${marker} ${i}` }));
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const seen: string[] = [];
    let path: string | null = `/queue?q=${encodeURIComponent(marker)}&limit=2`;
    let pages = 0;
    while (path !== null) {
      const { html } = await browser.get(path);
      const page = await parseHtml(html);
      seen.push(
        ...page.all("tr").flatMap((tr) => (tr.attrs["data-ticket"] ? [tr.attrs["data-ticket"]] : [])),
      );
      const next = page.all("a").find((a) => a.attrs.rel === "next");
      path = next?.attrs.href ?? null;
      if (path !== null) expect(path).toContain(`q=${encodeURIComponent(marker)}`);
      pages += 1;
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(keys);
  });

  it("ticket: reply, internal note, status, priority, team, assignee, improvement, escalations", async () => {
    const out = fakeOutbound((call) =>
      call.host === "linear.fake"
        ? Response.json({
            data: {
              issueCreate: {
                success: true,
                issue: { id: "iss_9", identifier: "PLAT-9", url: "https://linear.app/acme/issue/PLAT-9" },
              },
            },
          })
        : call.host === "pagerduty.fake"
          ? Response.json({ status: "success" }, { status: 202 })
          : call.host === "slack.fake"
            ? Response.json({ ok: true, ts: "1.0" })
            : new Response(null, { status: 204 }),
    );
    const key = await newTicket({
      subject: "Webhooks delayed",
      text: "Our webhooks arrive late.",
      callbackUrl: "https://hooks.customer.test/cb",
    });
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const first = await browser.get(`/tickets/${key}`);
    expect(first.response.status).toBe(200);
    expect(first.html).toContain("Our webhooks arrive late.");
    expect(first.html).toContain(`we have your request as ${key}`);

    const reply = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      internal: "false",
      text: "We restarted the consumer.",
    });
    expect(reply.status).toBe(303);
    expect(reply.headers.get("location")).toMatch(new RegExp(`^/tickets/${key}\\?done=reply#msg-`));
    const note = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      internal: "true",
      text: "Root cause: OOM.",
    });
    expect(note.headers.get("location")).toMatch(/done=note/);
    const empty = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      internal: "false",
      text: "   ",
    });
    expect(empty.headers.get("location")).toContain("error=invalid_reply");

    const page = await parseHtml((await browser.get(`/tickets/${key}?done=note`)).html);
    const articles = page.all("article");
    const staff = articles.find((a) => a.attrs["data-kind"] === "staff");
    const internal = articles.find((a) => a.attrs["data-kind"] === "note");
    expect(staff?.text).toContain("We restarted the consumer.");
    expect(staff?.text).toContain("Public reply");
    expect(internal?.text).toContain("Root cause: OOM.");
    expect(internal?.text).toContain("Internal · not sent to the customer");
    expect(page.elements.find((e) => e.attrs.role === "status")?.text).toContain("Internal note added.");
    await flush(key);
    expect(out.about(key).some((c) => (c.body as { kind?: string }).kind === "reply")).toBe(true);
    expect(out.about(key).some((c) => JSON.stringify(c.body).includes("Root cause"))).toBe(false);

    const update = await browser.post(`/tickets/${key}`, {
      _csrf: csrf,
      status: "pending",
      priority: "high",
      team: "platform",
      assignee: "bob",
    });
    expect(update.headers.get("location")).toContain("done=updated");
    const unknownTeam = await browser.post(`/tickets/${key}`, { _csrf: csrf, team: "nope" });
    expect(unknownTeam.headers.get("location")).toContain("error=unknown_team");

    const improvement = await browser.post(`/tickets/${key}/improvements`, {
      _csrf: csrf,
      kind: "docs",
      title: "Document consumer restarts",
      url: "https://docs.example.com/consumers",
    });
    expect(improvement.headers.get("location")).toContain("done=improvement");
    const badUrl = await browser.post(`/tickets/${key}/improvements`, {
      _csrf: csrf,
      kind: "docs",
      title: "x",
      url: "javascript:alert(1)",
    });
    expect(badUrl.headers.get("location")).toContain("error=invalid_improvement");

    const engineering = await browser.post(`/tickets/${key}/escalations`, { _csrf: csrf, to: "engineering" });
    expect(engineering.headers.get("location")).toContain("done=engineering");
    const incident = await browser.post(`/tickets/${key}/escalations`, { _csrf: csrf, to: "incident" });
    expect(incident.headers.get("location")).toContain("done=incident");

    const resolve = await browser.post(`/tickets/${key}`, { _csrf: csrf, status: "resolved" });
    expect(resolve.headers.get("location")).toContain("done=updated");

    const ticket = (await (await request(`/v1/tickets/${key}`)).json()) as Record<string, unknown>;
    expect(ticket).toMatchObject({
      status: "resolved",
      priority: "high",
      team: "platform",
      assignee: "bob",
      escalationLevel: 4,
    });
    const after = await browser.get(`/tickets/${key}`);
    const parsed = await parseHtml(after.html);
    const history = parsed.elements.find((e) => e.attrs.id === "escalations")?.text ?? "";
    for (const kind of ["reassign", "engineering", "incident"]) expect(history).toContain(kind);
    expect(history).toContain("linear:PLAT-9");
    const improvements = parsed.elements.find((e) => e.attrs.id === "improvements")?.text ?? "";
    expect(improvements).toContain("Document consumer restarts");
    expect(improvements).toContain("PLAT-9");
    expect(parsed.all("a").some((a) => a.attrs.href === "https://linear.app/acme/issue/PLAT-9")).toBe(true);
    expect(parsed.elements.find((e) => e.attrs.id === "customer-effort")?.text).toContain("no answer yet");
    expect(after.html).toContain("Reopen ticket");
    // The survey link is in the ticket's system message.
    expect(after.html).toMatch(/https:\/\/desk\.test\/survey\/[A-Za-z0-9_-]+/);
  });

  it("ticket: says so when Linear is not configured for the team", async () => {
    fakeOutbound();
    const key = await newTicket({ text: "no team linear id here" });
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const response = await browser.post(`/tickets/${key}/escalations`, { _csrf: csrf, to: "engineering" });
    expect(response.headers.get("location")).toContain("error=linear_not_configured");
    const { html } = await browser.get(response.headers.get("location") ?? "");
    expect(html).toContain("Linear is not configured");
  });

  it("ticket: an unknown key is a 404 page", async () => {
    const browser = new ConsoleBrowser();
    await browser.signIn();
    expect((await browser.fetch("/tickets/SUP-99999999")).status).toBe(404);
    expect((await browser.fetch("/tickets/nonsense")).status).toBe(404);
  });

  it("ticket: attachments download through the console session, never inline", async () => {
    const { intake } = await import("../../src/intake");
    const storageKey = `att/${unique("console")}`;
    await env.ATTACHMENTS.put(storageKey, "col1,col2\n1,2\n");
    const result = await intake(env, {
      channel: "email",
      idempotencyKey: unique("mail"),
      threadKeys: [],
      extraThreadKeys: [unique("mid")],
      from: { email: "carol@example.org", name: "Carol" },
      subject: "Export attached",
      text: "See the attached export.",
      context: { recipient: "support@example.com" },
      suppressAcknowledgement: true,
      attachments: [{ filename: "export.csv", contentType: "text/csv", size: 14, storageKey }],
      receivedAt: Date.now(),
    });
    if (!result.ok) throw new Error(result.detail);
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const page = await parseHtml((await browser.get(`/tickets/${result.ticket}`)).html);
    const link = page.all("a").find((a) => a.attrs.download === "export.csv");
    expect(link?.attrs.href).toMatch(/^\/attachments\/[0-9a-f-]+$/);
    const download = await browser.fetch(link?.attrs.href ?? "");
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toMatch(/^attachment;/);
    expect(await download.text()).toBe("col1,col2\n1,2\n");
    const signedOut = await new ConsoleBrowser().fetch(link?.attrs.href ?? "");
    expect(signedOut.status).toBe(303);
  });

  it("metrics: the four metrics with per-channel and per-team SVG charts over a chosen window", async () => {
    fakeOutbound();
    await newTicket({ text: "metrics page ticket" });
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const { response, html } = await browser.get("/metrics");
    expect(response.status).toBe(200);
    const page = await parseHtml(html);
    for (const id of ["first-response", "resolution", "effort", "improvements", "tickets"]) {
      expect(
        page.elements.some((e) => e.attrs["data-metric"] === id),
        id,
      ).toBe(true);
    }
    const svgs = page.all("svg");
    // 14 bar charts for the window (first response, resolution, effort, improvements, shipped
    // changes, promises kept, per channel and per team) and 5 weekly trend lines (SPEC §15).
    expect(svgs.length).toBe(19);
    expect(page.all("tr").filter((tr) => /^\d{4}-W\d{2}/.test(tr.text.trim()))).toHaveLength(12);
    for (const svg of svgs) expect(svg.attrs.role).toBe("img");
    expect(page.elements.some((e) => e.attrs.id === "by-channel-first")).toBe(true);
    expect(page.elements.some((e) => e.attrs.id === "by-team-table")).toBe(true);
    expect(page.all("rect").length).toBeGreaterThan(0);
    const today = new Date().toISOString().slice(0, 10);
    const windowed = await browser.get(`/metrics?from=${today}&to=${today}&channel=api&team=support`);
    expect(windowed.response.status).toBe(200);
    expect(
      Number(
        (await parseHtml(windowed.html)).elements.find((e) => e.attrs["data-metric"] === "tickets")?.text,
      ),
    ).toBeGreaterThan(0);
    const empty = await browser.get("/metrics?from=1999-01-01&to=1999-01-02");
    expect(
      (await parseHtml(empty.html)).elements.find((e) => e.attrs["data-metric"] === "tickets")?.text,
    ).toBe("0");
    const bad = await browser.get("/metrics?from=2030-01-02&to=2030-01-01");
    expect(bad.response.status).toBe(400);
    expect(bad.html).toContain("not valid");
  });

  it("knowledge base: public search and articles of resolved public tickets only", async () => {
    fakeOutbound();
    const word = `zebrafish${Date.now().toString(36)}`;
    const publicKey = await newTicket({
      subject: `How to export ${word}`,
      text: `Export of ${word} fails`,
      visibility: "public",
    });
    const privateKey = await newTicket({
      subject: `Private ${word}`,
      text: `Secret ${word}`,
      visibility: "private",
    });
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    for (const key of [publicKey, privateKey]) {
      await browser.post(`/tickets/${key}/replies`, {
        _csrf: csrf,
        internal: "false",
        text: `Use the CLI for ${word}.`,
      });
      await browser.post(`/tickets/${key}/replies`, {
        _csrf: csrf,
        internal: "true",
        text: "internal only words",
      });
      await browser.post(`/tickets/${key}`, { _csrf: csrf, status: "resolved" });
    }
    const anonymous = new ConsoleBrowser();
    const search = await anonymous.get(`/kb?q=${word}`);
    expect(search.response.status).toBe(200);
    const page = await parseHtml(search.html);
    const links = page.all("a").map((a) => a.attrs.href);
    expect(links).toContain(`/kb/${publicKey}`);
    expect(links).not.toContain(`/kb/${privateKey}`);
    expect(page.all("mark").length).toBeGreaterThan(0);
    expect(search.html).toContain("Agent sign-in");
    const article = await anonymous.get(`/kb/${publicKey}`);
    expect(article.response.status).toBe(200);
    expect(article.html).toContain(`Use the CLI for ${word}.`);
    expect(article.html).not.toContain("internal only words");
    expect(article.html).not.toContain("ann@example.org");
    expect((await anonymous.fetch(`/kb/${privateKey}`)).status).toBe(404);
    expect((await anonymous.get("/kb")).html).not.toContain("answers found");
  });
});
