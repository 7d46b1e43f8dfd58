import { slackEscape } from "../domain/escalation";
import type { Channel } from "../domain/inbound";
import type { OutboxItem } from "./types";

export interface ReplyTarget {
  key: string;
  channel: Channel;
  callbackUrl: string | null;
  /**
   * The conversation on the channel that a reply joins: the ticket's first thread key (for Slack
   * `<channel id>:<thread ts>`). Null or absent when the channel needs none or it is unknown.
   */
  threadKey?: string | null;
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
    case "slack": {
      // A Slack ticket's thread key is `<channel>:<thread ts>` (SPEC §3), exactly where the reply goes.
      const at = ticket.threadKey?.indexOf(":") ?? -1;
      if (ticket.threadKey === undefined || ticket.threadKey === null || at <= 0) return null;
      const channel = ticket.threadKey.slice(0, at);
      const threadTs = ticket.threadKey.slice(at + 1);
      const body = slackEscape(url === undefined || text.includes(url) ? text : `${text}\n${url}`);
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} to Slack ${channel}`,
        delivery: { service: "slack", body: { channel, text: body, thread_ts: threadTs } },
      };
    }
    default:
      // Channels whose adapters have not landed yet keep the message on the ticket only.
      return null;
  }
}

/** Why a customer-facing message could not leave on its channel (shown as its delivery error). */
export function noDeliveryReason(channel: Channel): string {
  if (channel === "api") return "the integration gave no callbackUrl; the reply is on the ticket only";
  if (channel === "slack")
    return "the ticket has no Slack thread to reply in; the reply is on the ticket only";
  return `replies on ${channel} are not wired up yet`;
}
