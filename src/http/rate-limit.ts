import type { Context, MiddlewareHandler } from "hono";

/**
 * Abuse limits on the Workers Rate Limiting binding (wrangler.toml `[[ratelimits]]`), keyed by the
 * client's `CF-Connecting-IP`. The budgets live in wrangler.toml and the README ("Limits"); the
 * binding counts per Cloudflare location and only answers whether a key is within its budget, so
 * `Retry-After` names the whole window.
 *
 * - `RATE_LIMIT_SIGNIN`: failed sign-ins (a wrong console token, a wrong bearer token). Only
 *   failures are counted, so an agent or an integration making many good calls is never slowed.
 * - `RATE_LIMIT_PUBLIC`: the pages and endpoints anyone may call without a token, one budget per
 *   surface (`/v1/search`, `/kb` with `/kb/*`, `/survey/*`, `/quality` with `/v1/quality`).
 *
 * A deploy without a binding runs unlimited (logged once per isolate); a binding that throws lets
 * the request through (logged): these limits protect the desk, they must never take it down.
 */

/** `simple.period` of both bindings in wrangler.toml, in seconds: what `Retry-After` says. */
export const RATE_LIMIT_PERIOD_SECONDS = 60;

export interface RateLimitEnv {
  RATE_LIMIT_SIGNIN?: RateLimit;
  RATE_LIMIT_PUBLIC?: RateLimit;
}

export type PublicSurface = "search" | "kb" | "survey" | "quality";

/**
 * The client's address as Cloudflare's edge saw it. Cloudflare sets (and overwrites) this header
 * on every request from the internet; a request without it did not come through the edge (local
 * tools, tests), and is not limited.
 */
export function clientIp(header: string | undefined): string | null {
  const ip = header?.trim() ?? "";
  return ip === "" || ip.length > 64 ? null : ip;
}

const warned = new Set<string>();

async function withinBudget(binding: RateLimit | undefined, name: string, key: string): Promise<boolean> {
  if (binding === undefined) {
    if (!warned.has(name)) {
      warned.add(name);
      console.warn(`${name} is not bound (wrangler.toml [[ratelimits]]): that limit is off`);
    }
    return true;
  }
  try {
    return (await binding.limit({ key })).success;
  } catch (error) {
    console.error(`${name}: the rate limiter failed; letting the request through`, error);
    return true;
  }
}

/**
 * Addresses this isolate saw go over the failed-sign-in budget, and until when they stay locked.
 * The binding can only count (every call spends), never peek, so it cannot tell a correct token
 * from a locked address before judging it; this remembers the refusal so that, within the isolate,
 * a locked address gets 429 for every attempt — a guess that happens to be right included — and
 * the answer never tells a right guess from a wrong one.
 */
const lockedUntil = new Map<string, number>();
const MAX_LOCKED = 10_000;

/** Whether this address is locked out of signing in right now (checked before any token is judged). */
export function signInLocked(ip: string | null, now: number): boolean {
  if (ip === null) return false;
  const until = lockedUntil.get(ip);
  if (until === undefined) return false;
  if (until > now) return true;
  lockedUntil.delete(ip);
  return false;
}

/**
 * Count one failed sign-in from this address. True when it is over the budget: answer 429, and
 * every attempt from it is refused for the next window.
 */
export async function failedSignIn(env: RateLimitEnv, ip: string | null, now: number): Promise<boolean> {
  if (ip === null) return false;
  if (await withinBudget(env.RATE_LIMIT_SIGNIN, "RATE_LIMIT_SIGNIN", ip)) return false;
  if (lockedUntil.size >= MAX_LOCKED) {
    for (const [key, until] of lockedUntil) if (until <= now) lockedUntil.delete(key);
    if (lockedUntil.size >= MAX_LOCKED) lockedUntil.clear();
  }
  lockedUntil.set(ip, now + RATE_LIMIT_PERIOD_SECONDS * 1000);
  return true;
}

export const SIGN_IN_LOCKED_DETAIL = `Too many failed sign-ins from your address. Try again in ${RATE_LIMIT_PERIOD_SECONDS} seconds.`;

export function retryAfterHeader(): Record<string, string> {
  return { "retry-after": String(RATE_LIMIT_PERIOD_SECONDS) };
}

/**
 * One request to a public surface; past the budget the request is answered by `refuse` (with
 * `Retry-After` set) and goes no further.
 */
export function publicRateLimit<E extends { Bindings: RateLimitEnv }>(
  surface: PublicSurface,
  refuse: (c: Context<E>) => Response | Promise<Response>,
): MiddlewareHandler<E> {
  return async (c, next) => {
    const ip = clientIp(c.req.header("cf-connecting-ip"));
    if (
      ip === null ||
      (await withinBudget(c.env.RATE_LIMIT_PUBLIC, "RATE_LIMIT_PUBLIC", `${surface}:${ip}`))
    ) {
      return next();
    }
    const response = await refuse(c);
    response.headers.set("retry-after", String(RATE_LIMIT_PERIOD_SECONDS));
    return response;
  };
}

/** A small page for a public page refused by its budget (no script, no style, nothing to load). */
export function tooManyRequestsPage(c: Context): Response {
  c.header("cache-control", "no-store");
  return c.html(
    `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" /><title>Too many requests</title></head>
  <body>
    <h1>Too many requests</h1>
    <p>This address sent too many requests in the last minute. Please try again in ${RATE_LIMIT_PERIOD_SECONDS} seconds.</p>
  </body>
</html>`,
    429,
  );
}
