import { env } from "cloudflare:workers";
import { request, unique } from "./helpers";

const encoder = new TextEncoder();

export async function githubSignature(body: string, secret = env.GITHUB_WEBHOOK_SECRET): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return `sha256=${[...mac].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

/** POST a webhook delivery the way GitHub does: raw JSON body, signed, with event and delivery id. */
export async function postGithub(
  event: string,
  payload: unknown,
  options: { delivery?: string; signature?: string | null; body?: string } = {},
) {
  const body = options.body ?? JSON.stringify(payload);
  const delivery = options.delivery ?? crypto.randomUUID();
  const headers = new Headers({
    "content-type": "application/json",
    "user-agent": "GitHub-Hookshot/test",
    "x-github-event": event,
    "x-github-delivery": delivery,
  });
  const signature = options.signature === undefined ? await githubSignature(body) : options.signature;
  if (signature !== null) headers.set("x-hub-signature-256", signature);
  const response = await request("/webhooks/github", { method: "POST", headers, body, token: null });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { response, status: response.status, body: json, delivery };
}

type Json = Record<string, unknown>;

let issueSequence = 1000;

/**
 * A real corpus payload moved onto its own issue (every corpus file is Codertocat/Hello-World#1),
 * so tests sharing the database never thread into each other's tickets.
 */
export function onIssue<T>(payload: T, where: { repo?: string; number?: number; issueId?: number } = {}): T {
  const copy = structuredClone(payload) as Json;
  const repo = where.repo ?? `acme/${unique("repo").toLowerCase()}`;
  const number = where.number ?? ++issueSequence;
  const repository = copy.repository as Json | undefined;
  if (repository !== undefined) {
    repository.full_name = repo;
    repository.name = repo.split("/")[1];
  }
  const issue = copy.issue as Json | undefined;
  if (issue !== undefined) {
    issue.number = number;
    issue.id = where.issueId ?? 900_000_000 + number;
    issue.html_url = `https://github.com/${repo}/issues/${number}`;
  }
  return copy as T;
}

/** The same payload with changes at a path, e.g. `with(p, (c) => { c.comment.author_association = "NONE" })`. */
export function edit<T>(payload: T, change: (copy: T) => void): T {
  const copy = structuredClone(payload);
  change(copy);
  return copy;
}
