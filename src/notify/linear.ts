import { apiBase, httpOutcome, postJson, setting } from "./http";

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

/** Linear GraphQL `issueCreate`; personal API keys go in `Authorization` as they are (no Bearer). */
export async function createLinearIssue(
  env: LinearEnv,
  input: { teamId: string | undefined; title: string; description: string },
): Promise<LinearResult> {
  const key = setting(env.LINEAR_API_KEY);
  if (key === undefined) return { ok: false, reason: "not_configured", detail: "LINEAR_API_KEY is not set" };
  if (input.teamId === undefined) {
    return { ok: false, reason: "not_configured", detail: "the ticket's team has no linearTeamId" };
  }
  const sent = await postJson(
    `${apiBase(env.LINEAR_API_URL, LINEAR_API)}/graphql`,
    { authorization: key },
    JSON.stringify({
      query: ISSUE_CREATE,
      variables: { input: { teamId: input.teamId, title: input.title, description: input.description } },
    }),
  );
  if (!sent.ok) {
    const { outcome } = sent;
    return { ok: false, reason: "failed", detail: outcome.ok === false ? outcome.error : "network error" };
  }
  const { response } = sent;
  if (!response.ok) {
    const outcome = await httpOutcome(response);
    return {
      ok: false,
      reason: "failed",
      detail: outcome.ok === false ? `Linear: ${outcome.error}` : "Linear error",
    };
  }
  const body: unknown = await response.json().catch(() => null);
  const result = body as {
    data?: { issueCreate?: { success?: boolean; issue?: Record<string, unknown> } };
    errors?: { message?: string }[];
  } | null;
  const issue = result?.data?.issueCreate?.issue;
  if (
    result?.data?.issueCreate?.success !== true ||
    typeof issue?.url !== "string" ||
    typeof issue.id !== "string"
  ) {
    const message = result?.errors?.map((e) => e.message).join("; ") || "issueCreate did not succeed";
    return { ok: false, reason: "failed", detail: `Linear: ${message}` };
  }
  return { ok: true, id: issue.id, identifier: String(issue.identifier ?? issue.id), url: issue.url };
}
