import { discordFollowupOf, githubIssueOf } from "../domain/channel-keys";
import { slackEscape } from "../domain/escalation";
import type { Channel } from "../domain/inbound";
import { withReplyMarker } from "./github";
import type { OutboxItem } from "./types";

/** What a message to the customer needs to know about its ticket. */
export interface ReplyTarget {
  key: string;
  channel: Channel;
  callbackUrl: string | null;
  subject: string;
  requesterName: string | null;
  requesterEmail: string | null;
  /** Where the ticket came in (email: the address written to; GitHub: the repository; Discord: the channel id). */
  channelName: string | null;
  /** The ticket's thread keys, newest first: GitHub's `owner/repo#n`, Discord's follow-up webhook. */
  threadKeys?: readonly string[];
}

/** The reply target of a stored ticket row (with its thread keys, newest first, where the channel needs them). */
export function replyTargetOf(
  row: {
    number: number;
    channel: Channel;
    callbackUrl: string | null;
    subject: string;
    requesterName: string | null;
    requesterEmail: string | null;
    channelName: string | null;
  },
  threadKeys: readonly string[] = [],
): ReplyTarget {
  return {
    threadKeys,
    key: `SUP-${row.number}`,
    channel: row.channel,
    callbackUrl: row.callbackUrl,
    subject: row.subject,
    requesterName: row.requesterName,
    requesterEmail: row.requesterEmail,
    channelName: row.channelName,
  };
}

export type ReplyKind = "acknowledgement" | "reply" | "survey";

/** Email threading of one outgoing message: our Message-ID and what it answers. */
export interface EmailThreading {
  messageId: string;
  inReplyTo?: string;
  references: string[];
  /** The address we answer from (one of ours); the support address unless the customer wrote to another. */
  from: string;
  supportAddress: string;
}

export interface DeliveryExtras {
  url?: string;
  email?: EmailThreading;
}

/** A fresh Message-ID on our own domain (RFC 5322 §3.6.4), without angle brackets. */
export function newEmailMessageId(supportAddress: string): string {
  const domain = supportAddress.split("@")[1] ?? "switchboard.invalid";
  return `${crypto.randomUUID()}@${domain}`;
}

function emailSubject(subject: string, key: string): string {
  const base = subject.trim() === "" ? "Your support request" : subject.trim();
  const withoutRe = base.replace(/^((re|aw|sv|fw|fwd)\s*:\s*)+/i, "");
  const tagged = withoutRe.includes(`[${key}]`) ? withoutRe : `${withoutRe} [${key}]`;
  return `Re: ${tagged}`;
}

/**
 * How a message to the customer leaves on the ticket's own channel, or null when the channel has
 * no way back (an `api` ticket without a callbackUrl: its acknowledgement is the 202 body).
 */
export function customerDelivery(
  ticket: ReplyTarget,
  kind: ReplyKind,
  text: string,
  messageId: string,
  extras: DeliveryExtras = {},
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
          body: { ticket: ticket.key, kind, text, ...(extras.url === undefined ? {} : { url: extras.url }) },
        },
      };
    case "email": {
      if (ticket.requesterEmail === null || extras.email === undefined) return null;
      const body = extras.url === undefined ? text : `${text}\n\n${extras.url}`;
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} email to ${ticket.requesterEmail}`,
        delivery: {
          service: "email",
          mail: {
            from: extras.email.from,
            fromName: "Support",
            to: ticket.requesterEmail,
            replyTo: extras.email.supportAddress,
            subject: emailSubject(ticket.subject, ticket.key),
            text: body,
            messageId: extras.email.messageId,
            ...(extras.email.inReplyTo === undefined ? {} : { inReplyTo: extras.email.inReplyTo }),
            references: extras.email.references,
            autoSubmitted: kind !== "reply",
          },
        },
      };
    }
    case "slack": {
      // A Slack ticket opened under `<channel>:<thread ts>` (SPEC §3): its oldest key is where replies go.
      const threadKey = ticket.threadKeys?.[ticket.threadKeys.length - 1];
      const at = threadKey?.indexOf(":") ?? -1;
      if (threadKey === undefined || at <= 0) return null;
      const channel = threadKey.slice(0, at);
      const threadTs = threadKey.slice(at + 1);
      const body = slackEscape(
        extras.url === undefined || text.includes(extras.url) ? text : `${text}\n${extras.url}`,
      );
      return {
        id: `msg:${messageId}`,
        messageId,
        label: `${kind} to Slack ${channel}`,
        delivery: { service: "slack", body: { channel, text: body, thread_ts: threadTs } },
      };
    }
    case "github": {
      const issue = githubIssueOf(ticket.threadKeys ?? []);
      if (issue === null) return null;
      const body = extras.url === undefined ? text : `${text}\n\n${extras.url}`;
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
          content: `**${ticket.key}** ${extras.url === undefined ? text : `${text}\n${extras.url}`}`,
        },
      };
    }
    default:
      // Channels whose adapters have not landed yet keep the message on the ticket only.
      return null;
  }
}

/** Channels whose reply address is one of the ticket's thread keys (an issue, an interaction webhook). */
export function needsThreadKeys(channel: Channel): boolean {
  return channel === "github" || channel === "discord" || channel === "slack";
}

/** Why a customer-facing message could not leave on its channel (shown as its delivery error). */
export function noDeliveryReason(channel: Channel): string {
  switch (channel) {
    case "api":
      return "the integration gave no callbackUrl; the reply is on the ticket only";
    case "email":
      return "the ticket has no requester address";
    case "slack":
      return "the ticket has no Slack thread to reply in; the reply is on the ticket only";
    default:
      return `replies on ${channel} are not wired up yet`;
  }
}
