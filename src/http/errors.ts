import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

import type { ProblemIssue } from "../domain/issues";

export { type ProblemIssue, zodIssues } from "../domain/issues";

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  issues?: ProblemIssue[];
  requestId?: string;
}

const TITLES: Record<number, string> = {
  400: "Bad request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not found",
  409: "Conflict",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Unprocessable content",
  429: "Too many requests",
  500: "Internal server error",
  503: "Service unavailable",
};

/** RFC 9457 problem details, the one error envelope of the API. */
export function problem<S extends ContentfulStatusCode>(
  c: Context,
  status: S,
  detail?: string,
  extra: { issues?: ProblemIssue[]; type?: string; headers?: Record<string, string> } = {},
) {
  const body: Problem = {
    type: extra.type ?? `https://switchboard.dev/problems/${status}`,
    title: TITLES[status] ?? "Error",
    status,
    ...(detail === undefined ? {} : { detail }),
    ...(extra.issues === undefined ? {} : { issues: extra.issues }),
  };
  return c.json(body, status, { ...extra.headers, "content-type": "application/problem+json" });
}
