import { FEED_AGENT_HEADER, feedViewSchema } from "../../live/feed";
import { feedStub } from "../../live/publish";
import { type ConsoleContext, identify } from "./auth";

/**
 * Where a console page may open its socket from: this desk's own origin (the request's, and
 * PUBLIC_URL's when set). A browser sends the session cookie with a cross-site WebSocket too
 * (SameSite does not cover every case, and Access cookies are Lax), so the Origin check is what
 * stops another site from reading the feed in the agent's name (cross-site WebSocket hijacking).
 */
export function allowedOrigins(requestUrl: string, publicUrl: string | undefined): Set<string> {
  const origins = new Set([new URL(requestUrl).origin]);
  try {
    if (publicUrl !== undefined && publicUrl.trim() !== "") origins.add(new URL(publicUrl).origin);
  } catch {
    // an invalid PUBLIC_URL allows nothing extra
  }
  return origins;
}

function refuse(status: 400 | 401 | 403 | 426 | 503, text: string): Response {
  return new Response(text, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/**
 * `GET /live?view=queue|ticket:SUP-12` — the WebSocket of a console page (SPEC §15). Signed in
 * exactly like a page (session cookie, or the Access JWT in Access mode), from this desk's own
 * origin; then handed to the DeskFeed object with the agent's name. Refusals are plain HTTP
 * answers before any upgrade, so a refused socket never opens.
 */
export async function liveUpgrade(c: ConsoleContext): Promise<Response> {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    return refuse(426, "This is the console's live feed: open it as a WebSocket from a console page.");
  }
  const origin = c.req.header("origin");
  if (origin === undefined || !allowedOrigins(c.req.url, c.env.PUBLIC_URL).has(origin)) {
    return refuse(403, "The live feed opens only from this desk's own pages.");
  }
  const who = await identify(c);
  if (!who.ok) return refuse(401, "Sign in to the console first.");
  const view = feedViewSchema.safeParse(c.req.query("view"));
  if (!view.success) return refuse(400, "view is `queue` or `ticket:<key>`.");
  const namespace = c.env.DESK_FEED;
  if (namespace === undefined) return refuse(503, "The live feed is not configured (DESK_FEED binding).");
  const headers = new Headers(c.req.raw.headers);
  headers.set(FEED_AGENT_HEADER, who.identity.agent);
  // Only what the feed needs: never the cookie or the Access token.
  headers.delete("cookie");
  headers.delete("cf-access-jwt-assertion");
  const url = new URL(c.req.url);
  url.search = new URLSearchParams({ view: view.data }).toString();
  return feedStub({ DESK_FEED: namespace }).fetch(url.toString(), { headers });
}
