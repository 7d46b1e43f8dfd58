import { z } from "zod";
import { base64url, base64urlToBytes, hmacSha256Key, randomToken } from "../../domain/encoding";

export { base64url, randomToken };

/**
 * The console's signed session cookie: `base64url(JSON payload) "." base64url(HMAC-SHA256)`.
 * It names the agent and carries the session's CSRF token; it never holds the API token itself.
 *
 * The HMAC key is `SESSION_SECRET` when set, else derived from `API_TOKENS` (SHA-256 of a label and
 * the whole list), so rotating any token signs every console session out.
 */

export const SESSION_COOKIE = "__Host-sb_session";
/** Double-submit token of the sign-in form (there is no session to hold a CSRF token yet). */
export const LOGIN_COOKIE = "__Host-sb_login";
export const SESSION_TTL_SECONDS = 12 * 3600;
export const LOGIN_TTL_SECONDS = 30 * 60;

export const sessionSchema = z.object({
  v: z.literal(1),
  agent: z.string().min(1).max(320),
  /** Per-session CSRF token, sent back in a hidden field by every console form. */
  csrf: z.string().min(16).max(64),
  iat: z.number().int(),
  exp: z.number().int(),
});
export type Session = z.infer<typeof sessionSchema>;

export interface KeyEnv {
  SESSION_SECRET?: string;
  API_TOKENS?: string;
}

const encoder = new TextEncoder();

/** The signing key, or null when there is nothing secret to derive it from. */
export async function sessionKey(env: KeyEnv): Promise<CryptoKey | null> {
  const secret = env.SESSION_SECRET?.trim() ?? "";
  const tokens = env.API_TOKENS?.trim() ?? "";
  if (secret === "" && tokens === "") return null;
  const material =
    secret !== ""
      ? secret
      : new Uint8Array(
          await crypto.subtle.digest(
            "SHA-256",
            encoder.encode(`switchboard console session v1\u0000${tokens}`),
          ),
        );
  return hmacSha256Key(material, ["sign", "verify"]);
}

export async function sign(key: CryptoKey, data: string): Promise<string> {
  return base64url(await crypto.subtle.sign("HMAC", key, encoder.encode(data)));
}

export async function createSession(key: CryptoKey, agent: string, now: number): Promise<string> {
  const iat = Math.floor(now / 1000);
  const session: Session = { v: 1, agent, csrf: randomToken(), iat, exp: iat + SESSION_TTL_SECONDS };
  const payload = base64url(encoder.encode(JSON.stringify(session)));
  return `${payload}.${await sign(key, payload)}`;
}

export type SessionCheck =
  | { ok: true; session: Session }
  | { ok: false; reason: "missing" | "malformed" | "bad_signature" | "expired" };

export async function readSession(
  key: CryptoKey,
  cookie: string | undefined,
  now: number,
): Promise<SessionCheck> {
  if (cookie === undefined || cookie === "") return { ok: false, reason: "missing" };
  const [payload, signature, ...rest] = cookie.split(".");
  if (payload === undefined || signature === undefined || rest.length > 0)
    return { ok: false, reason: "malformed" };
  const mac = base64urlToBytes(signature);
  if (mac === null) return { ok: false, reason: "malformed" };
  // crypto.subtle.verify compares in constant time.
  if (!(await crypto.subtle.verify("HMAC", key, mac, encoder.encode(payload))))
    return { ok: false, reason: "bad_signature" };
  const bytes = base64urlToBytes(payload);
  if (bytes === null) return { ok: false, reason: "malformed" };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return { ok: false, reason: "malformed" };
  }
  const parsed = sessionSchema.safeParse(json);
  if (!parsed.success) return { ok: false, reason: "malformed" };
  if (parsed.data.exp * 1000 <= now) return { ok: false, reason: "expired" };
  return { ok: true, session: parsed.data };
}

/** Constant-time string equality (both sides hashed first, so lengths never leak). */
export async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  return crypto.subtle.timingSafeEqual(x, y);
}
