import { z } from "zod";
import { base64urlToBytes } from "../../domain/encoding";

/**
 * Cloudflare Access in front of the console: every request carries `Cf-Access-Jwt-Assertion`, an
 * RS256 JWT signed by the team's keys at `https://<team domain>/cdn-cgi/access/certs`. We verify the
 * signature with Web Crypto and check `aud`, `iss`, `exp` (and `nbf`) on every request, as
 * Cloudflare's docs ask: a request that reached the Worker some other way has no valid token.
 */

export interface AccessEnv {
  ACCESS_TEAM_DOMAIN?: string;
  ACCESS_AUD?: string;
}

export interface AccessConfig {
  issuer: string;
  certsUrl: string;
  audience: string;
}

/** Both variables set → Access mode. The team domain may be given with or without `https://`. */
export function accessConfig(env: AccessEnv): AccessConfig | null {
  const domain = (env.ACCESS_TEAM_DOMAIN ?? "")
    .trim()
    .replace(/^https?:\/\//i, "")
    .replace(/\/+$/, "");
  const audience = (env.ACCESS_AUD ?? "").trim();
  if (domain === "" || audience === "") return null;
  const issuer = `https://${domain}`;
  return { issuer, certsUrl: `${issuer}/cdn-cgi/access/certs`, audience };
}

const headerSchema = z.object({ alg: z.string(), kid: z.string().optional(), typ: z.string().optional() });
const claimsSchema = z.object({
  aud: z.union([z.string(), z.array(z.string())]),
  iss: z.string(),
  exp: z.number(),
  nbf: z.number().optional(),
  iat: z.number().optional(),
  sub: z.string().default(""),
  email: z.string().optional(),
  /** Service tokens carry their client id here instead of an email. */
  common_name: z.string().optional(),
});
const jwksSchema = z.object({
  keys: z.array(
    z.looseObject({
      kid: z.string(),
      kty: z.literal("RSA"),
      n: z.string(),
      e: z.string(),
      alg: z.string().optional(),
    }),
  ),
});

export interface AccessIdentity {
  /** What the console calls the agent: the email, else the service token's name, else `sub`. */
  name: string;
  email: string | null;
  sub: string;
}

export type AccessCheck =
  | { ok: true; identity: AccessIdentity }
  | {
      ok: false;
      reason:
        | "missing"
        | "malformed"
        | "unsupported_alg"
        | "unknown_key"
        | "certs_unavailable"
        | "bad_signature"
        | "expired"
        | "not_yet_valid"
        | "wrong_audience"
        | "wrong_issuer";
    };

/** Clock skew we tolerate on `exp` / `nbf`. */
const LEEWAY_SECONDS = 60;
const CERTS_TTL_MS = 10 * 60_000;
/** An unknown `kid` refetches the certs (keys rotate), but not more often than this. */
const REFETCH_INTERVAL_MS = 30_000;

interface CachedKeys {
  keys: Map<string, CryptoKey>;
  fetchedAt: number;
}
const certsCache = new Map<string, CachedKeys>();

async function fetchKeys(certsUrl: string, now: number): Promise<CachedKeys | null> {
  try {
    const response = await fetch(certsUrl, { headers: { accept: "application/json" } });
    if (!response.ok) return null;
    const parsed = jwksSchema.safeParse(await response.json());
    if (!parsed.success) return null;
    const keys = new Map<string, CryptoKey>();
    for (const jwk of parsed.data.keys) {
      if (jwk.alg !== undefined && jwk.alg !== "RS256") continue;
      try {
        const key = await crypto.subtle.importKey(
          "jwk",
          { kty: "RSA", n: jwk.n, e: jwk.e, alg: "RS256", ext: true },
          { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
          false,
          ["verify"],
        );
        keys.set(jwk.kid, key);
      } catch {
        // a key we cannot import is a key nothing can be verified with; skip it
      }
    }
    const entry = { keys, fetchedAt: now };
    certsCache.set(certsUrl, entry);
    return entry;
  } catch (error) {
    console.error(`Access certs at ${certsUrl} could not be fetched`, error);
    return null;
  }
}

async function keyFor(
  certsUrl: string,
  kid: string,
  now: number,
): Promise<CryptoKey | "unknown" | "unavailable"> {
  let cached = certsCache.get(certsUrl);
  const stale = cached === undefined || now - cached.fetchedAt > CERTS_TTL_MS;
  const unknownKid = cached !== undefined && !cached.keys.has(kid);
  if (stale || (unknownKid && cached !== undefined && now - cached.fetchedAt > REFETCH_INTERVAL_MS)) {
    cached = (await fetchKeys(certsUrl, now)) ?? cached;
  }
  if (cached === undefined) return "unavailable";
  return cached.keys.get(kid) ?? "unknown";
}

function decodeJson(part: string): unknown {
  const bytes = base64urlToBytes(part);
  if (bytes === null) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

export async function verifyAccessJwt(
  token: string | undefined,
  config: AccessConfig,
  now: number,
): Promise<AccessCheck> {
  if (token === undefined || token.trim() === "") return { ok: false, reason: "missing" };
  const parts = token.trim().split(".");
  if (parts.length !== 3) return { ok: false, reason: "malformed" };
  const [headerPart = "", payloadPart = "", signaturePart = ""] = parts;
  const header = headerSchema.safeParse(decodeJson(headerPart));
  const claims = claimsSchema.safeParse(decodeJson(payloadPart));
  const signature = base64urlToBytes(signaturePart);
  if (!header.success || !claims.success || signature === null) return { ok: false, reason: "malformed" };
  // Only RS256: never `none`, never an HMAC keyed with a public key.
  if (header.data.alg !== "RS256") return { ok: false, reason: "unsupported_alg" };
  if (header.data.kid === undefined) return { ok: false, reason: "unknown_key" };

  const key = await keyFor(config.certsUrl, header.data.kid, now);
  if (key === "unavailable") return { ok: false, reason: "certs_unavailable" };
  if (key === "unknown") return { ok: false, reason: "unknown_key" };
  const valid = await crypto.subtle.verify(
    "RSASSA-PKCS1-v1_5",
    key,
    signature,
    new TextEncoder().encode(`${headerPart}.${payloadPart}`),
  );
  if (!valid) return { ok: false, reason: "bad_signature" };

  const c = claims.data;
  const seconds = now / 1000;
  if (c.exp + LEEWAY_SECONDS <= seconds) return { ok: false, reason: "expired" };
  if (c.nbf !== undefined && c.nbf - LEEWAY_SECONDS > seconds) return { ok: false, reason: "not_yet_valid" };
  const audiences = Array.isArray(c.aud) ? c.aud : [c.aud];
  if (!audiences.includes(config.audience)) return { ok: false, reason: "wrong_audience" };
  if (c.iss.replace(/\/+$/, "") !== config.issuer) return { ok: false, reason: "wrong_issuer" };
  const email = c.email?.trim() || null;
  const name = email ?? (c.common_name?.trim() || c.sub);
  if (name === "") return { ok: false, reason: "malformed" };
  return { ok: true, identity: { name, email, sub: c.sub } };
}
