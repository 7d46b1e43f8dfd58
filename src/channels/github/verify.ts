import { hexToBytes, hmacSha256Key } from "../../domain/encoding";
import type { Verification } from "../contract";

/**
 * `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`. Web Crypto's `verify` compares
 * in constant time; the body is verified exactly as received, before it is decoded or parsed.
 */
export async function verifyGithubSignature(
  secret: string | undefined,
  rawBody: Uint8Array<ArrayBuffer>,
  header: string | null | undefined,
): Promise<Verification> {
  if (secret === undefined || secret.trim() === "") return { ok: false, reason: "not_configured" };
  if (header === null || header === undefined || header === "")
    return { ok: false, reason: "missing_signature" };
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (match?.[1] === undefined) return { ok: false, reason: "bad_signature" };
  const key = await hmacSha256Key(secret, ["verify"]);
  const valid = await crypto.subtle.verify("HMAC", key, hexToBytes(match[1]), rawBody);
  return valid ? { ok: true } : { ok: false, reason: "bad_signature" };
}
