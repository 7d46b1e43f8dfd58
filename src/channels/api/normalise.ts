import { z } from "zod";
import { callbackUrlRefusal } from "../../domain/access";
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
    .superRefine((url, ctx) => {
      const refusal = callbackUrlRefusal(url, undefined);
      if (refusal !== null) ctx.addIssue({ code: "custom", message: refusal });
    })
    .optional(),
});
export type ApiMessage = z.infer<typeof apiMessageSchema>;

/**
 * SPEC §3: `externalId` and `threadId` belong to the token that sent them. Stored keys are
 * `<token name>:<id>`; a name never contains `:` (API_TOKENS splits on it), so two names never
 * make the same key. Keys stored before scoping are the bare ids, which no scoped key can equal
 * unless an old id itself began with `<name>:` (README "Tokens and roles" says what that means).
 */
export function scopedKey(caller: string, id: string): string {
  return `${caller}:${id}`;
}

/**
 * The integration's `threadId` is its conversation; without one, every message is its own thread,
 * keyed by `externalId` so a later message may name it as its `threadId`. Both are scoped to the
 * calling token's name.
 */
export function normaliseApiMessage(
  caller: string,
  body: ApiMessage,
  receivedAt: number,
): InboundMessageInput {
  const thread = body.threadId ?? body.externalId;
  return {
    channel: "api",
    idempotencyKey: scopedKey(caller, body.externalId),
    // The message keeps the caller's own id (it is unique within a ticket, and a ticket has one caller).
    externalId: body.externalId,
    threadKeys: [scopedKey(caller, thread)],
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
