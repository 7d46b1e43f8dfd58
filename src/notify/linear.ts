import { z } from "zod";
import { apiBase, type DeliveryOutcome, httpOutcome, postJson, setting } from "./http";

const LINEAR_API = "https://api.linear.app";

export interface LinearEnv {
  LINEAR_API_KEY?: string;
  LINEAR_API_URL?: string;
}

export type LinearResult =
  | { ok: true; id: string; identifier: string; url: string }
  | { ok: false; reason: "not_configured"; detail: string }
  | { ok: false; reason: "failed"; detail: string };

const ISSUE_CREATE = `mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}`;

/** Linear's `issue(id:)` takes the uuid or the identifier (`ENG-12`). */
const ISSUE_LOOKUP = `query Issue($id: String!) {
  issue(id: $id) { id identifier title url state { type } }
}`;

const ATTACHMENT_CREATE = `mutation AttachmentCreate($input: AttachmentCreateInput!) {
  attachmentCreate(input: $input) { success attachment { id } }
}`;

type GraphqlAnswer =
  | { ok: true; data: Record<string, unknown> }
  | { ok: false; retryable: boolean; detail: string; status?: number };

/** One GraphQL call; personal API keys go in `Authorization` as they are (no Bearer). */
async function linearGraphql(
  env: LinearEnv,
  key: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<GraphqlAnswer> {
  const sent = await postJson(
    `${apiBase(env.LINEAR_API_URL, LINEAR_API)}/graphql`,
    { authorization: key },
    JSON.stringify({ query, variables }),
  );
  if (!sent.ok) {
    const { outcome } = sent;
    return { ok: false, retryable: true, detail: outcome.ok === false ? outcome.error : "network error" };
  }
  const { response } = sent;
  if (!response.ok) {
    const outcome = await httpOutcome(response);
    return {
      ok: false,
      retryable: outcome.ok === false && outcome.retryable,
      detail: outcome.ok === false ? `Linear: ${outcome.error}` : "Linear error",
      status: response.status,
    };
  }
  const body: unknown = await response.json().catch(() => null);
  const result = body as { data?: Record<string, unknown> | null; errors?: { message?: string }[] } | null;
  if (result?.data === undefined || result.data === null) {
    const message = result?.errors?.map((e) => e.message).join("; ") || "no data in the answer";
    return { ok: false, retryable: false, detail: `Linear: ${message}` };
  }
  return { ok: true, data: result.data };
}

/** Linear GraphQL `issueCreate`. */
export async function createLinearIssue(
  env: LinearEnv,
  input: { teamId: string | undefined; title: string; description: string },
): Promise<LinearResult> {
  const key = setting(env.LINEAR_API_KEY);
  if (key === undefined) return { ok: false, reason: "not_configured", detail: "LINEAR_API_KEY is not set" };
  if (input.teamId === undefined) {
    return { ok: false, reason: "not_configured", detail: "the ticket's team has no linearTeamId" };
  }
  const answer = await linearGraphql(env, key, ISSUE_CREATE, {
    input: { teamId: input.teamId, title: input.title, description: input.description },
  });
  if (!answer.ok) return { ok: false, reason: "failed", detail: answer.detail };
  const created = answer.data.issueCreate as
    | { success?: boolean; issue?: Record<string, unknown> }
    | undefined;
  const issue = created?.issue;
  if (created?.success !== true || typeof issue?.url !== "string" || typeof issue.id !== "string") {
    return { ok: false, reason: "failed", detail: "Linear: issueCreate did not succeed" };
  }
  return { ok: true, id: issue.id, identifier: String(issue.identifier ?? issue.id), url: issue.url };
}

export interface LinearIssue {
  id: string;
  identifier: string;
  title: string;
  url: string;
  /** The workflow state's type (`started`, `completed`, `canceled`…). */
  stateType: string | null;
}

const issueSchema = z.object({
  id: z.string().min(1),
  identifier: z.string().min(1),
  title: z.string(),
  url: z.string().url(),
  state: z.object({ type: z.string() }).nullish(),
});

export type LinearLookup =
  | { ok: true; issue: LinearIssue }
  | { ok: false; reason: "not_configured" | "not_found" | "failed"; detail: string };

/** Look an existing issue up by identifier (`ENG-12`) or uuid. */
export async function findLinearIssue(env: LinearEnv, ref: string): Promise<LinearLookup> {
  const key = setting(env.LINEAR_API_KEY);
  if (key === undefined) return { ok: false, reason: "not_configured", detail: "LINEAR_API_KEY is not set" };
  const answer = await linearGraphql(env, key, ISSUE_LOOKUP, { id: ref });
  if (!answer.ok) {
    // Linear answers an unknown id with an "Entity not found" error and no data.
    return /not found/i.test(answer.detail)
      ? { ok: false, reason: "not_found", detail: `Linear has no issue ${ref}` }
      : { ok: false, reason: "failed", detail: answer.detail };
  }
  if (answer.data.issue === null || answer.data.issue === undefined) {
    return { ok: false, reason: "not_found", detail: `Linear has no issue ${ref}` };
  }
  const parsed = issueSchema.safeParse(answer.data.issue);
  if (!parsed.success)
    return { ok: false, reason: "failed", detail: "Linear: the issue's answer is not understood" };
  const { id, identifier, title, url, state } = parsed.data;
  return { ok: true, issue: { id, identifier, title, url, stateType: state?.type ?? null } };
}

/**
 * An outbox call to Linear: attach a ticket's link to the issue it is linked to, so engineers see
 * every affected customer. Linear keeps one attachment per (issue, url): a second call updates it,
 * so paying this debt twice changes nothing.
 */
export const linearDeliverySchema = z.object({
  service: z.literal("linear"),
  action: z.literal("attachment"),
  issueId: z.string().min(1).max(100),
  url: z.string().url().max(2048),
  title: z.string().min(1).max(250),
  subtitle: z.string().max(250).optional(),
});
export type LinearDelivery = z.infer<typeof linearDeliverySchema>;

export async function sendLinearRequest(env: LinearEnv, delivery: LinearDelivery): Promise<DeliveryOutcome> {
  const key = setting(env.LINEAR_API_KEY);
  if (key === undefined) return { ok: "skipped", reason: "LINEAR_API_KEY is not set" };
  const answer = await linearGraphql(env, key, ATTACHMENT_CREATE, {
    input: {
      issueId: delivery.issueId,
      url: delivery.url,
      title: delivery.title,
      ...(delivery.subtitle === undefined ? {} : { subtitle: delivery.subtitle }),
    },
  });
  if (!answer.ok) return { ok: false, retryable: answer.retryable, error: answer.detail };
  const made = answer.data.attachmentCreate as
    | { success?: boolean; attachment?: { id?: unknown } }
    | undefined;
  if (made?.success !== true)
    return { ok: false, retryable: false, error: "Linear: attachmentCreate did not succeed" };
  return typeof made.attachment?.id === "string"
    ? { ok: true, externalId: made.attachment.id }
    : { ok: true };
}
