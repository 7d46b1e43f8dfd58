import { base64, hmacSha256Key } from "../../domain/encoding";

/**
 * Standard Webhooks (https://www.standardwebhooks.com, "Signature scheme"): the receiver gets
 * `webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256
 * of "<id>.<timestamp>.<body>">`, keyed with the bytes of the secret after its `whsec_` prefix.
 * Web Crypto only, so it runs in the Worker and in Node alike.
 */

export const SECRET_PREFIX = "whsec_";

export type SigningKey = { ok: true; key: CryptoKey } | { ok: false; reason: string };

/** Standard base64 (padding optional, as `atob` takes it). */
function base64ToBytes(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return null;
  try {
    return Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));
  } catch {
    return null;
  }
}

/** `CALLBACK_SIGNING_SECRET` → the HMAC key, or why there is none (unset, or not `whsec_` + base64). */
export async function callbackSigningKey(secret: string | undefined): Promise<SigningKey> {
  const value = secret?.trim() ?? "";
  if (value === "") return { ok: false, reason: "CALLBACK_SIGNING_SECRET is not set" };
  const bytes = value.startsWith(SECRET_PREFIX) ? base64ToBytes(value.slice(SECRET_PREFIX.length)) : null;
  if (bytes === null || bytes.length === 0) {
    return { ok: false, reason: "CALLBACK_SIGNING_SECRET is not whsec_ followed by a base64 key" };
  }
  return { ok: true, key: await hmacSha256Key(bytes, ["sign"]) };
}

/** The three headers that sign `body` as message `id`, sent at `timestampSeconds`. */
export async function signatureHeaders(
  key: CryptoKey,
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<Record<"webhook-id" | "webhook-timestamp" | "webhook-signature", string>> {
  const timestamp = String(Math.floor(timestampSeconds));
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": `v1,${base64(mac)}`,
  };
}
