import type { Verification } from "../../channels/contract";
import { bytesToHex, hmacSha256Key } from "../../domain/encoding";

/** Linear's own rule (and @linear/sdk's `LinearWebhookClient`): `webhookTimestamp` within a minute. */
export const LINEAR_TIMESTAMP_WINDOW_MS = 60_000;

const encoder = new TextEncoder();

/**
 * `Linear-Signature`: the hex HMAC-SHA256 of the raw body with the webhook's signing secret,
 * compared in constant time; then the signed body's `webhookTimestamp` (ms) must be within 60 s
 * of our clock, so a captured delivery cannot be replayed later (SPEC §13).
 *
 * Hand-written with Web Crypto rather than @linear/sdk's `LinearWebhookClient.verify`: that one
 * imports Node's `crypto` and relies on the global `Buffer` (it would run under nodejs_compat,
 * but Worker code here uses Web Crypto and has no Node typings), and it reports a bad signature
 * and a stale timestamp alike as thrown errors. `test/unit/linear-verify.test.ts` checks that
 * both verifiers agree on signed, tampered and stale bodies.
 */
export async function verifyLinearSignature(
  secret: string | undefined,
  rawBody: Uint8Array<ArrayBuffer>,
  header: string | null | undefined,
  nowMs: number,
): Promise<Verification> {
  if (secret === undefined || secret.trim() === "") return { ok: false, reason: "not_configured" };
  if (header === null || header === undefined || header.trim() === "") {
    return { ok: false, reason: "missing_signature" };
  }
  const expected = encoder.encode(await linearSignature(secret, rawBody));
  const given = encoder.encode(header.trim().toLowerCase());
  if (given.byteLength !== expected.byteLength || !crypto.subtle.timingSafeEqual(given, expected)) {
    return { ok: false, reason: "bad_signature" };
  }
  const timestamp = signedTimestamp(rawBody);
  if (timestamp === null || Math.abs(nowMs - timestamp) > LINEAR_TIMESTAMP_WINDOW_MS) {
    return { ok: false, reason: "stale_timestamp" };
  }
  return { ok: true };
}

/** The `Linear-Signature` Linear sends for this body (the tests and the README's curl use it too). */
export async function linearSignature(
  secret: string,
  rawBody: Uint8Array<ArrayBuffer> | string,
): Promise<string> {
  const key = await hmacSha256Key(secret, ["sign"]);
  const body = typeof rawBody === "string" ? encoder.encode(rawBody) : rawBody;
  return bytesToHex(await crypto.subtle.sign("HMAC", key, body));
}

function signedTimestamp(rawBody: Uint8Array<ArrayBuffer>): number | null {
  try {
    const body: unknown = JSON.parse(new TextDecoder().decode(rawBody));
    if (typeof body !== "object" || body === null || !("webhookTimestamp" in body)) return null;
    const { webhookTimestamp } = body;
    return typeof webhookTimestamp === "number" && Number.isFinite(webhookTimestamp)
      ? webhookTimestamp
      : null;
  } catch {
    return null;
  }
}
