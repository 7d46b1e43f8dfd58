import { z } from "zod";
import { type DeliveryOutcome, httpOutcome, postJson } from "../../notify/http";
import type { ChannelOutbound } from "../contract";

export const callbackDeliverySchema = z.object({
  service: z.literal("callback"),
  url: z.string().url(),
  body: z.object({ ticket: z.string(), kind: z.string(), text: z.string(), url: z.string().optional() }),
});
export type CallbackDelivery = z.infer<typeof callbackDeliverySchema>;

/** `api` tickets: replies, the acknowledgement and the survey are POSTed to the integration's callbackUrl. */
export async function postCallback(url: string, body: CallbackDelivery["body"]): Promise<DeliveryOutcome> {
  // A callback is never followed to another host: the integration named this URL, and only it.
  const sent = await postJson(url, { "user-agent": "Switchboard/1 (+callback)" }, JSON.stringify(body), {
    redirect: "manual",
  });
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
        body: {
          ticket: target.key,
          kind: message.kind,
          text: message.text,
          ...(message.url === undefined ? {} : { url: message.url }),
        },
      },
    };
  },
  send: (_env, delivery) => postCallback(delivery.url, delivery.body),
};
