import type { Context } from "hono";
import { problem, zodIssues } from "./errors";

/** Every request validation failure is a 400 problem listing each issue. */
export function validationHook(
  result:
    | { success: true }
    | {
        success: false;
        error: { issues: readonly { path: readonly PropertyKey[]; message: string; code?: string }[] };
      },
  c: Context,
): Response | undefined {
  if (result.success) return undefined;
  return problem(c, 400, "The request does not match the schema.", {
    issues: zodIssues(result.error.issues),
  });
}
