import type { MiddlewareHandler } from "hono";
import { type Action, type ApiToken, parseApiTokens, permits, type Role } from "../domain/access";
import { problem } from "./errors";
import { clientIp, failedSignIn, retryAfterHeader, SIGN_IN_LOCKED_DETAIL, signInLocked } from "./rate-limit";

export { parseApiTokens };

/** Who the bearer token speaks for: `agent` is the token's name (the author of what it changes). */
export type AuthVariables = { agent: string; role: Role };

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/** Constant-time: digests have equal length, and every configured token is compared. */
export async function callerForToken(
  tokens: readonly ApiToken[],
  presented: string,
): Promise<{ name: string; role: Role } | null> {
  const wanted = await digest(presented);
  let match: { name: string; role: Role } | null = null;
  for (const { name, token, role } of tokens) {
    if (crypto.subtle.timingSafeEqual(wanted, await digest(token)) && match === null) match = { name, role };
  }
  return match;
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

type AuthEnv = { Bindings: Env; Variables: AuthVariables };

/**
 * A bearer token from `API_TOKENS` whose role may do `action` (SPEC §11): no token or an unknown
 * one is 401; a known token whose role may not is 403, naming the role. A wrong bearer token is a
 * failed sign-in (rate-limit.ts): past the budget, every token from that address is refused, a
 * right one included, before it is judged.
 */
export function requireRole(action: Action): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    const presented = bearerToken(c.req.header("authorization"));
    if (presented === null) {
      return problem(c, 401, "Send Authorization: Bearer <token> with a token from API_TOKENS.", {
        headers: { "www-authenticate": 'Bearer realm="switchboard"' },
      });
    }
    const ip = clientIp(c.req.header("cf-connecting-ip"));
    if (signInLocked(ip, Date.now()))
      return problem(c, 429, SIGN_IN_LOCKED_DETAIL, { headers: retryAfterHeader() });
    const tokens = parseApiTokens(c.env.API_TOKENS);
    const caller = await callerForToken(tokens, presented);
    if (caller === null) {
      if (await failedSignIn(c.env, ip, Date.now())) {
        return problem(c, 429, SIGN_IN_LOCKED_DETAIL, { headers: retryAfterHeader() });
      }
      return problem(c, 401, "Unknown token.", {
        headers: { "www-authenticate": 'Bearer realm="switchboard", error="invalid_token"' },
      });
    }
    const permission = permits(caller.role, action, tokens);
    if (!permission.ok) {
      return problem(c, 403, permission.detail, {
        headers: { "www-authenticate": 'Bearer realm="switchboard", error="insufficient_scope"' },
      });
    }
    c.set("agent", caller.name);
    c.set("role", caller.role);
    await next();
  };
}

/** The agent API: agents and admins. */
export const requireAgent = requireRole("agent_api");
/** `POST /v1/messages`: every role (an integration may do only this). */
export const requireMessagePoster = requireRole("post_message");
/** `PUT /v1/config`: an admin, once the desk has one. */
export const requireConfigWriter = requireRole("change_config");
