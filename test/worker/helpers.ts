import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { type MockInstance, vi } from "vitest";
import { timerStub } from "../../src/timer/client";

export const TOKEN = "test-token-alice";

export function request(path: string, init: RequestInit & { token?: string | null; json?: unknown } = {}) {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? TOKEN : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  return exports.default.fetch(new Request(`https://desk.test${path}`, { ...init, headers, body }));
}

let sequence = 0;
/** A unique suffix per call, so tests never collide on idempotency keys or thread ids. */
export function unique(prefix = "x"): string {
  sequence += 1;
  return `${prefix}-${Date.now().toString(36)}-${sequence}`;
}

export async function postMessage(body: Record<string, unknown>) {
  const response = await request("/v1/messages", {
    method: "POST",
    json: {
      externalId: unique("ext"),
      from: { name: "Ann", email: "ann@example.org" },
      text: "Hello",
      ...body,
    },
  });
  return { response, body: (await response.json()) as Record<string, unknown> };
}

export interface TicketJson {
  key: string;
  number: number;
  status: string;
  priority: string;
  policy: string;
  team: string;
  assignee: string | null;
  customer: string | null;
  visibility: string;
  escalationLevel: number;
  responseDueAt: string | null;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  breached: boolean;
  senderUnverified?: boolean;
  createdAt: string;
  messages: {
    id: string;
    direction: string;
    kind: string;
    author: string;
    text: string;
    delivery: { status: string; error: string | null } | null;
  }[];
  escalations: { kind: string; level: number; target: string; at: string; detail: string | null }[];
  improvements: {
    kind: string;
    title: string;
    url: string | null;
    at: string;
    state: string;
    shippedAt: string | null;
    source: string;
    ref: string | null;
  }[];
}

export async function getTicket(key: string): Promise<TicketJson> {
  const response = await request(`/v1/tickets/${key}`);
  if (response.status !== 200) throw new Error(`GET ${key}: ${response.status} ${await response.text()}`);
  return (await response.json()) as TicketJson;
}

export interface OutboundCall {
  /** Date.now() when the call was made (the faked clock, when a test moves it). */
  at: number;
  url: string;
  host: string;
  method: string;
  body: unknown;
  headers: Headers;
}

/** "SUP-19" is mentioned in "…SUP-19." but not in "SUP-190". */
function mentions(text: string, key: string): boolean {
  return new RegExp(`${key}(?![0-9])`).test(text);
}

type Responder = (call: OutboundCall) => Response | Promise<Response>;

/**
 * Fakes every outbound service at its HTTP boundary (the `*_API_URL` hosts and callback URLs):
 * records each call and answers with `respond` (default: the provider's success answer).
 */
export function fakeOutbound(respond?: Responder) {
  const calls: OutboundCall[] = [];
  const spy: MockInstance<typeof fetch> = vi
    .spyOn(globalThis, "fetch")
    .mockImplementation(async (input, init) => {
      const req = new Request(input, init);
      const url = new URL(req.url);
      const text = await req.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON; keep the text
      }
      const call = {
        at: Date.now(),
        url: req.url,
        host: url.host,
        method: req.method,
        body,
        headers: req.headers,
      };
      calls.push(call);
      if (respond !== undefined) return respond(call);
      if (url.host === "slack.fake") return Response.json({ ok: true, ts: `${Date.now() / 1000}` });
      if (url.host === "pagerduty.fake") return Response.json({ status: "success" }, { status: 202 });
      return new Response(null, { status: 204 });
    });
  return {
    calls,
    spy,
    to: (host: string) => calls.filter((c) => c.host === host),
    /** Calls about one ticket: other tests' tickets may still be retrying in the background. */
    about: (key: string) =>
      calls.filter((c) => {
        const body = c.body as Record<string, unknown> | null;
        if (body === null || typeof body !== "object") return false;
        return body.ticket === key || body.dedup_key === key || mentions(String(body.text ?? ""), key);
      }),
    /** PagerDuty events, about one ticket when a key is given. */
    pagerDuty: (key?: string) =>
      calls
        .filter((c) => c.host === "pagerduty.fake")
        .map((c) => c.body as Record<string, unknown>)
        .filter((b) => key === undefined || b.dedup_key === key),
    /** Slack messages, about one ticket when a key is given (every message we send names its ticket). */
    slack: (key?: string) =>
      calls
        .filter((c) => c.host === "slack.fake")
        .map((c) => c.body as Record<string, unknown>)
        .filter((b) => key === undefined || mentions(JSON.stringify(b), key)),
    restore: () => spy.mockRestore(),
  };
}

export function timer(key: string) {
  const number = Number(key.replace(/^SUP-/, ""));
  return timerStub(env, number);
}

/** Run the ticket's alarm now (what the runtime would do when it is due). */
export async function fireAlarm(key: string): Promise<boolean> {
  await runtimeAlarmSettled(key);
  return runDurableObjectAlarm(timer(key));
}

/**
 * The runtime fires an alarm that is due in real time on its own; running it from the test at the
 * same moment would run it twice at once. So leave a due alarm to the runtime and wait while one
 * runs (the timer then has work in its outbox but no alarm set). Alarms set from a faked `Date`
 * are in the real future: the runtime leaves those to the test.
 */
async function runtimeAlarmSettled(key: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const status = await timer(key).status();
      if (status.outbox > 0 && status.nextAlarm === null) throw new Error("an alarm is running");
      if (status.nextAlarm !== null && status.nextAlarm <= vi.getRealSystemTime()) {
        throw new Error("the runtime is about to fire this alarm");
      }
    },
    { timeout: 3000, interval: 10 },
  );
}

/** A routing document the worker tests share: every team reachable on Slack, one enterprise customer. */
export const TEST_CONFIG = {
  timezone: "UTC",
  defaultTeam: "support",
  teams: [
    { id: "support", name: "Support", slackChannel: "C0SUPPORT", lead: "U0LEAD" },
    { id: "billing", name: "Billing", slackChannel: "C0BILLING", lead: "Bea Lead" },
    {
      id: "platform",
      name: "Platform",
      slackChannel: "C0PLATFORM",
      pagerdutyRoutingKey: "pd-platform",
      linearTeamId: "lin-team-platform",
    },
    { id: "sdk", name: "SDK", slackChannel: "C0SDK" },
    { id: "security", name: "Security", slackChannel: "C0SECURITY" },
  ],
  customers: [
    {
      id: "acme",
      name: "Acme",
      tier: "enterprise",
      emailDomains: ["acme.com"],
      slackTeamIds: ["T0ACME"],
      accountEngineer: { name: "erin", email: "erin@example.com", slackUserId: "U0ERIN" },
    },
    { id: "smallco", name: "SmallCo", tier: "standard", emailDomains: ["small.co"] },
  ],
  agents: [{ id: "alice", name: "Alice", slackUserId: "U0ALICE" }],
  routes: [
    { team: "billing", when: { channel: "email", to: "billing@example.com" } },
    { team: "sdk", when: { githubRepo: "acme/sdk" } },
    { team: "platform", when: { keywords: ["latency", "5xx"] } },
  ],
  criticalKeywords: ["production down", "outage", "sev1", "p0"],
  securityKeywords: ["vulnerability", "security", "cve", "exploit"],
};

export async function useConfig(document: unknown = TEST_CONFIG): Promise<void> {
  const response = await request("/v1/config", { method: "PUT", json: document });
  if (response.status !== 200) throw new Error(`PUT /v1/config: ${response.status} ${await response.text()}`);
}

export async function countRows(table: string): Promise<number> {
  const row = await env.DB.prepare(`select count(*) as n from ${table}`).first<{ n: number }>();
  return row?.n ?? 0;
}

export const HOUR = 3_600_000;

/** Move the clock the Worker and its Durable Objects see (Date only; I/O keeps running for real). */
export function advanceTo(ms: number): void {
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(ms);
}

/**
 * Fire the ticket's alarm and wait until its outbox has made every call that is due now. The
 * runtime may also fire a due alarm by itself, so "done" means the timer has nothing due now
 * (neither a ladder step nor a call); retries scheduled for later stay scheduled.
 */
export async function flush(key: string): Promise<void> {
  await vi.waitFor(
    async () => {
      const status = await timer(key).status();
      if (!status.dueNow) return;
      if (status.nextAlarm !== null) await fireAlarm(key);
      throw new Error("the timer still has work due");
    },
    { timeout: 5000, interval: 20 },
  );
}

export function kinds(ticket: TicketJson): string[] {
  return ticket.escalations.map((e) => e.kind);
}
