import type {
  EntityWebhookPayloadWithCommentData,
  EntityWebhookPayloadWithIssueData,
} from "@linear/sdk/webhooks";
import { z } from "zod";

/**
 * The parts of Linear's webhook payloads the desk reads (https://linear.app/developers/webhooks),
 * as @linear/sdk's webhook types define them: `EntityWebhookPayloadWithIssueData` and
 * `EntityWebhookPayloadWithCommentData`. Only types come from the SDK (nothing of it is bundled);
 * the checks below fail to compile if the SDK's shapes stop fitting these schemas.
 */

const stateSchema = z.object({ id: z.string(), name: z.string(), type: z.string() });

export const issueEventSchema = z.object({
  type: z.literal("Issue"),
  action: z.string(),
  webhookTimestamp: z.number(),
  data: z.object({
    id: z.string().min(1).max(100),
    identifier: z.string().min(1).max(50),
    title: z.string().max(1000),
    url: z.string().max(2048),
    stateId: z.string(),
    state: stateSchema,
    completedAt: z.string().nullish(),
    canceledAt: z.string().nullish(),
  }),
  /** In an `update`, the previous values of what changed: `stateId` present means the state moved. */
  updatedFrom: z.record(z.string(), z.unknown()).nullish(),
});
export type LinearIssueEvent = z.infer<typeof issueEventSchema>;

const actorSchema = z.object({ name: z.string().nullish() }).passthrough();

export const commentEventSchema = z.object({
  type: z.literal("Comment"),
  action: z.string(),
  webhookTimestamp: z.number(),
  data: z.object({
    id: z.string().min(1).max(100),
    body: z.string(),
    issueId: z.string().nullish(),
    issue: z.object({ id: z.string(), identifier: z.string(), title: z.string(), url: z.string() }).nullish(),
    user: z.object({ name: z.string() }).passthrough().nullish(),
    botActor: z.unknown().optional(),
  }),
  actor: actorSchema.nullish(),
});
export type LinearCommentEvent = z.infer<typeof commentEventSchema>;

// Compile-time: every payload the SDK's types allow is one these schemas accept.
type Accepts<Schema extends z.ZodType, Payload> = Payload extends z.input<Schema> ? true : false;
const sdkIssueFits: Accepts<typeof issueEventSchema, EntityWebhookPayloadWithIssueData> = true;
const sdkCommentFits: Accepts<typeof commentEventSchema, EntityWebhookPayloadWithCommentData> = true;
void sdkIssueFits;
void sdkCommentFits;

export type LinearEvent =
  | { type: "issue"; payload: LinearIssueEvent }
  | { type: "comment"; payload: LinearCommentEvent }
  | { type: "unsupported"; what: string };

export type LinearEventParse = { ok: true; event: LinearEvent } | { ok: false; issues: z.core.$ZodIssue[] };

/** A verified body → what the desk acts on: an issue's state change, a new comment; else unsupported. */
export function parseLinearEvent(body: unknown): LinearEventParse {
  const head = z.object({ type: z.string(), action: z.string() }).safeParse(body);
  if (!head.success) return { ok: false, issues: head.error.issues };
  const { type, action } = head.data;
  if (type === "Issue" && action === "update") {
    const parsed = issueEventSchema.safeParse(body);
    return parsed.success
      ? { ok: true, event: { type: "issue", payload: parsed.data } }
      : { ok: false, issues: parsed.error.issues };
  }
  if (type === "Comment" && action === "create") {
    const parsed = commentEventSchema.safeParse(body);
    return parsed.success
      ? { ok: true, event: { type: "comment", payload: parsed.data } }
      : { ok: false, issues: parsed.error.issues };
  }
  return { ok: true, event: { type: "unsupported", what: `${type}.${action}` } };
}

/** Whether an issue update moved the issue to another workflow state. */
export function stateChanged(event: LinearIssueEvent): boolean {
  const from = event.updatedFrom?.stateId;
  return typeof from === "string" && from !== event.data.stateId;
}
