import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie } from "hono/cookie";
import { html } from "hono/html";
import type { JSX } from "hono/jsx/jsx-runtime";
import { NONCE, type SecureHeadersVariables, secureHeaders } from "hono/secure-headers";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { agentNames } from "../../domain/access";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { parseApiTokens } from "../auth";
import { accessConfig, verifyAccessJwt } from "./access";
import { Layout } from "./layout";
import { readSession, SESSION_COOKIE, sameSecret, sessionKey, sign } from "./session";

export type ConsoleVariables = SecureHeadersVariables & {
  agent: string;
  csrf: string;
  via: "token" | "access";
  requestId: string;
};
export type ConsoleEnv = { Bindings: Env; Variables: ConsoleVariables };
export type ConsoleContext = Context<ConsoleEnv>;

/**
 * Headers of every console page: a nonce-based CSP (the countdown script and the stylesheet are
 * the only inline code, and nothing else may run), no framing, no MIME sniffing, same-origin
 * referrers, and no caching of pages that show customer data.
 */
export const consoleHeaders: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  await secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: [NONCE],
      styleSrc: [NONCE],
      imgSrc: ["'self'", "data:"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
    referrerPolicy: "same-origin",
    xFrameOptions: "DENY",
    // This host only: whether subdomains are HTTPS-only is the zone owner's call, not the console's.
    strictTransportSecurity: "max-age=15552000",
    crossOriginEmbedderPolicy: false,
  })(c, next);
  c.header("cache-control", "no-store");
};

export function nonceOf(c: ConsoleContext): string {
  return c.get("secureHeadersNonce") ?? "";
}

/** A whole page: doctype + the JSX tree, escaped by Hono JSX throughout. */
export function render(c: ConsoleContext, page: JSX.Element, status: ContentfulStatusCode = 200) {
  return c.html(html`<!doctype html>${page}`, status);
}

function MessagePage(props: { c: ConsoleContext; title: string; children: JSX.Element | JSX.Element[] }) {
  const agent = props.c.var.agent as string | undefined;
  return (
    <Layout
      title={props.title}
      nonce={nonceOf(props.c)}
      section="other"
      agent={agent}
      csrf={agent === undefined ? undefined : props.c.var.csrf}
    >
      <div class="card">
        <h1>{props.title}</h1>
        {props.children}
      </div>
    </Layout>
  );
}

export function messagePage(
  c: ConsoleContext,
  status: ContentfulStatusCode,
  title: string,
  body: JSX.Element | JSX.Element[],
) {
  return render(
    c,
    <MessagePage c={c} title={title}>
      {body}
    </MessagePage>,
    status,
  );
}

/** Where an agent who is not signed in goes: the sign-in page, and back here afterwards. */
function toLogin(c: ConsoleContext) {
  const url = new URL(c.req.url);
  const next = c.req.method === "GET" ? `${url.pathname}${url.search}` : "/queue";
  return c.redirect(`/login?next=${encodeURIComponent(next)}`, 303);
}

export interface ConsoleIdentity {
  agent: string;
  csrf: string;
  via: "token" | "access";
}

export type IdentifyResult =
  | { ok: true; identity: ConsoleIdentity }
  | { ok: false; reason: "access_refused"; detail: string }
  | { ok: false; reason: "signed_out"; clearCookie: boolean };

/**
 * Who is at the console. With Cloudflare Access configured, the `Cf-Access-Jwt-Assertion` JWT is
 * verified on every request; otherwise the signed session cookie from token sign-in.
 */
export async function identify(c: ConsoleContext): Promise<IdentifyResult> {
  const access = accessConfig(c.env);
  const key = await sessionKey(c.env);
  if (access !== null) {
    const check = await verifyAccessJwt(c.req.header("cf-access-jwt-assertion"), access, Date.now());
    if (!check.ok) return { ok: false, reason: "access_refused", detail: check.reason };
    const { identity } = check;
    const config = await loadConfig(database(c.env.DB));
    const email = identity.email?.toLowerCase();
    const known =
      email === undefined ? undefined : config.agents.find((a) => a.email?.toLowerCase() === email);
    // Per identity rather than per cookie: Access owns the session. Empty (every POST refused) when
    // there is no secret to sign with: set SESSION_SECRET.
    const csrf =
      key === null ? "" : await sign(key, `access-csrf\u0000${identity.sub}\u0000${identity.name}`);
    return { ok: true, identity: { agent: known?.id ?? identity.name, csrf, via: "access" } };
  }
  if (key === null) return { ok: false, reason: "signed_out", clearCookie: false };
  const check = await readSession(key, getCookie(c, SESSION_COOKIE), Date.now());
  if (!check.ok) return { ok: false, reason: "signed_out", clearCookie: check.reason !== "missing" };
  // With SESSION_SECRET set, removing an agent from API_TOKENS (or making it an integration) must
  // still end their session.
  if (!agentNames(parseApiTokens(c.env.API_TOKENS)).includes(check.session.agent)) {
    return { ok: false, reason: "signed_out", clearCookie: true };
  }
  return { ok: true, identity: { agent: check.session.agent, csrf: check.session.csrf, via: "token" } };
}

function adopt(c: ConsoleContext, identity: ConsoleIdentity): void {
  c.set("agent", identity.agent);
  c.set("csrf", identity.csrf);
  c.set("via", identity.via);
}

export const requireConsoleAgent: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const result = await identify(c);
  if (result.ok) {
    adopt(c, result.identity);
    return next();
  }
  if (result.reason === "access_refused") {
    console.warn(`console: Access token refused (${result.detail})`);
    return messagePage(
      c,
      403,
      "Sign in through Cloudflare Access",
      <p>
        This console is protected by Cloudflare Access and the request did not carry a valid Access token (
        {result.detail.replace(/_/g, " ")}). Open the console through its Access-protected address.
      </p>,
    );
  }
  if (result.clearCookie) deleteCookie(c, SESSION_COOKIE, { path: "/", secure: true });
  return toLogin(c);
};

/** Public pages (the knowledge base) show the agent's navigation when one is signed in. */
export const optionalConsoleAgent: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const result = await identify(c);
  if (result.ok) adopt(c, result.identity);
  return next();
};

/** Every console POST carries the session's CSRF token in `_csrf` (SameSite=Strict is the second lock). */
export const requireCsrf: MiddlewareHandler<ConsoleEnv> = async (c, next) => {
  const form = await c.req.parseBody();
  const presented = typeof form._csrf === "string" ? form._csrf : "";
  const expected = c.var.csrf;
  if (expected === "" || presented === "" || !(await sameSecret(presented, expected))) {
    return messagePage(
      c,
      403,
      "This form could not be accepted",
      <p>
        The form did not carry this session's security token, so nothing was changed. Reload the page and try
        again. {expected === "" ? "(The desk has no SESSION_SECRET or API_TOKENS to sign forms with.)" : ""}
      </p>,
    );
  }
  return next();
};
