import { discordFollowupOf, githubIssueOf } from "../domain/channel-keys";
import type { Channel } from "../domain/inbound";
import { withReplyMarker } from "./github";
import type { OutboxItem } from "./types";

export interface ReplyTarget {
  key: string;
  channel: Channel;
  callbackUrl: string | null;
  /** Where the ticket came in (GitHub repository, Discord channel id…). */
  channelName?: string | null;
  /** The ticket's thread keys, newest first: GitHub's `owner/repo#n`, Discord's follow-up webhook. */
  threadKeys?: readonly string[];
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
    case "github": {
      const issue = githubIssueOf(ticket.threadKeys ?? []);
      if (issue === null) return null;
      const body = url === undefined ? text : `${text}\n\n${url}`;
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} as a comment on ${issue.repo}#${issue.issue}`,
        delivery: {
          service: "github",
          repo: issue.repo,
          issue: issue.issue,
          action: "comment",
          body: withReplyMarker(body, ticket.key),
        },
      };
    }
    case "discord": {
      // The acknowledgement is the interaction's own response (type 4), sent before this runs.
      if (kind === "acknowledgement") return null;
      const followup = discordFollowupOf(ticket.threadKeys ?? []);
      const channelId = ticket.channelName ?? null;
      if (followup === null && channelId === null) return null;
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} on Discord`,
        delivery: {
          service: "discord",
          channelId,
          followup,
          content: `**${ticket.key}** ${url === undefined ? text : `${text}\n${url}`}`,
        },
      };
    }
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
