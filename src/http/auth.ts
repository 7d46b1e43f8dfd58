import type { MiddlewareHandler } from "hono";
import { problem } from "./errors";
import { clientIp, failedSignIn, retryAfterHeader, SIGN_IN_LOCKED_DETAIL, signInLocked } from "./rate-limit";

export type AuthVariables = { agent: string };

/** `API_TOKENS`: comma-separated `agent:token` pairs. Malformed pairs are ignored (and logged once per parse). */
export function parseApiTokens(raw: string | undefined): { agent: string; token: string }[] {
  return (raw ?? "")
    .split(",")
    .map((pair) => pair.trim())
    .filter((pair) => pair !== "")
    .flatMap((pair) => {
      const colon = pair.indexOf(":");
      const agent = pair.slice(0, colon).trim();
      const token = pair.slice(colon + 1).trim();
      if (colon <= 0 || agent === "" || token === "") {
        console.warn("API_TOKENS has an entry that is not agent:token; ignoring it");
        return [];
      }
      return [{ agent, token }];
    });
}

async function digest(text: string): Promise<ArrayBuffer> {
  return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}

/** Constant-time: digests have equal length, and every configured token is compared. */
export async function agentForToken(raw: string | undefined, presented: string): Promise<string | null> {
  const wanted = await digest(presented);
  let match: string | null = null;
  for (const { agent, token } of parseApiTokens(raw)) {
    if (crypto.subtle.timingSafeEqual(wanted, await digest(token)) && match === null) match = agent;
  }
  return match;
}

export function bearerToken(header: string | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  return match?.[1] ?? null;
}

export const requireAgent: MiddlewareHandler<{ Bindings: Env; Variables: AuthVariables }> = async (
  c,
  next,
) => {
  const token = bearerToken(c.req.header("authorization"));
  if (token === null) {
    return problem(c, 401, "Send Authorization: Bearer <token> with a token from API_TOKENS.", {
      headers: { "www-authenticate": 'Bearer realm="switchboard"' },
    });
  }
  // A wrong bearer token is a failed sign-in (rate-limit.ts): past the budget, every token from that
  // address is refused, a right one included, before it is judged.
  const ip = clientIp(c.req.header("cf-connecting-ip"));
  if (signInLocked(ip, Date.now()))
    return problem(c, 429, SIGN_IN_LOCKED_DETAIL, { headers: retryAfterHeader() });
  const agent = await agentForToken(c.env.API_TOKENS, token);
  if (agent === null) {
    if (await failedSignIn(c.env, ip, Date.now())) {
      return problem(c, 429, SIGN_IN_LOCKED_DETAIL, { headers: retryAfterHeader() });
    }
    return problem(c, 401, "Unknown token.", {
      headers: { "www-authenticate": 'Bearer realm="switchboard", error="invalid_token"' },
    });
  }
  c.set("agent", agent);
  await next();
};
