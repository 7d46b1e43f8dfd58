import { bytesToHex, hmacSha256Key } from "../../domain/encoding";

/** Slack signs every request: `v0=` + hex HMAC-SHA256(signing secret, `v0:{timestamp}:{raw body}`). */
export const SLACK_SIGNATURE_VERSION = "v0";

/** Slack's own advice: refuse requests more than five minutes off, so a captured one cannot be replayed later. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

export type SlackVerification =
  | { ok: true; timestamp: number }
  | { ok: false; reason: "not_configured" | "missing_signature" | "stale_timestamp" | "bad_signature" };

export interface SlackSignedRequest {
  timestamp: string | undefined;
  signature: string | undefined;
  rawBody: string;
}

const encoder = new TextEncoder();

/**
 * Checks `X-Slack-Signature` over the raw body, exactly as received. The comparison is constant
 * time (`crypto.subtle.timingSafeEqual`) so the answer's timing says nothing about how much of a
 * forged signature was right.
 */
export async function verifySlackRequest(
  signingSecret: string | undefined,
  request: SlackSignedRequest,
  nowMs: number,
): Promise<SlackVerification> {
  const secret = signingSecret?.trim();
  if (secret === undefined || secret === "") return { ok: false, reason: "not_configured" };
  const { timestamp, signature } = request;
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) {
    return { ok: false, reason: "missing_signature" };
  }
  const seconds = Number(timestamp);
  if (Math.abs(nowMs / 1000 - seconds) > MAX_CLOCK_SKEW_SECONDS)
    return { ok: false, reason: "stale_timestamp" };
  const expected = await slackSignature(secret, timestamp, request.rawBody);
  const given = encoder.encode(signature.trim().toLowerCase());
  const wanted = encoder.encode(expected);
  // timingSafeEqual needs equal lengths; a length mismatch is already a wrong signature.
  if (given.byteLength !== wanted.byteLength || !crypto.subtle.timingSafeEqual(given, wanted)) {
    return { ok: false, reason: "bad_signature" };
  }
  return { ok: true, timestamp: seconds };
}

/** The `X-Slack-Signature` value Slack would send for this body (also used by the tests and the README's curl). */
export async function slackSignature(secret: string, timestamp: string, rawBody: string): Promise<string> {
  const key = await hmacSha256Key(secret, ["sign"]);
  const mac = await crypto.subtle.sign(
    "HMAC",
    key,
    encoder.encode(`${SLACK_SIGNATURE_VERSION}:${timestamp}:${rawBody}`),
  );
  return `${SLACK_SIGNATURE_VERSION}=${bytesToHex(mac)}`;
}
