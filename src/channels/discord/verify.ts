import { hexToBytes } from "../../domain/encoding";
import type { Verification } from "../contract";

const encoder = new TextEncoder();

/**
 * Ed25519 over `X-Signature-Timestamp` + the raw body with the app's public key (hex). Discord
 * sends requests with bad signatures on purpose and drops endpoints that accept them.
 */
export async function verifyDiscordSignature(
  publicKeyHex: string | undefined,
  rawBody: Uint8Array<ArrayBuffer>,
  signatureHex: string | null | undefined,
  timestamp: string | null | undefined,
): Promise<Verification> {
  const keyHex = publicKeyHex?.trim() ?? "";
  if (!/^[0-9a-f]{64}$/i.test(keyHex)) return { ok: false, reason: "not_configured" };
  if (!signatureHex || !timestamp) return { ok: false, reason: "missing_signature" };
  if (!/^[0-9a-f]{128}$/i.test(signatureHex.trim())) return { ok: false, reason: "bad_signature" };
  const key = await crypto.subtle.importKey("raw", hexToBytes(keyHex), { name: "Ed25519" }, false, [
    "verify",
  ]);
  const stamp = encoder.encode(timestamp);
  const message = new Uint8Array(stamp.length + rawBody.length);
  message.set(stamp, 0);
  message.set(rawBody, stamp.length);
  const valid = await crypto.subtle.verify(
    { name: "Ed25519" },
    key,
    hexToBytes(signatureHex.trim()),
    message,
  );
  return valid ? { ok: true } : { ok: false, reason: "bad_signature" };
}
