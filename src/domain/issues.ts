/** One problem with an input, as every 400 answer lists it. */
export interface ProblemIssue {
  path: string;
  message: string;
  code?: string;
}

/** zod issues → problem issues with dotted paths ("from.email", "routes.2.team"). */
export function zodIssues(
  issues: readonly { path: readonly PropertyKey[]; message: string; code?: string }[],
): ProblemIssue[] {
  return issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
    ...(issue.code === undefined ? {} : { code: issue.code }),
  }));
}
