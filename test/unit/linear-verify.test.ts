import { createHmac } from "node:crypto";
import { LinearWebhookClient } from "@linear/sdk/webhooks";
import { describe, expect, it } from "vitest";
import { linearIssueRef, ticketMentions } from "../../src/domain/improvements";
import { linearSignature } from "../../src/integrations/linear/verify";

/**
 * Our `Linear-Signature` is what Linear sends: @linear/sdk's own verifier (which runs here, in
 * Node) accepts the signatures we compute and refuses tampered bodies and stale timestamps, as ours
 * does in the Worker (test/worker/engineering-loop.test.ts).
 */
describe("Linear-Signature", () => {
  const secret = "lin_wh_test_secret";
  const client = new LinearWebhookClient(secret);

  it("is accepted by @linear/sdk's LinearWebhookClient for a fresh body", async () => {
    const body = JSON.stringify({ type: "Issue", action: "update", webhookTimestamp: Date.now(), data: {} });
    const signature = await linearSignature(secret, body);
    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(client.verify(Buffer.from(body), signature)).toBe(true);
  });

  it("does not verify another body, and the SDK too refuses a timestamp more than 60 s away", async () => {
    const body = JSON.stringify({ type: "Issue", action: "update", webhookTimestamp: Date.now(), data: {} });
    const signature = await linearSignature(secret, body);
    expect(() => client.verify(Buffer.from(body.replace("update", "create")), signature)).toThrow(
      /signature/,
    );
    const stale = JSON.stringify({ type: "Issue", action: "update", webhookTimestamp: Date.now() - 61_000 });
    const staleSignature = await linearSignature(secret, stale);
    // Node's own HMAC agrees with our Web Crypto one.
    expect(staleSignature).toBe(createHmac("sha256", secret).update(stale).digest("hex"));
    expect(() => client.verify(Buffer.from(stale), staleSignature)).toThrow(/timestamp/);
  });
});

describe("linearIssueRef", () => {
  it.each([
    ["ENG-12", "ENG-12"],
    ["eng-12", "ENG-12"],
    [" https://linear.app/acme/issue/ENG-12/exports-time-out ", "ENG-12"],
    ["https://linear.app/acme/issue/ENG-12", "ENG-12"],
    ["https://evil.example/acme/issue/ENG-12", null],
    ["http://linear.app/acme/issue/ENG-12", null],
    ["ENG-0", null],
    ["not an issue", null],
  ])("%s → %s", (text, ref) => {
    expect(linearIssueRef(text)).toBe(ref);
  });
});

describe("ticketMentions", () => {
  it("finds each ticket key once, in any case, and not inside other words", () => {
    expect(ticketMentions("Fixes SUP-12 and sup-7; also SUP-12 again. XSUP-9, SUP-0, SUP-33x")).toEqual([
      12, 7,
    ]);
  });
});
