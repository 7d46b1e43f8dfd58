import { z } from "zod";

export const deliverySchema = z.discriminatedUnion("service", [
  z.object({
    service: z.literal("slack"),
    /** `chat.update` edits the message at `body.ts` (a claimed notice); default `chat.postMessage`. */
    method: z.enum(["chat.postMessage", "chat.update", "chat.postEphemeral"]).optional(),
    body: z.object({
      channel: z.string(),
      /** chat.postEphemeral: the one user who sees it. */
      user: z.string().optional(),
      text: z.string(),
      thread_ts: z.string().optional(),
      ts: z.string().optional(),
      blocks: z.array(z.unknown()).optional(),
    }),
  }),
  z.object({
    service: z.literal("pagerduty"),
    /** Team override; null means the desk's `PAGERDUTY_ROUTING_KEY`. */
    routingKey: z.string().nullable(),
    action: z.enum(["trigger", "acknowledge", "resolve"]),
    dedupKey: z.string().max(255),
    summary: z.string().optional(),
    severity: z.enum(["critical", "error", "warning", "info"]).optional(),
    link: z.string().optional(),
  }),
  z.object({
    service: z.literal("email"),
    mail: z.object({
      from: z.string(),
      fromName: z.string(),
      to: z.string(),
      replyTo: z.string(),
      subject: z.string(),
      text: z.string(),
      messageId: z.string(),
      inReplyTo: z.string().optional(),
      references: z.array(z.string()),
      autoSubmitted: z.boolean(),
    }),
  }),
  z.object({
    service: z.literal("callback"),
    url: z.string().url(),
    body: z.object({ ticket: z.string(), kind: z.string(), text: z.string(), url: z.string().optional() }),
  }),
  z.object({
    service: z.literal("github"),
    /** `owner/repo`. */
    repo: z.string().min(3).max(200),
    issue: z.number().int().positive(),
    /** `comment` posts `body` as an issue comment; `labels` adds `labels` to the issue. */
    action: z.enum(["comment", "labels"]),
    body: z.string().optional(),
    labels: z.array(z.string()).optional(),
  }),
  z.object({
    service: z.literal("discord"),
    /** Where a channel message goes (needs DISCORD_BOT_TOKEN). */
    channelId: z.string().nullable(),
    /** The interaction's follow-up webhook, usable until `expiresAt`; preferred while it lives. */
    followup: z
      .object({ applicationId: z.string(), token: z.string(), expiresAt: z.number().int() })
      .nullable(),
    content: z.string(),
  }),
]);
export type Delivery = z.infer<typeof deliverySchema>;

/** One outbound call owed by a ticket, kept in its timer's outbox until it succeeds or finally fails. */
export const outboxItemSchema = z.object({
  id: z.string().min(1).max(200),
  delivery: deliverySchema,
  /** The outbound message this call delivers, so its delivery status can be shown. */
  messageId: z.string().optional(),
  /** Human description for the ticket when it finally fails. */
  label: z.string(),
});
export type OutboxItem = z.infer<typeof outboxItemSchema>;

export type DeliveryOutcome =
  | { ok: true; externalId?: string }
  | { ok: false; retryable: boolean; error: string; retryAfterMs?: number }
  | { ok: "skipped"; reason: string };

/** Outbound settings read from the environment; an empty value means "use the real service" or "not configured". */
export interface OutboundEnv {
  EMAIL?: SendEmail;
  ATTACHMENTS?: R2Bucket;
  SLACK_BOT_TOKEN?: string;
  SLACK_API_URL?: string;
  PAGERDUTY_ROUTING_KEY?: string;
  PAGERDUTY_EVENTS_URL?: string;
  PUBLIC_URL?: string;
  GITHUB_TOKEN?: string;
  GITHUB_API_URL?: string;
  DISCORD_BOT_TOKEN?: string;
  DISCORD_API_URL?: string;
}

export function setting(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

export const OUTBOUND_TIMEOUT_MS = 10_000;

/** Classify an HTTP answer the way every provider here wants: 429 and 5xx are worth another try. */
export async function httpOutcome(response: Response): Promise<DeliveryOutcome> {
  if (response.ok) return { ok: true };
  const body = (await response.text().catch(() => "")).slice(0, 300);
  const retryable = response.status === 429 || response.status === 408 || response.status >= 500;
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    ok: false,
    retryable,
    error: `HTTP ${response.status}${body === "" ? "" : `: ${body}`}`,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  };
}

export function networkOutcome(error: unknown): DeliveryOutcome {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, retryable: true, error: message.slice(0, 300) };
}
