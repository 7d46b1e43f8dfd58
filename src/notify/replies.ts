import type { Channel } from "../domain/inbound";
import type { OutboxItem } from "./types";

export interface ReplyTarget {
  key: string;
  channel: Channel;
  callbackUrl: string | null;
}

export type ReplyKind = "acknowledgement" | "reply" | "survey";

/**
 * How a message to the customer leaves on the ticket's own channel, or null when the channel has
 * no way back (an `api` ticket without a callbackUrl: its acknowledgement is the 202 body).
 */
export function customerDelivery(
  ticket: ReplyTarget,
  kind: ReplyKind,
  text: string,
  messageId: string,
  url?: string,
): OutboxItem | null {
  switch (ticket.channel) {
    case "api":
      if (ticket.callbackUrl === null) return null;
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} to the integration's callbackUrl`,
        delivery: {
          service: "callback",
          url: ticket.callbackUrl,
          body: { ticket: ticket.key, kind, text, ...(url === undefined ? {} : { url }) },
        },
      };
    default:
      // Channels whose adapters have not landed yet keep the message on the ticket only.
      return null;
  }
}

/** Why a customer-facing message could not leave on its channel (shown as its delivery error). */
export function noDeliveryReason(channel: Channel): string {
  return channel === "api"
    ? "the integration gave no callbackUrl; the reply is on the ticket only"
    : `replies on ${channel} are not wired up yet`;
}
