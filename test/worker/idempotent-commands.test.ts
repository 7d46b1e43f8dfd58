import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { ConsoleBrowser } from "./console-helpers";
import { fakeOutbound, flush, getTicket, postMessage, request, TOKEN, unique, useConfig } from "./helpers";

/**
 * Issue 12: an agent's retry never sends anything twice. `Idempotency-Key` on a reply or an
 * escalation answers with the first result; a failure's 500 says truthfully whether a retry is safe.
 */

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function apiTicket() {
  const callbackUrl = `https://hooks.once.test/${unique("cb")}`;
  const { body } = await postMessage({ callbackUrl, text: "Exports fail" });
  const key = body.ticket as string;
  await flush(key);
  return { key, callbackUrl };
}

function reply(key: string, text: string, idempotencyKey?: string) {
  return request(`/v1/tickets/${key}/replies`, {
    method: "POST",
    json: { text },
    ...(idempotencyKey === undefined ? {} : { headers: { "idempotency-key": idempotencyKey } }),
  });
}

describe("POST /v1/tickets/:key/replies with Idempotency-Key", () => {
  it("a retry returns the first reply, stores one message and sends it once", async () => {
    const out = fakeOutbound();
    const { key, callbackUrl } = await apiTicket();
    const first = await reply(key, "Fixed in 1.2", "retry-1");
    const again = await reply(key, "Fixed in 1.2", "retry-1");
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    const a = (await first.json()) as { message: { id: string } };
    const b = (await again.json()) as { message: { id: string } };
    expect(b.message.id).toBe(a.message.id);
    await flush(key);
    const ticket = await getTicket(key);
    expect(ticket.messages.filter((m) => m.kind === "staff")).toHaveLength(1);
    expect(
      out.calls.filter((c) => c.url === callbackUrl && (c.body as { kind: string }).kind === "reply"),
    ).toHaveLength(1);
  });

  it("racing requests with the same key make one reply", async () => {
    const out = fakeOutbound();
    const { key, callbackUrl } = await apiTicket();
    const answers = await Promise.all([1, 2, 3, 4].map(() => reply(key, "On it", "race-1")));
    expect(answers.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const ids = await Promise.all(
      answers.map(async (r) => ((await r.json()) as { message: { id: string } }).message.id),
    );
    expect(new Set(ids).size).toBe(1);
    await flush(key);
    expect((await getTicket(key)).messages.filter((m) => m.kind === "staff")).toHaveLength(1);
    expect(
      out.calls.filter((c) => c.url === callbackUrl && (c.body as { kind: string }).kind === "reply"),
    ).toHaveLength(1);
  });

  it("the key is the agent's and the ticket's: another ticket or no key is a new reply", async () => {
    fakeOutbound();
    const one = await apiTicket();
    const two = await apiTicket();
    expect((await reply(one.key, "a", "shared")).status).toBe(201);
    const other = await reply(two.key, "b", "shared");
    expect(other.headers.get("idempotent-replayed")).toBeNull();
    await reply(one.key, "c");
    await reply(one.key, "c");
    expect((await getTicket(one.key)).messages.filter((m) => m.kind === "staff")).toHaveLength(3);
  });

  it("refuses a malformed key with 400 and stores nothing", async () => {
    fakeOutbound();
    const { key } = await apiTicket();
    const bad = await reply(key, "x", "x".repeat(201));
    expect(bad.status).toBe(400);
    expect((await getTicket(key)).messages.filter((m) => m.kind === "staff")).toHaveLength(0);
  });
});

describe("POST /v1/tickets/:key/escalations with Idempotency-Key", () => {
  it("a retried incident pages once and records one escalation", async () => {
    const out = fakeOutbound();
    const { key } = await apiTicket();
    const page = () =>
      request(`/v1/tickets/${key}/escalations`, {
        method: "POST",
        json: { to: "incident" },
        headers: { "idempotency-key": "incident-1" },
      });
    expect((await page()).status).toBe(201);
    const again = await page();
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    await flush(key);
    expect((await getTicket(key)).escalations.filter((e) => e.kind === "incident")).toHaveLength(1);
    expect(out.pagerDuty(key).filter((e) => e.event_action === "trigger")).toHaveLength(1);
  });
});

describe("the console sends a fresh idempotency key with each form", () => {
  it("the reply form carries one, and posting the same form twice replies once", async () => {
    fakeOutbound();
    const { key } = await apiTicket();
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const { html } = await browser.get(`/tickets/${key}`);
    const keys = [...html.matchAll(/name="idempotencyKey" value="([^"]+)"/g)].map((m) => m[1] ?? "");
    expect(keys.length).toBeGreaterThanOrEqual(4);
    expect(new Set(keys).size).toBe(keys.length);
    const form = { _csrf: csrf, internal: "false", text: "Console reply", idempotencyKey: keys[0] ?? "" };
    expect((await browser.post(`/tickets/${key}/replies`, form)).status).toBe(303);
    // The browser resubmits the same form (a double click, a retry after a timeout).
    expect((await browser.post(`/tickets/${key}/replies`, form)).status).toBe(303);
    expect((await getTicket(key)).messages.filter((m) => m.kind === "staff")).toHaveLength(1);
  });
});

describe("a 500 tells the truth about retrying", () => {
  function brokenBatch() {
    return new Proxy(env.DB, {
      get(target, property, receiver) {
        if (property === "batch")
          return () => Promise.reject(new Error("D1_ERROR: Network connection lost."));
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  }

  it.each([
    ["a reply without a key", {}, "look at the ticket before you retry"],
    ["a reply with a key", { "idempotency-key": "k-1" }, "Retrying is safe."],
  ])("%s", async (_name, headers, says) => {
    fakeOutbound();
    const { key } = await apiTicket();
    const failed = await app.request(
      `https://desk.test/v1/tickets/${key}/replies`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json", ...headers },
        body: JSON.stringify({ text: "hello" }),
      },
      { ...env, DB: brokenBatch() },
    );
    expect(failed.status).toBe(500);
    expect(((await failed.json()) as { detail: string }).detail).toContain(says);
  });
});
