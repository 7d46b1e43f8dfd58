import { z } from "zod";
import { type InboundMessageInput, prioritySchema, visibilitySchema } from "../../domain/inbound";

/** SPEC §3 `api`: what an integration POSTs to /v1/messages. */
export const apiMessageSchema = z.strictObject({
  externalId: z.string().trim().min(1).max(256),
  threadId: z.string().trim().min(1).max(256).optional(),
  channelName: z.string().max(200).optional(),
  from: z.strictObject({
    name: z.string().max(200).optional(),
    email: z.string().email().max(320).optional(),
    handle: z.string().max(200).optional(),
  }),
  subject: z.string().max(1000).optional(),
  text: z
    .string()
    .min(1)
    .max(512 * 1024),
  priority: prioritySchema.optional(),
  visibility: visibilitySchema.optional(),
  callbackUrl: z
    .string()
    .url()
    .max(2048)
    .refine((url) => /^https?:\/\//i.test(url), "callbackUrl must be http(s)")
    .optional(),
});
export type ApiMessage = z.infer<typeof apiMessageSchema>;

/**
 * The integration's `threadId` is its conversation; without one, every message is its own thread,
 * keyed by `externalId` so a later message may name it as its `threadId`.
 */
export function normaliseApiMessage(body: ApiMessage, receivedAt: number): InboundMessageInput {
  const thread = body.threadId ?? body.externalId;
  return {
    channel: "api",
    idempotencyKey: body.externalId,
    threadKeys: [thread],
    threadKeyRules: ["threadId"],
    channelName: body.channelName,
    from: body.from,
    author: "customer",
    subject: body.subject,
    text: body.text,
    priority: body.priority,
    visibility: body.visibility,
    callbackUrl: body.callbackUrl,
    context: {},
    receivedAt,
  };
}
