import { env } from "cloudflare:workers";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { apiOutbound, type CallbackDelivery, postCallback } from "../../src/channels/api/reply";
import readmeReceiver from "../fixtures/callback-receiver";
import { advanceTo, flush, getTicket, postMessage, request, timer, unique, useConfig } from "./helpers";

/**
 * SPEC §3: every `api` callback is signed by the Standard Webhooks scheme with
 * CALLBACK_SIGNING_SECRET, and a callback sent again keeps its `webhook-id`. Checked with the
 * scheme's own reference library (`standardwebhooks`), the way a receiver would check it.
 */

interface Received {
  url: string;
  raw: string;
  headers: Record<string, string>;
  at: number;
}

/** Every callback as its receiver gets it: the raw body bytes and the headers. */
function receiver(
  respond: (call: Received, index: number) => Response | Promise<Response> = () =>
    new Response(null, { status: 204 }),
) {
  const received: Received[] = [];
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input, init);
    const call = {
      url: req.url,
      raw: await req.text(),
      headers: Object.fromEntries(req.headers),
      at: Date.now(),
    };
    received.push(call);
    if (new URL(req.url).hostname.endsWith(".fake")) return Response.json({ ok: true, ts: "1.0" });
    return respond(call, received.filter((r) => r.url === call.url).length - 1);
  });
  return {
    received,
    at: (url: string) => received.filter((r) => r.url === url),
  };
}

const receiverKey = new Webhook(env.CALLBACK_SIGNING_SECRET);

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("signed callbacks (Standard Webhooks)", () => {
  it("every callback verifies with the standardwebhooks library, and the verified body is what was sent", async () => {
    const hooks = receiver();
    const url = `https://hooks.sign.test/${unique("cb")}`;
    const { body } = await postMessage({ callbackUrl: url, text: "Exports fail" });
    const key = body.ticket as string;
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed in 2.3.1" } });
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
    await flush(key);

    const calls = hooks.at(url);
    expect(calls.map((c) => (JSON.parse(c.raw) as { kind: string }).kind)).toEqual([
      "acknowledgement",
      "reply",
      "survey",
    ]);
    for (const call of calls) {
      expect(call.headers["webhook-id"]).toMatch(/^msg_[0-9a-f-]{36}$/);
      expect(call.headers["webhook-timestamp"]).toMatch(/^\d{10}$/);
      expect(Math.abs(Number(call.headers["webhook-timestamp"]) - call.at / 1000)).toBeLessThan(2);
      expect(call.headers["webhook-signature"]).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      expect(receiverKey.verify(call.raw, call.headers)).toEqual(JSON.parse(call.raw));
    }
    expect(new Set(calls.map((c) => c.headers["webhook-id"])).size).toBe(3);
    expect(JSON.parse(calls[1]?.raw ?? "{}")).toEqual({ ticket: key, kind: "reply", text: "Fixed in 2.3.1" });
  });

  it("the README's receiver answers 204 to each callback the desk sends, and 401 to a forged one", async () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const answers: number[] = [];
    const hooks = receiver((call) => {
      const forwarded = new Request(call.url, { method: "POST", headers: call.headers, body: call.raw });
      return readmeReceiver.fetch(forwarded, env).then((r) => {
        answers.push(r.status);
        return r;
      });
    });
    const url = `https://hooks.sign.test/${unique("cb")}`;
    const { body } = await postMessage({ callbackUrl: url, text: "Exports fail" });
    const key = body.ticket as string;
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed" } });
    await flush(key);
    expect(answers).toEqual([204, 204]);
    expect((await getTicket(key)).messages.map((m) => m.delivery?.status ?? null)).toEqual([
      null,
      "sent",
      "sent",
    ]);
    expect(log).toHaveBeenCalledWith(expect.stringMatching(new RegExp(`^msg_.*: reply on ${key}: Fixed$`)));
    const [first] = hooks.at(url);
    const forged = new Request(url, {
      method: "POST",
      headers: first?.headers ?? {},
      body: first?.raw.replace("Thanks", "Pay us") ?? "",
    });
    expect((await readmeReceiver.fetch(forged, env)).status).toBe(401);
  });

  it("a changed body, a changed id, another secret or a stale timestamp does not verify", async () => {
    const hooks = receiver();
    const url = `https://hooks.sign.test/${unique("cb")}`;
    const { body } = await postMessage({ callbackUrl: url, text: "Exports fail" });
    await flush(body.ticket as string);
    const [call] = hooks.at(url);
    if (call === undefined) throw new Error("no callback");
    const forged = call.raw.replace("Thanks", "Thank");
    expect(() => receiverKey.verify(forged, call.headers)).toThrow(WebhookVerificationError);
    expect(() => receiverKey.verify(call.raw, { ...call.headers, "webhook-id": "msg_other" })).toThrow(
      WebhookVerificationError,
    );
    const otherSecret = new Webhook(`whsec_${btoa("someone else's key, 32 bytes!!!!")}`);
    expect(() => otherSecret.verify(call.raw, call.headers)).toThrow(WebhookVerificationError);
    // The receiver's replay window (5 minutes in the library): an old capture is refused.
    advanceTo(call.at + 10 * 60_000);
    expect(() => receiverKey.verify(call.raw, call.headers)).toThrow(/too old/);
  });

  it("a retried callback keeps its webhook-id and is signed again with a fresh timestamp", async () => {
    const hooks = receiver((_call, index) =>
      index < 2 ? new Response("busy", { status: 503 }) : new Response(null, { status: 204 }),
    );
    const url = `https://hooks.sign.test/${unique("cb")}`;
    const { body } = await postMessage({ callbackUrl: url, text: "Exports fail" });
    const key = body.ticket as string;
    for (let i = 0; i < 5 && hooks.at(url).length < 3; i++) {
      await flush(key);
      const { nextAlarm, outbox } = await timer(key).status();
      if (outbox === 0 || nextAlarm === null) break;
      advanceTo(nextAlarm);
    }
    const attempts = hooks.at(url);
    expect(attempts).toHaveLength(3);
    expect(new Set(attempts.map((a) => a.headers["webhook-id"])).size).toBe(1);
    expect(new Set(attempts.map((a) => a.headers["webhook-timestamp"])).size).toBe(3);
    expect(new Set(attempts.map((a) => a.raw)).size).toBe(1);
    for (const attempt of attempts) {
      advanceTo(attempt.at);
      expect(receiverKey.verify(attempt.raw, attempt.headers)).toMatchObject({ ticket: key });
    }
    const ticket = await getTicket(key);
    expect(ticket.messages.find((m) => m.kind === "system")?.delivery?.status).toBe("sent");
  });

  it("the id is fixed when the call is composed: composing the same message again gives the same id", () => {
    const target = {
      key: "SUP-7",
      channel: "api" as const,
      callbackUrl: "https://hooks.sign.test/cb",
      subject: "s",
      requesterName: null,
      requesterEmail: null,
      channelName: null,
    };
    const message = { kind: "reply" as const, text: "Hi", messageId: "5f0c1f7e-0000-4000-8000-000000000001" };
    const first = apiOutbound.compose(target, message);
    const again = apiOutbound.compose(target, message);
    const other = apiOutbound.compose(target, {
      ...message,
      messageId: "5f0c1f7e-0000-4000-8000-000000000002",
    });
    expect(first?.delivery).toMatchObject({ webhookId: "msg_5f0c1f7e-0000-4000-8000-000000000001" });
    expect(again?.delivery).toEqual(first?.delivery);
    expect(other?.delivery).not.toMatchObject({ webhookId: "msg_5f0c1f7e-0000-4000-8000-000000000001" });
  });

  it("a call composed before webhookId existed still gets one stable id across attempts", async () => {
    const hooks = receiver();
    const legacy: CallbackDelivery = {
      service: "callback",
      url: "https://hooks.sign.test/legacy",
      body: { ticket: "SUP-1", kind: "reply", text: "Hi" },
    };
    await postCallback(env, legacy);
    await postCallback(env, legacy);
    const [a, b] = hooks.at(legacy.url);
    expect(a?.headers["webhook-id"]).toMatch(/^msg_legacy_[0-9a-f]{32}$/);
    expect(b?.headers["webhook-id"]).toBe(a?.headers["webhook-id"]);
    expect(receiverKey.verify(a?.raw ?? "", a?.headers ?? {})).toEqual(legacy.body);
  });

  it.each([
    ["unset", undefined, "CALLBACK_SIGNING_SECRET is not set"],
    ["empty", "", "CALLBACK_SIGNING_SECRET is not set"],
    ["not whsec_", "hunter2", "CALLBACK_SIGNING_SECRET is not whsec_ followed by a base64 key"],
    ["not base64", "whsec_!!!", "CALLBACK_SIGNING_SECRET is not whsec_ followed by a base64 key"],
  ])(
    "without a usable secret (%s) the callback is skipped, never sent unsigned",
    async (_, secret, reason) => {
      const hooks = receiver();
      const delivery: CallbackDelivery = {
        service: "callback",
        url: "https://hooks.sign.test/unsigned",
        body: { ticket: "SUP-1", kind: "reply", text: "Hi" },
        webhookId: "msg_x",
      };
      expect(await apiOutbound.send({ CALLBACK_SIGNING_SECRET: secret }, delivery)).toEqual({
        ok: "skipped",
        reason: `${reason}: callbacks are only sent signed`,
      });
      expect(hooks.received).toEqual([]);
    },
  );
});
