import {
  type DeliveryOutcome,
  httpOutcome,
  networkOutcome,
  OUTBOUND_TIMEOUT_MS,
  type OutboundEnv,
  setting,
} from "./types";

const GITHUB_API = "https://api.github.com";

/**
 * Our replies carry this invisible marker, so the `issue_comment` webhook GitHub sends back for
 * them is recognised as our own echo and not stored a second time.
 */
export const REPLY_MARKER_PREFIX = "<!-- switchboard:";

export function withReplyMarker(body: string, ticketKey: string): string {
  return `${body}\n\n${REPLY_MARKER_PREFIX}${ticketKey} -->`;
}

export function hasReplyMarker(body: string): boolean {
  return body.includes(REPLY_MARKER_PREFIX);
}

export interface GithubRequest {
  repo: string;
  issue: number;
  action: "comment" | "labels";
  body?: string;
  labels?: string[];
}

/** Issue comments and labels through the REST API (`GITHUB_TOKEN` needs Issues: write). */
export async function sendGithubRequest(env: OutboundEnv, request: GithubRequest): Promise<DeliveryOutcome> {
  const token = setting(env.GITHUB_TOKEN);
  if (token === undefined) return { ok: "skipped", reason: "GITHUB_TOKEN is not set" };
  const base = (setting(env.GITHUB_API_URL) ?? GITHUB_API).replace(/\/+$/, "");
  const path = `/repos/${request.repo.split("/").map(encodeURIComponent).join("/")}/issues/${request.issue}`;
  const url = request.action === "comment" ? `${base}${path}/comments` : `${base}${path}/labels`;
  const payload =
    request.action === "comment" ? { body: request.body ?? "" } : { labels: request.labels ?? [] };
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        accept: "application/vnd.github+json",
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        // GitHub refuses requests without a User-Agent.
        "user-agent": "Switchboard/1",
        "x-github-api-version": "2022-11-28",
      },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
    });
  } catch (error) {
    return networkOutcome(error);
  }
  if (!response.ok) return githubFailure(response);
  if (request.action !== "comment") return { ok: true };
  const created: unknown = await response.json().catch(() => null);
  const id = typeof created === "object" && created !== null ? (created as { id?: unknown }).id : undefined;
  return typeof id === "number" || typeof id === "string"
    ? { ok: true, externalId: `comment:${id}` }
    : { ok: true };
}

/**
 * GitHub signals rate limits with 403 as well as 429: a 403 with `x-ratelimit-remaining: 0` or a
 * `retry-after` is worth another try; any other 403 (locked issue, missing scope) is not.
 */
async function githubFailure(response: Response): Promise<DeliveryOutcome> {
  const outcome = await httpOutcome(response);
  if (outcome.ok !== false || response.status !== 403) return outcome;
  const limited =
    response.headers.get("x-ratelimit-remaining") === "0" || response.headers.get("retry-after") !== null;
  if (!limited) return outcome;
  const reset = Number(response.headers.get("x-ratelimit-reset"));
  const untilReset = Number.isFinite(reset) && reset > 0 ? reset * 1000 - Date.now() : 0;
  return {
    ...outcome,
    retryable: true,
    ...(outcome.retryAfterMs === undefined && untilReset > 0 ? { retryAfterMs: untilReset } : {}),
  };
}
