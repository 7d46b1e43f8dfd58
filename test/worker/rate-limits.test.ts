import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { ConsoleBrowser, parseHtml } from "./console-helpers";
import { request, TOKEN, useConfig } from "./helpers";

// The budgets of wrangler.toml `[[ratelimits]]` (README "Limits"); Miniflare simulates the binding
// with the same numbers, so each test spends one budget and one request more.
const FAILED_SIGN_INS = 10;
const PUBLIC_REQUESTS = 60;
const PERIOD_MS = 60_000;
/** A burst may first wait out the end of a window (freshWindow). */
const BURST_TIMEOUT_MS = 60_000;

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

let addresses = 0;
/** A client address no other test uses (the simulated limiter keeps its counts for the whole run). */
function newAddress(): string {
  addresses += 1;
  return `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}::${addresses.toString(16)}`;
}

/**
 * The simulated limiter counts in fixed windows on the wall clock (a real clock in another
 * process, which the test cannot move). A burst that straddled a window's end would see its count
 * restart, so a test starts its burst early in a window: it waits out the last few seconds of one.
 */
async function freshWindow(): Promise<void> {
  const left = PERIOD_MS - (Date.now() % PERIOD_MS);
  if (left < 12_000) await new Promise((resolve) => setTimeout(resolve, left + 250));
}

/** A browser at one client address (Cloudflare's edge sets CF-Connecting-IP on every request). */
class BrowserAt extends ConsoleBrowser {
  constructor(readonly ip: string) {
    super();
  }
  override fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("cf-connecting-ip", this.ip);
    return super.fetch(path, { ...init, headers });
  }
  /** One sign-in attempt through the form: the answer's status (303 signed in, 401 refused, 429 locked). */
  async attempt(token: string): Promise<Response> {
    const login = await this.get("/login");
    expect(login.response.status).toBe(200);
    const csrf = (await parseHtml(login.html)).inputValue("_csrf");
    return this.post("/login", { _csrf: csrf, token, next: "/queue" });
  }
}

function api(path: string, ip: string, token: string | null = TOKEN) {
  return request(path, { token, headers: { "cf-connecting-ip": ip } });
}

describe("failed sign-ins", () => {
  it(
    "the console form: past 10 failures a minute the address gets 429 with Retry-After, even with the right token; another address signs in",
    async () => {
      await freshWindow();
      const attacker = new BrowserAt(newAddress());
      for (let i = 0; i < FAILED_SIGN_INS; i++) {
        expect((await attacker.attempt(`guess-${i}`)).status, `guess ${i + 1}`).toBe(401);
      }
      const refused = await attacker.attempt("guess-over");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(refused.headers.get("content-type")).toContain("text/html");
      expect(await refused.text()).toContain("Too many failed sign-ins from your address");
      // A right guess now looks exactly like a wrong one: the lock holds before any token is judged.
      const right = await attacker.attempt(TOKEN);
      expect(right.status).toBe(429);
      expect(right.headers.getSetCookie().some((c) => c.startsWith("__Host-sb_session="))).toBe(false);

      const colleague = new BrowserAt(newAddress());
      expect((await colleague.attempt("typo")).status).toBe(401);
      expect((await colleague.attempt(TOKEN)).status).toBe(303);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    "successful sign-ins do not count: 15 of them, then 10 failures are still 401 and the 11th is 429",
    async () => {
      await freshWindow();
      const ip = newAddress();
      for (let i = 0; i < 15; i++) {
        // A fresh browser each time: a signed-in one is sent from /login to the queue.
        expect((await new BrowserAt(ip).attempt(TOKEN)).status, `sign-in ${i + 1}`).toBe(303);
      }
      const agent = new BrowserAt(ip);
      for (let i = 0; i < FAILED_SIGN_INS; i++) {
        expect((await agent.attempt(`typo-${i}`)).status, `typo ${i + 1}`).toBe(401);
      }
      expect((await agent.attempt("typo-over")).status).toBe(429);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    "bearer tokens: a wrong token is a failure (problem+json 429 past the budget); requests with a good token never count",
    async () => {
      await freshWindow();
      const integration = newAddress();
      for (let i = 0; i < 25; i++) {
        expect((await api("/v1/tickets?limit=1", integration)).status, `good call ${i + 1}`).toBe(200);
      }
      // No token at all is not a guess: it is not counted either.
      for (let i = 0; i < 3; i++) expect((await api("/v1/tickets", integration, null)).status).toBe(401);
      for (let i = 0; i < FAILED_SIGN_INS; i++) {
        expect((await api("/v1/tickets", integration, `wrong-${i}`)).status, `wrong ${i + 1}`).toBe(401);
      }
      const refused = await api("/v1/tickets", integration, "wrong-over");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      expect(((await refused.json()) as { detail: string }).detail).toMatch(/too many failed sign-ins/i);
      expect((await api("/v1/tickets", integration)).status).toBe(429);
      expect((await api("/v1/tickets?limit=1", newAddress())).status).toBe(200);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    "the form and bearer tokens share one budget per address",
    async () => {
      await freshWindow();
      const ip = newAddress();
      const browser = new BrowserAt(ip);
      for (let i = 0; i < FAILED_SIGN_INS / 2; i++)
        expect((await browser.attempt(`form-${i}`)).status).toBe(401);
      for (let i = 0; i < FAILED_SIGN_INS / 2; i++) {
        expect((await api("/v1/tickets", ip, `bearer-${i}`)).status).toBe(401);
      }
      expect((await browser.attempt("one-more")).status).toBe(429);
      expect((await api("/v1/tickets", ip)).status).toBe(429);
    },
    BURST_TIMEOUT_MS,
  );
});

describe("public endpoints", () => {
  it(
    "/v1/search: 60 a minute per address, then problem+json 429 with Retry-After; another address still searches",
    async () => {
      await freshWindow();
      const ip = newAddress();
      for (let i = 0; i < PUBLIC_REQUESTS; i++) {
        expect((await api(`/v1/search?q=printer${i}`, ip, null)).status, `search ${i + 1}`).toBe(200);
      }
      const refused = await api("/v1/search?q=printer", ip, null);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      expect((await api("/v1/search?q=printer", newAddress(), null)).status).toBe(200);
      // Each surface has its own budget: the same address still reads the knowledge base.
      expect((await new BrowserAt(ip).fetch("/kb")).status).toBe(200);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    "/kb and /kb/*: one budget, then a small HTML page with 429 and Retry-After",
    async () => {
      await freshWindow();
      const reader = new BrowserAt(newAddress());
      for (let i = 0; i < PUBLIC_REQUESTS; i++) {
        const path = i % 2 === 0 ? `/kb?q=router${i}` : "/kb/SUP-999999";
        const response = await reader.fetch(path);
        expect(response.status, `${path} (${i + 1})`).toBe(i % 2 === 0 ? 200 : 404);
        await response.body?.cancel();
      }
      const refused = await reader.fetch("/kb");
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(refused.headers.get("content-type")).toContain("text/html");
      expect(await refused.text()).toContain("Too many requests");
      expect((await reader.fetch("/kb/SUP-1")).status).toBe(429);
      expect((await new BrowserAt(newAddress()).fetch("/kb")).status).toBe(200);
    },
    BURST_TIMEOUT_MS,
  );

  it(
    "/survey/*: GET and POST share the budget; then 429 with Retry-After",
    async () => {
      await freshWindow();
      const ip = newAddress();
      for (let i = 0; i < PUBLIC_REQUESTS; i++) {
        const response =
          i % 2 === 0
            ? await api(`/survey/not-a-token-${i}`, ip, null)
            : await request(`/survey/not-a-token-${i}`, {
                token: null,
                method: "POST",
                headers: { "cf-connecting-ip": ip, "content-type": "application/x-www-form-urlencoded" },
                body: "score=5",
              });
        expect(response.status, `survey request ${i + 1}`).toBe(404);
        await response.body?.cancel();
      }
      const refused = await api("/survey/not-a-token", ip, null);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(await refused.text()).toContain("Too many requests");
      expect((await api("/survey/not-a-token", newAddress(), null)).status).toBe(404);
    },
    BURST_TIMEOUT_MS,
  );
});

describe("the public quality report", () => {
  it(
    "/v1/quality and /quality share one budget; then 429 with Retry-After",
    async () => {
      await freshWindow();
      const ip = newAddress();
      for (let i = 0; i < PUBLIC_REQUESTS; i++) {
        const response = await api(i % 2 === 0 ? "/v1/quality" : "/quality", ip, null);
        expect(response.status, `quality request ${i + 1}`).toBe(200);
        await response.body?.cancel();
      }
      const refused = await api("/v1/quality", ip, null);
      expect(refused.status).toBe(429);
      expect(refused.headers.get("retry-after")).toBe("60");
      expect(refused.headers.get("content-type")).toContain("application/problem+json");
      const page = await api("/quality", ip, null);
      expect(page.status).toBe(429);
      expect(await page.text()).toContain("Too many requests");
      expect((await api("/v1/quality", newAddress(), null)).status).toBe(200);
    },
    BURST_TIMEOUT_MS,
  );
});

describe("a deploy without the rate-limit bindings", () => {
  it("serves every limited route, unlimited, without crashing", async () => {
    const unbound = { ...env, RATE_LIMIT_PUBLIC: undefined, RATE_LIMIT_SIGNIN: undefined } as unknown as Env;
    const ip = newAddress();
    const call = async (path: string, init: RequestInit = {}) => {
      const ctx = createExecutionContext();
      const headers = new Headers(init.headers);
      headers.set("cf-connecting-ip", ip);
      const response = await app.fetch(
        new Request(`https://desk.test${path}`, { ...init, headers }),
        unbound,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return response;
    };
    for (let i = 0; i < FAILED_SIGN_INS + 2; i++) {
      expect((await call("/v1/tickets", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
    }
    expect(
      (await call("/v1/tickets?limit=1", { headers: { authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(200);
    for (const path of ["/v1/search?q=anything", "/kb", "/survey/nope", "/v1/quality", "/quality"]) {
      expect([200, 404]).toContain((await call(path)).status);
    }
  });
});
