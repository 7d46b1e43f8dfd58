import fc from "fast-check";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { discordSignature, postDiscord } from "./discord-helpers";
import { corpusEmail, corpusEmailNames, deliverEmail } from "./email-helpers";
import { postGithub } from "./github-helpers";
import { countRows, fakeOutbound, request, TEST_CONFIG, useConfig } from "./helpers";
import { postEvent, signedHeaders } from "./slack-fixtures";

/**
 * Hostile input, generated: every verifier and normaliser answers 2xx or 4xx — never an unhandled
 * exception, never a 5xx — and a rejected request writes nothing.
 */

const TABLES = [
  "tickets",
  "messages",
  "idempotency_keys",
  "thread_keys",
  "attachments",
  "quarantine",
  "config",
];
const counts = () => Promise.all(TABLES.map(countRows));
const RUNS = 40;

beforeAll(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const json = fc.jsonValue({ maxDepth: 4 });
const validApi = fc.record({
  externalId: fc.string({ minLength: 1, maxLength: 40 }),
  threadId: fc.option(fc.string({ minLength: 1, maxLength: 40 }), { nil: undefined }),
  from: fc.record({ name: fc.option(fc.string({ maxLength: 30 }), { nil: undefined }) }),
  subject: fc.option(fc.string({ maxLength: 80 }), { nil: undefined }),
  text: fc.string({ minLength: 1, maxLength: 200 }),
  priority: fc.option(fc.constantFrom("critical", "high", "normal", "low"), { nil: undefined }),
});

/** A valid document with one field replaced by anything, or one field removed. */
function mutated<T extends Record<string, unknown>>(valid: fc.Arbitrary<T>) {
  return fc.tuple(valid, fc.nat(), json, fc.boolean()).map(([doc, pick, value, remove]) => {
    const keys = Object.keys(doc);
    const key = keys[pick % Math.max(keys.length, 1)] ?? "x";
    const copy: Record<string, unknown> = { ...doc };
    if (remove) delete copy[key];
    else copy[key] = value;
    return copy;
  });
}

describe("POST /v1/messages", () => {
  it("answers random JSON with 202/200/400 and writes nothing when it refuses", async () => {
    fakeOutbound();
    await fc.assert(
      fc.asyncProperty(fc.oneof(json, mutated(validApi), validApi), async (body) => {
        const before = await counts();
        const response = await request("/v1/messages", { method: "POST", json: body });
        expect([200, 202, 400]).toContain(response.status);
        if (response.status === 400) expect(await counts()).toEqual(before);
      }),
      { numRuns: RUNS },
    );
  });

  it("answers random bytes with 4xx", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 300 }),
        fc.constantFrom("application/json", "text/plain", ""),
        async (bytes, type) => {
          const before = await counts();
          const response = await request("/v1/messages", {
            method: "POST",
            body: bytes,
            headers: type === "" ? {} : { "content-type": type },
          });
          expect(response.status).toBeGreaterThanOrEqual(400);
          expect(response.status).toBeLessThan(500);
          expect(await counts()).toEqual(before);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it("answers an oversized body with 413", async () => {
    const response = await request("/v1/messages", {
      method: "POST",
      body: "{".padEnd(1024 * 1024 + 1, " "),
      headers: { "content-type": "application/json" },
    });
    expect(response.status).toBe(413);
  });
});

describe("PUT /v1/config", () => {
  it("answers 200 or 400; a refused document leaves the configuration as it was", async () => {
    const configArb = fc.constant(TEST_CONFIG as unknown as Record<string, unknown>);
    await fc.assert(
      fc.asyncProperty(fc.oneof(json, mutated(configArb)), async (document) => {
        const before = await (await request("/v1/config")).text();
        const response = await request("/v1/config", { method: "PUT", json: document });
        expect([200, 400]).toContain(response.status);
        if (response.status === 400) expect(await (await request("/v1/config")).text()).toBe(before);
        await useConfig();
      }),
      { numRuns: RUNS },
    );
  });
});

describe("the email() handler", () => {
  const names = corpusEmailNames();
  it("never throws on mutated corpus mail, and stores each message whole or not at all", async () => {
    fakeOutbound();
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: names.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 20 }),
        fc.option(fc.nat(), { nil: undefined }),
        async (index, flips, cut) => {
          const original = corpusEmail(names[index] ?? "");
          let bytes = original.slice();
          for (const [at, value] of flips) bytes[at % bytes.length] = value;
          if (cut !== undefined) bytes = bytes.slice(0, cut % (bytes.length + 1));
          // A fresh Message-ID so each mutation is a new message, not a replay of the corpus file.
          const unique = new TextEncoder().encode(
            `Message-ID: <fuzz-${crypto.randomUUID()}@fuzz.example>\r\n`,
          );
          const raw = new Uint8Array(unique.length + bytes.length);
          raw.set(unique);
          raw.set(bytes, unique.length);
          const before = await countRows("idempotency_keys");
          const result = await deliverEmail(raw);
          const after = await countRows("idempotency_keys");
          // Either refused (not ours / too large) or stored exactly once.
          expect(after - before).toBe(result.rejected === null ? 1 : 0);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("signature bypass attempts", () => {
  const issue = {
    action: "opened",
    issue: {
      id: 1,
      number: 1,
      title: "t",
      body: "b",
      user: { login: "x", type: "User" },
      author_association: "NONE",
    },
    repository: { full_name: "acme/sdk", name: "sdk", owner: { login: "acme" } },
    sender: { login: "x", type: "User" },
  };

  it.each([
    ["missing", null],
    ["empty", ""],
    ["wrong algorithm prefix", "sha1=0123456789abcdef0123456789abcdef01234567"],
    ["no prefix", "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"],
    ["right prefix, wrong mac", `sha256=${"0".repeat(64)}`],
    ["truncated", "sha256=abc"],
  ])("GitHub: %s signature → 401, nothing stored", async (_name, signature) => {
    const before = await counts();
    const { status } = await postGithub("issues", issue, { signature });
    expect(status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("GitHub: a signature for other bytes → 401", async () => {
    const before = await counts();
    const { githubSignature } = await import("./github-helpers");
    const { status } = await postGithub("issues", issue, {
      signature: await githubSignature(JSON.stringify({ ...issue, x: 1 })),
    });
    expect(status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("GitHub: random signed bodies answer 2xx or 4xx", async () => {
    fakeOutbound();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom("issues", "issue_comment", "ping", "push", ""),
        fc.oneof(json, mutated(fc.constant(issue))),
        async (event, body) => {
          const { status } = await postGithub(event, body);
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it.each([
    ["missing signature", { signature: null }],
    ["empty signature", { signature: "" }],
    ["missing timestamp", { timestamp: null }],
    ["non-hex signature", { signature: "z".repeat(128) }],
    ["short signature", { signature: "ab".repeat(10) }],
  ])("Discord: %s → 401", async (_name, options) => {
    const { status } = await postDiscord(
      { type: 1 },
      options as { signature?: string | null; timestamp?: string | null },
    );
    expect(status).toBe(401);
  });

  it("Discord: a signature over another timestamp → 401", async () => {
    const body = JSON.stringify({ type: 1 });
    const signature = await discordSignature("1700000000", body);
    const { status } = await postDiscord({ type: 1 }, { body, signature, timestamp: "1700000001" });
    expect(status).toBe(401);
  });

  it("Discord: random signed bodies answer 2xx or 4xx", async () => {
    fakeOutbound();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(json, fc.record({ type: fc.integer({ min: -1, max: 9 }), id: fc.string(), data: json })),
        async (body) => {
          const { status } = await postDiscord(body);
          expect(status).toBeGreaterThanOrEqual(200);
          expect(status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("Slack", () => {
  const body = JSON.stringify({
    type: "event_callback",
    event_id: "EvHOSTILE",
    event: { type: "message", text: "hi" },
  });
  it.each([
    ["missing", {}],
    [
      "empty",
      { "x-slack-signature": "", "x-slack-request-timestamp": String(Math.floor(Date.now() / 1000)) },
    ],
    [
      "wrong version prefix",
      {
        "x-slack-signature": `v1=${"0".repeat(64)}`,
        "x-slack-request-timestamp": String(Math.floor(Date.now() / 1000)),
      },
    ],
    [
      "non-numeric timestamp",
      { "x-slack-signature": `v0=${"0".repeat(64)}`, "x-slack-request-timestamp": "soon" },
    ],
  ])("%s signature → 401, nothing stored", async (_name, headers) => {
    const before = await counts();
    const response = await request("/webhooks/slack/events", {
      method: "POST",
      token: null,
      body,
      headers: { "content-type": "application/json", ...headers },
    });
    expect(response.status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("a correct signature over a stale timestamp → 401", async () => {
    const stale = Math.floor(Date.now() / 1000) - 6 * 60;
    const { response } = await postEvent(body, { headers: await signedHeaders(body, { timestamp: stale }) });
    expect(response.status).toBe(401);
  });

  it("random signed bodies answer 2xx or 4xx", async () => {
    fakeOutbound();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          json,
          fc.record({
            type: fc.constantFrom("event_callback", "url_verification", "app_rate_limited", "x"),
            event_id: fc.string({ maxLength: 20 }),
            challenge: fc.string(),
            event: fc.oneof(
              json,
              fc.record({
                type: fc.constantFrom("message", "app_mention"),
                subtype: fc.option(fc.string(), { nil: undefined }),
                channel: fc.string(),
                ts: fc.string(),
                text: fc.string(),
                user: fc.string(),
              }),
            ),
          }),
        ),
        async (payload) => {
          const { response } = await postEvent(JSON.stringify(payload));
          expect(response.status).toBeGreaterThanOrEqual(200);
          expect(response.status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
  });
});
