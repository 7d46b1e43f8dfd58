import { expect } from "vitest";
import commentCreated1 from "../fixtures/corpus/github/issue_comment.created.1.json";
import opened1 from "../fixtures/corpus/github/issues.opened.1.json";
import { edit, onIssue, postGithub } from "./github-helpers";
import { flush, getTicket, request, type TicketJson } from "./helpers";

/**
 * Helpers for the visibility suites (private.test.ts, crawler.test.ts): words nobody else uses,
 * the public search surfaces, and GitHub payloads cloned from the corpus.
 */

let words = 0;
/** A word no other test writes: letters and digits only, long enough for any search term limit. */
export function secretWord(prefix = "zq"): string {
  words += 1;
  return `${prefix}${Math.random().toString(36).slice(2, 8)}${words}x${Date.now().toString(36)}`;
}

/** `GET /v1/search?q=` without a token: the keys it finds. */
export async function searchKeys(q: string): Promise<string[]> {
  const response = await request(`/v1/search?q=${encodeURIComponent(q)}`, { token: null });
  expect(response.status).toBe(200);
  const { results } = (await response.json()) as { results: { key: string }[] };
  return results.map((r) => r.key);
}

/** `GET /kb?q=` without a session: the page's HTML. */
export async function kbPage(q: string): Promise<string> {
  const response = await request(`/kb?q=${encodeURIComponent(q)}`, { token: null });
  expect(response.status).toBe(200);
  return response.text();
}

export async function patchTicket(key: string, json: Record<string, unknown>) {
  const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function resolveTicket(key: string): Promise<void> {
  const { status } = await patchTicket(key, { status: "resolved" });
  expect(status).toBe(200);
  await flush(key);
}

export async function replyTo(key: string, text: string): Promise<void> {
  const response = await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text } });
  expect(response.status).toBe(201);
}

export type IssuePayload = typeof opened1;
export type CommentPayload = typeof commentCreated1;

export interface TicketWithMore extends TicketJson {
  subject: string;
  security: boolean;
  requester: { name: string | null; email: string | null; handle: string | null };
  messages: (TicketJson["messages"][number] & { editedAt: string | null; deletedAt: string | null })[];
}

export async function ticketOf(key: string): Promise<TicketWithMore> {
  return (await getTicket(key)) as TicketWithMore;
}

/** `issues.opened` (corpus issues.opened.1) on a fresh issue with this title and body. */
export async function openGithubIssue(
  title: string,
  body: string,
  change: (p: IssuePayload) => void = () => {},
): Promise<{ issue: IssuePayload; key: string }> {
  const issue = edit(onIssue(opened1), (p) => {
    p.issue.title = title;
    p.issue.body = body;
    change(p);
  });
  const result = await postGithub("issues", issue);
  expect(result.status).toBe(202);
  const key = result.body.ticket as string;
  await flush(key);
  return { issue, key };
}

/** A corpus payload re-addressed to the same issue (repository, number, id) as `issue`. */
export function aboutIssue<T>(payload: T, issue: IssuePayload): T {
  return onIssue(payload, {
    repo: issue.repository.full_name,
    number: issue.issue.number,
    issueId: issue.issue.id,
  });
}

let commentIds = 770_000_000;

/** `issue_comment.created` (corpus issue_comment.created.1) by a customer (association NONE) unless told. */
export function customerComment(
  issue: IssuePayload,
  body: string,
  change: (p: CommentPayload) => void = () => {},
): CommentPayload {
  return edit(aboutIssue(commentCreated1, issue), (p) => {
    commentIds += 1;
    p.comment.id = commentIds;
    p.comment.body = body;
    p.comment.author_association = "NONE";
    p.comment.user.login = "a-customer";
    change(p);
  });
}
