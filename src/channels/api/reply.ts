import { z } from "zod";
import { sha256Hex } from "../../domain/encoding";
import { type DeliveryOutcome, httpOutcome, postJson } from "../../notify/http";
import type { OutboundEnv } from "../../notify/types";
import type { ChannelOutbound } from "../contract";
import { callbackSigningKey, type SigningKey, signatureHeaders } from "./sign";

export const callbackDeliverySchema = z.object({
  service: z.literal("callback"),
  url: z.string().url(),
  body: z.object({ ticket: z.string(), kind: z.string(), text: z.string(), url: z.string().optional() }),
  /**
   * The Standard Webhooks `webhook-id`, fixed when the call is composed so that every attempt (a
   * retry, a resend after a crash) carries the same one. Optional only for calls composed before it
   * existed (see `webhookIdOf`).
   */
  webhookId: z.string().min(1).max(200).optional(),
});
export type CallbackDelivery = z.infer<typeof callbackDeliverySchema>;

/** The `webhook-id` of the callback that delivers outbound message `messageId`. */
export function webhookIdFor(messageId: string): string {
  return `msg_${messageId}`;
}

/**
 * A call already in an outbox before deliveries carried their id: derived from what it sends, so
 * its retries still agree. (Two such calls with the very same body to the same URL would share one.)
 */
async function webhookIdOf(delivery: CallbackDelivery): Promise<string> {
  if (delivery.webhookId !== undefined) return delivery.webhookId;
  const digest = await sha256Hex(`${delivery.url}\n${JSON.stringify(delivery.body)}`);
  return `msg_legacy_${digest.slice(0, 32)}`;
}

/** The imported key for the secret last seen by this isolate (kept resolved: no promise crosses requests). */
let cachedKey: { secret: string | undefined; key: SigningKey } | undefined;
async function signingKey(secret: string | undefined): Promise<SigningKey> {
  if (cachedKey === undefined || cachedKey.secret !== secret) {
    cachedKey = { secret, key: await callbackSigningKey(secret) };
  }
  return cachedKey.key;
}

/**
 * `api` tickets: replies, the acknowledgement and the survey are POSTed to the integration's
 * callbackUrl, signed with `CALLBACK_SIGNING_SECRET` (Standard Webhooks). Without a usable secret
 * the call is skipped (shown on the ticket, logged by the timer), never sent unsigned.
 */
export async function postCallback(
  env: Pick<OutboundEnv, "CALLBACK_SIGNING_SECRET">,
  delivery: CallbackDelivery,
  now: number = Date.now(),
): Promise<DeliveryOutcome> {
  const key = await signingKey(env.CALLBACK_SIGNING_SECRET);
  if (!key.ok) return { ok: "skipped", reason: `${key.reason}: callbacks are only sent signed` };
  const body = JSON.stringify(delivery.body);
  const signature = await signatureHeaders(key.key, await webhookIdOf(delivery), now / 1000, body);
  // A callback is never followed to another host: the integration named this URL, and only it.
  const sent = await postJson(
    delivery.url,
    { "user-agent": "Switchboard/1 (+callback)", ...signature },
    body,
    { redirect: "manual" },
  );
  return sent.ok ? httpOutcome(sent.response) : sent.outcome;
}

/** `api` tickets are answered at the integration's `callbackUrl`; without one, on the ticket only. */
export const apiOutbound: ChannelOutbound<CallbackDelivery> = {
  service: "callback",
  needsThreadKeys: false,
  noDeliveryReason: "the integration gave no callbackUrl; the reply is on the ticket only",
  compose(target, message) {
    if (target.callbackUrl === null) return null;
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} to the integration's callbackUrl`,
      delivery: {
        service: "callback",
        url: target.callbackUrl,
        webhookId: webhookIdFor(message.messageId),
        body: {
          ticket: target.key,
          kind: message.kind,
          text: message.text,
          ...(message.url === undefined ? {} : { url: message.url }),
        },
      },
    };
  },
  send: (env, delivery) => postCallback(env, delivery),
};
