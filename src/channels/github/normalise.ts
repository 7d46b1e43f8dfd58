import { z } from "zod";
import type { InboundMessageInput } from "../../domain/inbound";
import { githubIssueKey } from "./keys";

/** Only the fields we use; GitHub sends many more, and zod drops them. */
const userSchema = z.object({ login: z.string(), type: z.string().optional() });

const issueSchema = z.object({
  id: z.number(),
  number: z.number().int().positive(),
  title: z.string(),
  body: z.string().nullish(),
  html_url: z.string().optional(),
  user: userSchema.nullish(),
  author_association: z.string().optional(),
  /** Present when the "issue" is a pull request (issue_comment events cover both). */
  pull_request: z.unknown().optional(),
});

const repositorySchema = z.object({
  full_name: z.string().min(3),
  /** True for private and internal repositories: their issues are never public tickets. */
  private: z.boolean().optional(),
  visibility: z.string().optional(),
});

const commentSchema = z.object({
  id: z.number(),
  body: z.string().nullish(),
  html_url: z.string().optional(),
  user: userSchema.nullish(),
  author_association: z.string(),
  /** The GitHub App that wrote the comment through an installation token, if any. */
  performed_via_github_app: z.object({ slug: z.string().optional() }).nullish(),
});

export const issuesEventSchema = z.object({
  action: z.string(),
  issue: issueSchema,
  repository: repositorySchema,
  sender: userSchema,
  label: z.object({ name: z.string() }).optional(),
  changes: z
    .object({
      old_issue: z.object({ number: z.number().int().positive() }).nullish(),
      old_repository: repositorySchema.nullish(),
    })
    .optional(),
});
export type IssuesEvent = z.infer<typeof issuesEventSchema>;

export const issueCommentEventSchema = z.object({
  action: z.string(),
  issue: issueSchema,
  comment: commentSchema,
  repository: repositorySchema,
  sender: userSchema,
});
export type IssueCommentEvent = z.infer<typeof issueCommentEventSchema>;

export const pullRequestEventSchema = z.object({
  action: z.string(),
  number: z.number().int().positive().optional(),
  pull_request: z.object({
    number: z.number().int().positive(),
    title: z.string(),
    body: z.string().nullish(),
    html_url: z.string().optional(),
    merged: z.boolean().nullish(),
    merged_at: z.string().nullish(),
  }),
  repository: repositorySchema,
  sender: userSchema,
});
export type PullRequestEvent = z.infer<typeof pullRequestEventSchema>;

export type GithubEvent =
  | { type: "ping" }
  | { type: "issues"; payload: IssuesEvent }
  | { type: "issue_comment"; payload: IssueCommentEvent }
  | { type: "pull_request"; payload: PullRequestEvent }
  | { type: "unsupported"; name: string };

export type GithubEventParse =
  | { ok: true; event: GithubEvent }
  | { ok: false; reason: "invalid_payload"; issues: z.core.$ZodIssue[] };

/** `X-GitHub-Event` + the parsed body → the events we act on; every other event is `unsupported`. */
export function parseGithubEvent(name: string, payload: unknown): GithubEventParse {
  switch (name) {
    case "ping":
      return { ok: true, event: { type: "ping" } };
    case "issues": {
      const parsed = issuesEventSchema.safeParse(payload);
      return parsed.success
        ? { ok: true, event: { type: "issues", payload: parsed.data } }
        : { ok: false, reason: "invalid_payload", issues: parsed.error.issues };
    }
    case "issue_comment": {
      const parsed = issueCommentEventSchema.safeParse(payload);
      return parsed.success
        ? { ok: true, event: { type: "issue_comment", payload: parsed.data } }
        : { ok: false, reason: "invalid_payload", issues: parsed.error.issues };
    }
    case "pull_request": {
      // Only a merge means anything to the desk (SPEC §13); every other action is answered now.
      const action =
        typeof payload === "object" && payload !== null && "action" in payload ? payload.action : null;
      if (action !== "closed")
        return { ok: true, event: { type: "unsupported", name: `${name}.${String(action)}` } };
      const parsed = pullRequestEventSchema.safeParse(payload);
      return parsed.success
        ? { ok: true, event: { type: "pull_request", payload: parsed.data } }
        : { ok: false, reason: "invalid_payload", issues: parsed.error.issues };
    }
    default:
      return { ok: true, event: { type: "unsupported", name } };
  }
}

/** GitHub posts JSON, or `payload=<json>` when the webhook's content type is form-encoded. */
export function decodeGithubBody(text: string, contentType: string | undefined): unknown {
  if (contentType?.toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    const payload = new URLSearchParams(text).get("payload");
    if (payload === null) throw new SyntaxError("form body without a payload field");
    return JSON.parse(payload);
  }
  return JSON.parse(text);
}

export function issueThreadKey(repository: { full_name: string }, issue: { number: number }): string {
  return githubIssueKey(repository.full_name, issue.number);
}

/** Repository members answering on the issue are staff; so is our own GitHub App. */
const STAFF_ASSOCIATIONS = new Set(["OWNER", "MEMBER", "COLLABORATOR"]);

/**
 * Who wrote a comment: `OWNER`/`MEMBER`/`COLLABORATOR` and our own app (a `Bot` whose login is
 * in `botLogins`) are staff; any other bot (dependabot, CI) is recorded as `system` and starts
 * no clock; everyone else is a customer.
 */
export function commentAuthor(
  comment: { author_association: string; user?: { login: string; type?: string } | null },
  botLogins: readonly string[],
): "staff" | "customer" | "system" {
  const user = comment.user;
  if (user?.type === "Bot") {
    const login = user.login.toLowerCase();
    return botLogins.some((b) => b.toLowerCase() === login) ? "staff" : "system";
  }
  return STAFF_ASSOCIATIONS.has(comment.author_association.toUpperCase()) ? "staff" : "customer";
}

/**
 * Only a repository GitHub says is public makes a public ticket: `private: false` (and, when sent,
 * `visibility: "public"`). Private and internal repositories, or a payload that does not say,
 * make private tickets.
 */
export function repositoryIsPublic(repository: { private?: boolean; visibility?: string }): boolean {
  return repository.private === false && (repository.visibility ?? "public") === "public";
}

/** Logins compare exactly, ignoring case: `my-desk` (a person) is not `my-desk[bot]` (an app). */
function sameLogin(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

/**
 * Whether our own desk wrote a comment, so a reply marker in it marks our echo: its author is one
 * of `github.botLogins` (a GitHub App's `name[bot]`, or the user behind a personal token), or —
 * when none are configured — a `Bot` posting through a GitHub App as that app. A person pasting
 * the marker is never ours.
 */
export function writtenByOurBot(
  comment: {
    user?: { login: string; type?: string } | null;
    performed_via_github_app?: { slug?: string } | null;
  },
  botLogins: readonly string[],
): boolean {
  const user = comment.user;
  if (user === null || user === undefined) return false;
  if (botLogins.length > 0) return botLogins.some((b) => sameLogin(b, user.login));
  const app = comment.performed_via_github_app?.slug;
  return user.type === "Bot" && app !== undefined && sameLogin(`${app}[bot]`, user.login);
}

export function isCriticalLabel(label: string, criticalLabels: readonly string[]): boolean {
  const name = label.trim().toLowerCase();
  return criticalLabels.some((l) => l.trim().toLowerCase() === name);
}

function login(user: { login: string } | null | undefined): string {
  return user?.login ?? "ghost";
}

interface Delivery {
  /** `X-GitHub-Delivery`. */
  id: string;
  receivedAt: number;
}

/** `issues.opened`: a new public ticket under `owner/repo#n`. */
export function normaliseIssueOpened(
  event: IssuesEvent,
  delivery: Delivery,
  options: { acknowledge: boolean },
): InboundMessageInput {
  const key = issueThreadKey(event.repository, event.issue);
  const oldKey = transferredFrom(event);
  return {
    channel: "github",
    idempotencyKey: delivery.id,
    externalId: `issue:${event.issue.id}`,
    threadKeys: oldKey === null ? [key] : [key, oldKey],
    threadKeyRules: oldKey === null ? ["issue"] : ["issue", "transferred-from"],
    extraThreadKeys: [key],
    channelName: event.repository.full_name,
    from: { handle: login(event.issue.user) },
    author: "customer",
    subject: event.issue.title,
    text: event.issue.body ?? "",
    visibility: repositoryIsPublic(event.repository) ? "public" : "private",
    context: { githubRepo: event.repository.full_name },
    // GitHub has no loop to fear here; an acknowledgement comment is simply off unless configured.
    suppressAcknowledgement: !options.acknowledge,
    receivedAt: delivery.receivedAt,
  };
}

/** An issue transferred from another repository arrives as `opened` with `changes.old_issue`. */
export function transferredFrom(event: IssuesEvent): string | null {
  const oldIssue = event.changes?.old_issue;
  const oldRepository = event.changes?.old_repository;
  if (oldIssue === null || oldIssue === undefined || oldRepository === null || oldRepository === undefined) {
    return null;
  }
  return githubIssueKey(oldRepository.full_name, oldIssue.number);
}

/**
 * `issue_comment.created`: appended to the issue's ticket, never a ticket of its own (a comment
 * on an issue or pull request we do not track is ignored).
 */
export function normaliseComment(
  event: IssueCommentEvent,
  delivery: Delivery,
  options: { botLogins: readonly string[] },
): InboundMessageInput {
  return {
    channel: "github",
    idempotencyKey: delivery.id,
    externalId: commentExternalId(event.comment),
    threadKeys: [issueThreadKey(event.repository, event.issue)],
    threadKeyRules: ["issue"],
    channelName: event.repository.full_name,
    from: { handle: login(event.comment.user) },
    author: commentAuthor(event.comment, options.botLogins),
    text: event.comment.body ?? "",
    context: { githubRepo: event.repository.full_name },
    threadOnly: true,
    suppressAcknowledgement: true,
    receivedAt: delivery.receivedAt,
  };
}

export function commentExternalId(comment: { id: number }): string {
  return `comment:${comment.id}`;
}

export function issueExternalId(issue: { id: number }): string {
  return `issue:${issue.id}`;
}
