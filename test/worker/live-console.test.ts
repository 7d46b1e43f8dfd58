import { env } from "cloudflare:workers";
import { describe, expect, it, vi } from "vitest";
import { ConsoleBrowser, cspNonce, parseHtml, scriptSurfaces } from "./console-helpers";
import { fakeOutbound, flush, getTicket, postMessage, request, unique } from "./helpers";

async function newTicket(extra: Record<string, unknown> = {}): Promise<string> {
  const { body } = await postMessage({ subject: unique("console"), ...extra });
  return String(body.ticket);
}

describe("GET /v1/metrics/trend", () => {
  it("answers the four metrics per ISO week, oldest first, this week last", async () => {
    await newTicket();
    const response = await request("/v1/metrics/trend?weeks=12");
    expect(response.status).toBe(200);
    const { weeks } = (await response.json()) as {
      weeks: { week: string; from: string; to: string; tickets: number; firstResponse: unknown }[];
    };
    expect(weeks).toHaveLength(12);
    for (const w of weeks) {
      expect(w.week).toMatch(/^\d{4}-W\d{2}$/);
      expect(new Date(w.from).getUTCDay()).toBe(1);
      expect(Date.parse(w.to) - Date.parse(w.from)).toBe(7 * 86_400_000);
      expect(w).toHaveProperty("resolution");
      expect(w).toHaveProperty("customerEffort");
      expect(w).toHaveProperty("issuesToImprovements");
    }
    for (let i = 1; i < weeks.length; i++) expect(weeks[i]?.from).toBe(weeks[i - 1]?.to);
    const last = weeks.at(-1);
    expect(Date.parse(last?.from ?? "")).toBeLessThanOrEqual(Date.now());
    expect(Date.parse(last?.to ?? "")).toBeGreaterThan(Date.now());
    expect(last?.tickets).toBeGreaterThan(0);
    expect((await request("/v1/metrics/trend")).status).toBe(200);
    expect((await request("/v1/metrics/trend?weeks=0")).status).toBe(400);
    expect((await request("/v1/metrics/trend?weeks=53")).status).toBe(400);
    expect((await request("/v1/metrics/trend", { token: null })).status).toBe(401);
  });
});

describe("the live console pages", () => {
  it("carry their script under the page nonce, the feed to follow, and times marked for the browser's zone", async () => {
    const key = await newTicket();
    const browser = new ConsoleBrowser();
    await browser.signIn();
    for (const path of ["/queue", `/tickets/${key}`, "/metrics"]) {
      const { response, html } = await browser.get(path);
      expect(await scriptSurfaces(html, cspNonce(response)), path).toEqual([]);
    }
    const ticket = await parseHtml((await browser.get(`/tickets/${key}`)).html);
    expect(ticket.all("body")[0]?.attrs["data-live"]).toBe(`ticket:${key}`);
    const times = ticket.all("time").filter((t) => t.attrs["data-local"] !== undefined);
    expect(times.length).toBeGreaterThan(0);
    for (const t of times) expect(t.attrs.title).toMatch(/ UTC$/);
    expect(ticket.all("body")[0]?.attrs["data-agent"]).toBe("alice");
    const queue = await parseHtml((await browser.get("/queue")).html);
    expect(queue.all("body")[0]?.attrs["data-live"]).toBe("queue");
  });

  it("the reply form carries the newest message's id; a stale one is refused (409 page) and nothing is sent", async () => {
    const out = fakeOutbound();
    const threadId = unique("thread");
    const { body } = await postMessage({
      threadId,
      text: "first",
      callbackUrl: "https://hooks.customer.test/cb",
    });
    const key = String(body.ticket);
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const page = await parseHtml((await browser.get(`/tickets/${key}`)).html);
    const seen = page.inputValue("ifLastMessageId");
    expect(seen).toBe((await getTicket(key)).messages.at(-1)?.id);
    await postMessage({ threadId, text: "second <b>message</b>" });
    const refused = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      internal: "false",
      text: "my stale answer",
      ifLastMessageId: seen,
    });
    expect(refused.status).toBe(409);
    const html = await refused.text();
    const shown = await parseHtml(html);
    const collision = shown.elements.find((e) => e.attrs.id === "collision");
    expect(collision?.text).toContain("second <b>message</b>");
    expect(collision?.text).toContain("Ann");
    expect(html).not.toContain("<b>message</b>");
    expect(shown.all("textarea").find((t) => t.attrs.id === "reply-text")?.text).toBe("my stale answer");
    const newest = (await getTicket(key)).messages.at(-1)?.id;
    expect(shown.inputValue("ifLastMessageId")).toBe(newest);
    await flush(key);
    expect((await getTicket(key)).messages.filter((m) => m.kind === "staff")).toHaveLength(0);
    // "Send anyway": the form as re-rendered.
    const sent = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      internal: "false",
      text: "my stale answer",
      ifLastMessageId: newest ?? "",
    });
    expect(sent.status).toBe(303);
    await flush(key);
    expect(
      out.to("hooks.customer.test").filter((c) => (c.body as { kind: string }).kind === "reply"),
    ).toHaveLength(1);
  });

  it("Mine lists the signed-in agent's tickets; bulk assign and resolve are one D1 batch, CSRF-checked", async () => {
    fakeOutbound();
    const keys = [await newTicket(), await newTicket(), await newTicket()];
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn("test-token-bob");
    const form = (fields: [string, string][]) => {
      const params = new URLSearchParams(fields);
      return browser.fetch("/queue/bulk", {
        method: "POST",
        body: params,
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    };
    const forged = await form([["action", "resolve"], ...keys.map((k): [string, string] => ["ticket", k])]);
    expect(forged.status).toBe(403);
    for (const k of keys) expect((await getTicket(k)).status).toBe("open");

    const batch = vi.spyOn(env.DB, "batch");
    const assigned = await form([
      ["_csrf", csrf],
      ["action", "assign"],
      ["assignee", "bob"],
      ["back", "/queue?mine=1"],
      ...keys.map((k): [string, string] => ["ticket", k]),
    ]);
    expect(assigned.status).toBe(303);
    expect(assigned.headers.get("location")).toMatch(/^\/queue\?mine=1&bulk=assigned&n=3/);
    // The ticket updates of the action: all of them in one batch() call.
    const sqlOf = (s: unknown) => String((s as { statement?: unknown }).statement ?? "");
    const updating = batch.mock.calls
      .map(([statements]) => statements.filter((s) => /^update "tickets"/i.test(sqlOf(s))).length)
      .filter((n) => n > 0);
    batch.mockRestore();
    expect(updating).toEqual([3]);
    for (const k of keys) expect((await getTicket(k)).assignee).toBe("bob");
    const mine = await parseHtml((await browser.get("/queue?mine=1")).html);
    const rows = mine.elements.filter((e) => e.tag === "tr" && e.attrs["data-ticket"] !== undefined);
    expect(rows.map((r) => r.attrs["data-ticket"]).sort()).toEqual([...keys].sort());

    const unknown = await form([
      ["_csrf", csrf],
      ["action", "assign"],
      ["assignee", "mallory"],
      ["ticket", keys[0] ?? ""],
    ]);
    expect(unknown.headers.get("location")).toContain("bulk=invalid");

    const resolved = await form([
      ["_csrf", csrf],
      ["action", "resolve"],
      ...keys.map((k): [string, string] => ["ticket", k]),
    ]);
    expect(resolved.headers.get("location")).toContain("bulk=resolved&n=3");
    for (const k of keys) {
      await flush(k);
      const t = await getTicket(k);
      expect(t.status).toBe("resolved");
      // Each ticket's survey, as for a single resolve.
      expect(t.messages.filter((m) => m.kind === "system" && m.text.includes("/survey/"))).toHaveLength(1);
    }
    const flash = await parseHtml((await browser.get(resolved.headers.get("location") ?? "/queue")).html);
    expect(flash.elements.find((e) => e.attrs.class?.includes("flash"))?.text).toContain(
      "3 ticket(s) resolved",
    );
  });
});
