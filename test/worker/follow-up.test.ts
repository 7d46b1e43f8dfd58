import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { MetricsReport } from "../../src/domain/metrics";
import { intake } from "../../src/intake";
import {
  advanceTo,
  fakeOutbound,
  flush,
  getTicket,
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

const CALLBACK = "https://hooks.customer.test/cb";

async function reply(key: string, text = "Here is what to do.") {
  const response = await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text } });
  expect(response.status).toBe(201);
}

async function resolve(key: string) {
  const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
  expect(response.status).toBe(200);
}

async function answer(url: string, score: number | string) {
  return request(new URL(url).pathname, {
    method: "POST",
    token: null,
    body: new URLSearchParams({ score: String(score) }),
    headers: { "content-type": "application/x-www-form-urlencoded" },
  });
}

describe("GET /v1/metrics", () => {
  it("computes the four metrics for a scripted set of tickets, overall, by channel and by team", async () => {
    const out = fakeOutbound();
    // A window of its own, far from every other test's tickets.
    const T0 = Date.parse("2031-03-01T00:00:00Z") + Math.floor(Math.random() * 1000) * 7 * 86_400_000;
    const at = (ms: number) => advanceTo(T0 + ms);
    const MIN = 60_000;

    at(0);
    const a = (await postMessage({ text: "How do I rotate keys?", callbackUrl: CALLBACK })).body
      .ticket as string;
    at(10 * MIN);
    const b = (await postMessage({ text: "Our p99 latency is bad", callbackUrl: CALLBACK })).body
      .ticket as string;
    at(20 * MIN);
    const c = await intake(env, {
      channel: "email",
      idempotencyKey: unique("mail"),
      threadKeys: [],
      extraThreadKeys: [unique("mid")],
      from: { email: "carol@example.org" },
      subject: "Export question",
      text: "Where is the export?",
      context: { recipient: "support@example.com" },
      suppressAcknowledgement: true,
      receivedAt: Date.now(),
    });
    if (!c.ok) throw new Error(c.detail);
    at(30 * MIN);
    await postMessage({ text: "Nobody answers this one" });
    at(1 * HOUR);
    await reply(a);
    at(2 * HOUR);
    await postMessage({ text: "Not due yet" });
    await resolve(a);
    at(10 * MIN + 3 * HOUR);
    await reply(b);
    at(10 * MIN + 5 * HOUR);
    await resolve(b);
    at(20 * MIN + 25 * HOUR);
    await reply(c.ticket);
    await request(`/v1/tickets/${a}/improvements`, {
      method: "POST",
      json: { kind: "docs", title: "Document key rotation" },
    });

    for (const key of [a, b]) await flush(key);
    const surveyUrl = (key: string): string => {
      const call = out.about(key).find((c) => (c.body as { kind: string }).kind === "survey");
      if (call === undefined) throw new Error(`no survey was sent for ${key}`);
      return (call.body as { url: string }).url;
    };
    expect((await answer(surveyUrl(a), 6)).status).toBe(200);
    expect((await answer(surveyUrl(b), 2)).status).toBe(200);

    at(25 * HOUR + 30 * MIN);
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + 3 * HOUR).toISOString();
    const response = await request(`/v1/metrics?from=${from}&to=${to}`);
    expect(response.status).toBe(200);
    const m = (await response.json()) as MetricsReport;
    expect(m.tickets).toBe(5);
    // First responses: A 1 h, B 3 h, C 25 h (late). D is unanswered past its deadline (a miss);
    // E is not yet due (left out). Interpolated percentiles of [3600, 10800, 90000].
    expect(m.firstResponse.count).toBe(3);
    expect(m.firstResponse.medianSeconds).toBeCloseTo(10_800, 3);
    expect(m.firstResponse.p90Seconds).toBeCloseTo(74_160, 3);
    expect(m.firstResponse.withinTargetRate).toBeCloseTo(2 / 4, 6);
    // Resolutions: A 2 h, B 5 h.
    expect(m.resolution).toEqual({ count: 2, medianSeconds: 12_600, p90Seconds: expect.closeTo(16_920, 3) });
    expect(m.customerEffort).toEqual({ responses: 2, average: 4 });
    expect(m.issuesToImprovements).toEqual({
      resolved: 2,
      withImprovement: 1,
      ratio: 0.5,
      shipped: 0,
      shippedRatio: 0,
    });

    expect(Object.keys(m.byChannel)).toEqual(["api", "email"]);
    expect(m.byChannel.api?.tickets).toBe(4);
    expect(m.byChannel.api?.firstResponse).toMatchObject({
      count: 2,
      medianSeconds: 7_200,
      withinTargetRate: 2 / 3,
    });
    expect(m.byChannel.email?.firstResponse).toMatchObject({
      count: 1,
      medianSeconds: 90_000,
      withinTargetRate: 0,
    });
    expect(m.byChannel.email?.resolution).toEqual({ count: 0, medianSeconds: null, p90Seconds: null });
    expect(Object.keys(m.byTeam)).toEqual(["platform", "support"]);
    expect(m.byTeam.platform).toMatchObject({
      tickets: 1,
      customerEffort: { responses: 1, average: 2 },
      issuesToImprovements: { resolved: 1, withImprovement: 0, ratio: 0, shipped: 0, shippedRatio: 0 },
    });
    expect(m.byTeam.support?.customerEffort).toEqual({ responses: 1, average: 6 });

    const filtered = (await (
      await request(`/v1/metrics?from=${from}&to=${to}&team=platform`)
    ).json()) as MetricsReport;
    expect(filtered.tickets).toBe(1);
    expect(Object.keys(filtered.byTeam)).toEqual(["platform"]);
  });

  it("an empty window has zero counts and null rates", async () => {
    const response = await request("/v1/metrics?from=1990-01-01T00:00:00Z&to=1990-01-02T00:00:00Z");
    expect(await response.json()).toMatchObject({
      tickets: 0,
      firstResponse: { count: 0, medianSeconds: null, p90Seconds: null, withinTargetRate: null },
      issuesToImprovements: { resolved: 0, withImprovement: 0, ratio: null, shipped: 0, shippedRatio: null },
      byChannel: {},
      byTeam: {},
    });
  });

  it("rejects a reversed or malformed window", async () => {
    expect((await request("/v1/metrics?from=2030-01-02T00:00:00Z&to=2030-01-01T00:00:00Z")).status).toBe(400);
    expect((await request("/v1/metrics?from=yesterday")).status).toBe(400);
    expect((await request("/v1/metrics", { token: null })).status).toBe(401);
  });
});

describe("the customer-effort survey", () => {
  it("goes out at resolution with a single-use link; the answer shows on the ticket", async () => {
    const out = fakeOutbound();
    const key = (await postMessage({ callbackUrl: CALLBACK })).body.ticket as string;
    await reply(key);
    await resolve(key);
    await flush(key);
    const survey = out.about(key).find((call) => (call.body as { kind: string }).kind === "survey")?.body as {
      url: string;
      text: string;
    };
    expect(survey.url).toMatch(/^https:\/\/desk\.test\/survey\/[A-Za-z0-9_-]{32}$/);
    expect(survey.text).toContain("How easy was it to get help?");

    const page = await request(new URL(survey.url).pathname, { token: null });
    expect(page.status).toBe(200);
    const html = await page.text();
    // The page is public: it names the ticket only when the ticket is public (this api ticket is not).
    expect(html).not.toContain(key);
    expect(html).toContain("your request");
    expect(html.match(/type="radio"/g)).toHaveLength(7);

    expect((await answer(survey.url, 9)).status).toBe(400);
    expect((await answer(survey.url, 5)).status).toBe(200);
    const again = await answer(survey.url, 1);
    expect(again.status).toBe(409);
    expect(await again.text()).toContain("you already answered");
    const ticket = (await getTicket(key)) as unknown as {
      customerEffort: { score: number; answeredAt: string };
    };
    expect(ticket.customerEffort).toMatchObject({ score: 5, answeredAt: expect.any(String) });
    expect((await request("/survey/not-a-token", { token: null })).status).toBe(404);
  });
});

describe("improvements and escalation", () => {
  it("links an improvement", async () => {
    const key = (await postMessage({})).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/improvements`, {
      method: "POST",
      json: {
        kind: "error_message",
        title: "Say which field is invalid",
        url: "https://github.com/acme/api/issues/9",
      },
    });
    expect(response.status).toBe(201);
    const ticket = (await getTicket(key)) as unknown as { improvements: unknown[] };
    expect(ticket.improvements).toEqual([
      {
        kind: "error_message",
        title: "Say which field is invalid",
        url: "https://github.com/acme/api/issues/9",
        at: expect.any(String),
        state: "open",
        shippedAt: null,
        source: "manual",
        ref: null,
      },
    ]);
    expect(
      (
        await request(`/v1/tickets/${key}/improvements`, {
          method: "POST",
          json: { kind: "wish", title: "" },
        })
      ).status,
    ).toBe(400);
  });

  it("escalating to engineering files a Linear issue and links it as a bug", async () => {
    const out = fakeOutbound((call) =>
      call.host === "linear.fake"
        ? Response.json({
            data: {
              issueCreate: {
                success: true,
                issue: { id: "iss_1", identifier: "PLAT-42", url: "https://linear.app/acme/issue/PLAT-42" },
              },
            },
          })
        : new Response(null, { status: 204 }),
    );
    const key = (
      await postMessage({ subject: "p99 latency doubled", text: "Since Tuesday the p99 latency doubled." })
    ).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/escalations`, {
      method: "POST",
      json: { to: "engineering" },
    });
    expect(response.status).toBe(201);
    const call = out.to("linear.fake")[0];
    expect(call?.url).toBe("https://linear.fake/graphql");
    expect(call?.headers.get("authorization")).toBe("lin_api_test");
    const body = call?.body as {
      query: string;
      variables: { input: { teamId: string; title: string; description: string } };
    };
    expect(body.query).toContain("issueCreate");
    expect(body.variables.input.teamId).toBe("lin-team-platform");
    expect(body.variables.input.title).toBe(`${key}: p99 latency doubled`);
    expect(body.variables.input.description).toContain(`https://desk.test/tickets/${key}`);
    expect(body.variables.input.description).toContain("> Since Tuesday the p99 latency doubled.");
    const ticket = (await response.json()) as {
      escalationLevel: number;
      improvements: unknown[];
      escalations: unknown[];
    };
    expect(ticket.escalationLevel).toBe(3);
    expect(ticket.improvements).toEqual([
      expect.objectContaining({
        kind: "bug",
        url: "https://linear.app/acme/issue/PLAT-42",
        title: "PLAT-42: p99 latency doubled",
      }),
    ]);
    expect(ticket.escalations).toEqual([
      expect.objectContaining({ kind: "engineering", level: 3, target: "linear:PLAT-42" }),
    ]);
  });

  it("records nothing when Linear fails, and says so", async () => {
    fakeOutbound((call) =>
      call.host === "linear.fake"
        ? Response.json({ errors: [{ message: "team not found" }] })
        : new Response(null, { status: 204 }),
    );
    const key = (await postMessage({ text: "latency again" })).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/escalations`, {
      method: "POST",
      json: { to: "engineering" },
    });
    expect(response.status).toBe(502);
    expect(((await response.json()) as { detail: string }).detail).toContain("team not found");
    const ticket = (await getTicket(key)) as unknown as {
      improvements: unknown[];
      escalations: unknown[];
      escalationLevel: number;
    };
    expect([ticket.improvements, ticket.escalations, ticket.escalationLevel]).toEqual([[], [], 2]);
  });

  it("a team without a Linear team id cannot escalate to engineering", async () => {
    fakeOutbound();
    const key = (await postMessage({ text: "plain question" })).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/escalations`, {
      method: "POST",
      json: { to: "engineering" },
    });
    expect(response.status).toBe(409);
  });

  it("declaring an incident pages PagerDuty and raises the level to 4", async () => {
    const out = fakeOutbound();
    const key = (await postMessage({})).body.ticket as string;
    const response = await request(`/v1/tickets/${key}/escalations`, {
      method: "POST",
      json: { to: "incident" },
    });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { escalationLevel: number }).escalationLevel).toBe(4);
    await flush(key);
    expect(out.pagerDuty(key)).toEqual([
      expect.objectContaining({ event_action: "trigger", dedup_key: key }),
    ]);
    await reply(key);
    await flush(key);
    expect(out.pagerDuty(key).map((e) => e.event_action)).toEqual(["trigger", "acknowledge"]);
  });
});

describe("GET /v1/search (knowledge base)", () => {
  it("finds resolved public tickets, ranked, with snippets; never private or unresolved ones", async () => {
    fakeOutbound();
    const word = `zyx${Math.random().toString(36).slice(2, 8)}9`;
    const pub = (
      await postMessage({
        subject: `Webhook ${word} retries`,
        text: `Our ${word} webhooks retry forever`,
        visibility: "public",
      })
    ).body.ticket as string;
    await reply(pub, `Set the ${word} retry limit in settings.`);
    await resolve(pub);
    const priv = (await postMessage({ subject: `Private ${word}`, text: `secret ${word} data` })).body
      .ticket as string;
    await resolve(priv);
    await postMessage({ subject: `Open ${word}`, text: `${word} still open`, visibility: "public" });

    const response = await request(`/v1/search?q=${word}`, { token: null });
    expect(response.status).toBe(200);
    const { results } = (await response.json()) as {
      results: { key: string; snippetHtml: string; snippet: string }[];
    };
    expect(results.map((r) => r.key)).toEqual([pub]);
    expect(results[0]?.snippetHtml).toContain(`<mark>${word}</mark>`);
    expect(results[0]?.snippet).not.toContain("<mark>");

    // Prefix search, and FTS5 syntax in the query is just text.
    const prefix = (await (await request(`/v1/search?q=${word.slice(0, 5)}`, { token: null })).json()) as {
      results: unknown[];
    };
    expect(prefix.results.length).toBeGreaterThan(0);
    for (const q of ['"', "NEAR(a b)", "* OR", "a AND -b", "col:x"]) {
      expect((await request(`/v1/search?q=${encodeURIComponent(q)}`, { token: null })).status, q).toBe(200);
    }

    // A customer writing again reopens it: it leaves the knowledge base.
    await postMessage({ threadId: undefined, externalId: unique("ext"), text: "unrelated" });
    await request(`/v1/tickets/${pub}`, { method: "PATCH", json: { status: "open" } });
    const after = (await (await request(`/v1/search?q=${word}`, { token: null })).json()) as {
      results: unknown[];
    };
    expect(after.results).toEqual([]);
  });

  it("escapes customer text in snippets", async () => {
    fakeOutbound();
    const word = `qq${Math.random().toString(36).slice(2, 8)}`;
    const key = (
      await postMessage({
        subject: `<img src=x onerror=alert(1)> ${word}`,
        text: `<script>alert(1)</script> ${word}`,
        visibility: "public",
      })
    ).body.ticket as string;
    await resolve(key);
    const { results } = (await (await request(`/v1/search?q=${word}`, { token: null })).json()) as {
      results: { snippetHtml: string }[];
    };
    expect(results[0]?.snippetHtml).not.toMatch(/<script|<img/);
    expect(results[0]?.snippetHtml).toContain("&lt;script&gt;");
  });

  it("needs a query", async () => {
    expect((await request("/v1/search", { token: null })).status).toBe(400);
  });
});
