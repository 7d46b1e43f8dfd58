import { z } from "zod";
import { apiBase, createdId, type DeliveryOutcome, httpOutcome, postJson, setting } from "../../notify/http";
import type { OutboundEnv, OutboxItem } from "../../notify/types";
import type { ChannelOutbound } from "../contract";
import { githubIssueOf } from "./keys";

export const githubDeliverySchema = z.object({
  service: z.literal("github"),
  /** `owner/repo`. */
  repo: z.string().min(3).max(200),
  issue: z.number().int().positive(),
  /**
   * `comment` posts `body` as an issue comment; `labels` adds `labels` to the issue; `state` closes
   * or reopens it (`state`, `stateReason`), following the ticket (SPEC §13).
   */
  action: z.enum(["comment", "labels", "state"]),
  body: z.string().optional(),
  labels: z.array(z.string()).optional(),
  state: z.enum(["open", "closed"]).optional(),
  stateReason: z.enum(["completed", "reopened", "not_planned"]).optional(),
});
export type GithubDelivery = z.infer<typeof githubDeliverySchema>;

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

/** Issue comments and labels through the REST API (`GITHUB_TOKEN` needs Issues: write). */
export async function sendGithubRequest(env: OutboundEnv, request: GithubDelivery): Promise<DeliveryOutcome> {
  const token = setting(env.GITHUB_TOKEN);
  if (token === undefined) return { ok: "skipped", reason: "GITHUB_TOKEN is not set" };
  const base = apiBase(env.GITHUB_API_URL, GITHUB_API);
  const path = `/repos/${request.repo.split("/").map(encodeURIComponent).join("/")}/issues/${request.issue}`;
  const url =
    request.action === "comment"
      ? `${base}${path}/comments`
      : request.action === "labels"
        ? `${base}${path}/labels`
        : `${base}${path}`;
  const payload =
    request.action === "comment"
      ? { body: request.body ?? "" }
      : request.action === "labels"
        ? { labels: request.labels ?? [] }
        : {
            state: request.state ?? "closed",
            ...(request.stateReason === undefined ? {} : { state_reason: request.stateReason }),
          };
  const sent = await postJson(
    url,
    {
      accept: "application/vnd.github+json",
      authorization: `Bearer ${token}`,
      // GitHub refuses requests without a User-Agent.
      "user-agent": "Switchboard/1",
      "x-github-api-version": "2022-11-28",
    },
    JSON.stringify(payload),
    // "Update an issue" is a PATCH of the issue itself; setting a state it already has is a no-op.
    request.action === "state" ? { method: "PATCH" } : {},
  );
  if (!sent.ok) return sent.outcome;
  const { response } = sent;
  if (!response.ok) return githubFailure(response);
  if (request.action !== "comment") return { ok: true };
  const id = await createdId(response);
  return id === undefined ? { ok: true } : { ok: true, externalId: `comment:${id}` };
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

/** Replies are comments on the newest issue the ticket answers to, marked so their echo is ignored. */
export const githubOutbound: ChannelOutbound<GithubDelivery> = {
  service: "github",
  needsThreadKeys: true,
  noDeliveryReason: "the ticket has no GitHub issue to comment on; the reply is on the ticket only",
  compose(target, message) {
    const issue = githubIssueOf(target.threadKeys ?? []);
    if (issue === null) return null;
    const body = message.url === undefined ? message.text : `${message.text}\n\n${message.url}`;
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} as a comment on ${issue.repo}#${issue.issue}`,
      delivery: {
        service: "github",
        repo: issue.repo,
        issue: issue.issue,
        action: "comment",
        body: withReplyMarker(body, target.key),
      },
    };
  },
  send: sendGithubRequest,
  ticketChangeCalls(target, change, settings) {
    const issue = githubIssueOf(target.threadKeys ?? []);
    if (issue === null) return [];
    const where = `${issue.repo}#${issue.issue}`;
    const calls: OutboxItem[] = [];
    if (change.status !== undefined && settings.github.closeOnResolve) {
      const closing = change.status === "resolved";
      calls.push({
        id: `github-state:${target.key}:${change.revision}`,
        label: `${closing ? "close" : "reopen"} ${where}`,
        delivery: {
          service: "github",
          repo: issue.repo,
          issue: issue.issue,
          action: "state",
          state: closing ? "closed" : "open",
          stateReason: closing ? "completed" : "reopened",
        },
      });
    }
    const label = settings.criticalLabels[0];
    if (change.critical === true && label !== undefined) {
      calls.push({
        id: `github-critical:${target.key}:${change.revision}`,
        label: `label "${label}" on ${where}`,
        delivery: {
          service: "github",
          repo: issue.repo,
          issue: issue.issue,
          action: "labels",
          labels: [label],
        },
      });
    }
    return calls;
  },
};
