import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { parseGithubEvent } from "../../src/channels/github/normalise";
import type { IntakeJob } from "../../src/channels/queue";
import { normaliseSlackEvent } from "../../src/channels/slack/normalise";
import { app } from "../../src/http/app";
import worker from "../../src/index";
import opened1 from "../fixtures/corpus/github/issues.opened.1.json";
import ping from "../fixtures/corpus/github/ping.none.1.json";
import { githubSignature, onIssue } from "./github-helpers";
import { countRows, getTicket, useConfig } from "./helpers";
import {
  DESK_TEAM,
  envelope,
  freshChannel,
  freshTs,
  plain,
  signedHeaders,
  urlVerification,
} from "./slack-fixtures";

/*
 * INTAKE_MODE = "queue" (the default outside the test suites): the Slack and GitHub webhooks answer
 * as soon as the verified event is on INTAKE_QUEUE; the Worker's `queue()` runs the intake.
 */

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

type Json = Record<string, unknown>;

const queueEnv = (overrides: Partial<Env> = {}): Env => ({ ...env, INTAKE_MODE: "queue", ...overrides });

/** A queue that refuses every message, as when the Queues service is unavailable. */
const refusingQueue: Queue = {
  metrics: () => Promise.reject(new Error("queue unavailable")),
  send: () => Promise.reject(new Error("queue unavailable")),
  sendBatch: () => Promise.reject(new Error("queue unavailable")),
};

async function call(path: string, init: RequestInit, bindings: Env) {
  const response = await app.request(`https://desk.test${path}`, init, bindings, createExecutionContext());
  const text = await response.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // not JSON
  }
  return { status: response.status, json };
}

async function slack(body: Json, bindings = queueEnv()) {
  const raw = JSON.stringify(body);
  return call(
    "/webhooks/slack/events",
    {
      method: "POST",
      headers: { "content-type": "application/json", ...(await signedHeaders(raw)) },
      body: raw,
    },
    bindings,
  );
}

async function github(event: string, payload: unknown, delivery: string, bindings = queueEnv()) {
  const raw = JSON.stringify(payload);
  return call(
    "/webhooks/github",
    {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": await githubSignature(raw),
      },
      body: raw,
    },
    bindings,
  );
}

/** The ticket an idempotency key was stored under, once the consumer has run it. */
async function storedTicket(channel: string, key: string): Promise<number | null> {
  const row = await env.DB.prepare(
    "select ticket_number as n from idempotency_keys where channel = ? and key = ?",
  )
    .bind(channel, key)
    .first<{ n: number | null }>();
  return row?.n ?? null;
}

async function eventuallyStored(channel: string, key: string): Promise<number> {
  return vi.waitFor(
    async () => {
      const n = await storedTicket(channel, key);
      if (n === null) throw new Error(`${channel} ${key} is not stored yet`);
      return n;
    },
    { timeout: 15_000, interval: 100 },
  );
}

function slackBody() {
  const ts = freshTs();
  return envelope(plain, { channel: freshChannel(), ts, event_ts: ts, thread_ts: undefined }) as Json & {
    event_id: string;
  };
}

/** The job the Slack route puts on the queue for this envelope. */
function slackJob(body: Json): IntakeJob {
  const event = normaliseSlackEvent(body, { ourTeamId: DESK_TEAM, receivedAt: Date.now() });
  if (event.kind !== "message" && event.kind !== "change") throw new Error(`not a message: ${event.kind}`);
  return { channel: "slack", event };
}

async function messagesWithKey(channel: string, key: string): Promise<number> {
  const row = await env.DB.prepare("select count(*) as n from idempotency_keys where channel = ? and key = ?")
    .bind(channel, key)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The customer's messages on a ticket (the acknowledgement we sent is one too). */
async function inbound(key: string) {
  return (await getTicket(key)).messages.filter((m) => m.direction === "inbound");
}

describe("queue mode: the webhooks acknowledge first", () => {
  it("Slack: a message is answered at once and becomes a ticket through the consumer", async () => {
    const body = slackBody();
    const answer = await slack(body);
    expect(answer.status).toBe(200);
    expect(answer.json).toEqual({ ok: true, queued: true });
    const number = await eventuallyStored("slack", body.event_id);
    const ticket = await getTicket(`SUP-${number}`);
    expect(ticket.messages[0]?.text).toContain(String((body.event as Json).text ?? "").slice(0, 10));
  });

  it("Slack: url_verification and ignored events are still answered synchronously", async () => {
    const sent = vi.fn(() => Promise.reject(new Error("must not be called")));
    const bindings = queueEnv({ INTAKE_QUEUE: { ...refusingQueue, send: sent } });
    const challenge = await slack(urlVerification as Json, bindings);
    expect(challenge).toEqual({ status: 200, json: { challenge: "valid_challenge_token" } });
    const ignored = await slack({ ...slackBody(), event: { type: "reaction_added" } }, bindings);
    expect(ignored.status).toBe(200);
    expect(ignored.json).toMatchObject({ ok: true, ignored: expect.any(String) });
    expect(sent).not.toHaveBeenCalled();
  });

  it("Slack: a queue that refuses the event is a 500, so Slack retries, and nothing is stored", async () => {
    const body = slackBody();
    const before = await countRows("idempotency_keys");
    const answer = await slack(body, queueEnv({ INTAKE_QUEUE: refusingQueue }));
    expect(answer.status).toBe(500);
    expect(answer.json.detail).toMatch(/retry is safe/);
    expect(await storedTicket("slack", body.event_id)).toBeNull();
    expect(await countRows("idempotency_keys")).toBeGreaterThanOrEqual(before);

    // Slack's retry of the same event goes through.
    expect((await slack(body)).status).toBe(200);
    await eventuallyStored("slack", body.event_id);
  });

  it("Slack: signature failures keep their 401 in queue mode", async () => {
    const raw = JSON.stringify(slackBody());
    const answer = await call(
      "/webhooks/slack/events",
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(await signedHeaders(raw, { secret: "not-the-signing-secret" })),
        },
        body: raw,
      },
      queueEnv({ INTAKE_QUEUE: refusingQueue }),
    );
    expect(answer.status).toBe(401);
  });

  it("GitHub: an opened issue is answered 202 at once and becomes a ticket through the consumer", async () => {
    const delivery = crypto.randomUUID();
    const answer = await github("issues", onIssue(opened1), delivery);
    expect(answer.status).toBe(202);
    expect(answer.json).toEqual({ ok: true, queued: true, delivery });
    const number = await eventuallyStored("github", delivery);
    expect((await getTicket(`SUP-${number}`)).status).toBe("open");
  });

  it("GitHub: ping is answered synchronously; a refused send is a 500", async () => {
    const bindings = queueEnv({ INTAKE_QUEUE: refusingQueue });
    const pong = await github("ping", ping, crypto.randomUUID(), bindings);
    expect(pong).toEqual({ status: 200, json: { ok: true, pong: true } });
    const delivery = crypto.randomUUID();
    const refused = await github("issues", onIssue(opened1), delivery, bindings);
    expect(refused.status).toBe(500);
    expect(await storedTicket("github", delivery)).toBeNull();
  });
});

describe("queue(): the intake consumer", () => {
  it("acks a message once its intake is stored; a duplicate delivery stores once", async () => {
    const body = slackBody();
    const job = slackJob(body);
    const batch = createMessageBatch<IntakeJob>("switchboard-intake", [
      { id: "m1", timestamp: Date.now(), attempts: 1, body: job },
      { id: "m2", timestamp: Date.now(), attempts: 1, body: job },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await messagesWithKey("slack", body.event_id)).toBe(1);
    const number = await storedTicket("slack", body.event_id);
    expect(number).not.toBeNull();
    expect(await inbound(`SUP-${number}`)).toHaveLength(1);

    // A later redelivery (at-least-once) changes nothing either.
    const again = createMessageBatch<IntakeJob>("switchboard-intake", [
      { id: "m3", timestamp: Date.now(), attempts: 2, body: job },
    ]);
    const ctx2 = createExecutionContext();
    await worker.queue(again, env);
    expect((await getQueueResult(again, ctx2)).explicitAcks).toEqual(["m3"]);
    expect(await inbound(`SUP-${number}`)).toHaveLength(1);
  });

  it("retries a message whose intake fails, with a growing delay, and stores it on a later attempt", async () => {
    const delivery = crypto.randomUUID();
    const payload = onIssue(opened1);
    const answer = await github("issues", payload, delivery, queueEnv({ INTAKE_QUEUE: refusingQueue }));
    expect(answer.status).toBe(500);
    const parsed = parseGithubEvent("issues", payload);
    if (!parsed.ok || (parsed.event.type !== "issues" && parsed.event.type !== "issue_comment")) {
      throw new Error("the corpus issue does not parse");
    }
    const job: IntakeJob = {
      channel: "github",
      event: parsed.event,
      delivery: { id: delivery, receivedAt: Date.now() },
    };
    const brokenDb = new Proxy(env.DB, {
      get(target, property, receiver) {
        if (property === "batch" || property === "prepare") {
          return () => {
            throw new Error("D1_ERROR: Network connection lost.");
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const failing = createMessageBatch<IntakeJob>("switchboard-intake", [
      { id: "f1", timestamp: Date.now(), attempts: 1, body: job },
      { id: "f3", timestamp: Date.now(), attempts: 3, body: job },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(failing, { ...env, DB: brokenDb });
    const failed = await getQueueResult(failing, ctx);
    expect(failed.explicitAcks).toEqual([]);
    // getQueueResult does not report the delay; the consumer logs it.
    expect(failed.retryMessages.map((m) => m.msgId)).toEqual(["f1", "f3"]);
    const logs = logged.mock.calls.map((args) => String(args[0]));
    expect(logs.some((line) => line.includes("(attempt 1); retrying in 2 s"))).toBe(true);
    expect(logs.some((line) => line.includes("(attempt 3); retrying in 8 s"))).toBe(true);
    expect(await storedTicket("github", delivery)).toBeNull();

    const retried = createMessageBatch<IntakeJob>("switchboard-intake", [
      { id: "f4", timestamp: Date.now(), attempts: 4, body: job },
    ]);
    const ctx2 = createExecutionContext();
    await worker.queue(retried, env);
    expect((await getQueueResult(retried, ctx2)).explicitAcks).toEqual(["f4"]);
    expect(await storedTicket("github", delivery)).not.toBeNull();
  });
});
