import { z } from "zod";
import { CHANNEL_DELIVERY_SCHEMAS } from "../channels/outbound";
import { linearDeliverySchema } from "./linear";
import { pagerDutyDeliverySchema } from "./pagerduty";

/**
 * Every outbound call the desk can owe, as stored in a ticket timer's outbox: one per channel's
 * service (each defined in its channel's `reply.ts`, listed in `channels/outbound.ts`), PagerDuty
 * and Linear (attachments on linked issues).
 */
export const deliverySchema = z.discriminatedUnion("service", [
  ...CHANNEL_DELIVERY_SCHEMAS,
  pagerDutyDeliverySchema,
  linearDeliverySchema,
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
  /** Standard Webhooks secret (`whsec_…`) that signs every `api` callback. */
  CALLBACK_SIGNING_SECRET?: string;
  LINEAR_API_KEY?: string;
  LINEAR_API_URL?: string;
}
