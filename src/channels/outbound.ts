import type { Channel } from "../domain/inbound";
import { ticketKey } from "../domain/ticket";
import type { DeliveryOutcome } from "../notify/http";
import type { Delivery, OutboundEnv, OutboxItem } from "../notify/types";
import { apiOutbound, callbackDeliverySchema } from "./api/reply";
import type {
  ChannelOutbound,
  OutgoingMessage,
  ReplyTarget,
  ReplyTargetRow,
  TicketChange,
  TicketChangeSettings,
} from "./contract";
import { discordDeliverySchema, discordOutbound } from "./discord/reply";
import { emailDeliverySchema, emailOutbound } from "./email/reply";
import { githubDeliverySchema, githubOutbound } from "./github/reply";
import { slackDeliverySchema, slackOutbound } from "./slack/reply";

export type {
  EmailThreading,
  OutgoingMessage,
  ReplyKind,
  ReplyTarget,
  TicketChange,
  TicketChangeSettings,
} from "./contract";
export { newEmailMessageId } from "./email/reply";
export { CLAIM_ACTION_ID, claimedNoticeBlocks, postSlackMessage, slackNotice } from "./slack/reply";

/**
 * The outbound registry: each channel's outbound half (`<channel>/reply.ts`), by channel name, and
 * the schema of its deliveries (the timer's outbox validates every stored call against them). This
 * is the only door from the core (intake, ticket commands, the timer) into a channel folder.
 */
export const CHANNEL_DELIVERY_SCHEMAS = [
  callbackDeliverySchema,
  emailDeliverySchema,
  slackDeliverySchema,
  githubDeliverySchema,
  discordDeliverySchema,
] as const;

const OUTBOUND: { [C in Channel]: ChannelOutbound<Extract<Delivery, { service: string }>> } = {
  api: apiOutbound,
  email: emailOutbound,
  slack: slackOutbound,
  github: githubOutbound,
  discord: discordOutbound,
};

/** The reply target of a stored ticket row (with its thread keys, newest first, where the channel needs them). */
export function replyTargetOf(row: ReplyTargetRow, threadKeys: readonly string[] = []): ReplyTarget {
  // Picked one by one: a whole ticket row may be passed, and only these columns belong in a target.
  const { channel, callbackUrl, subject, requesterName, requesterEmail, channelName } = row;
  const key = ticketKey(row.number);
  return { key, channel, callbackUrl, subject, requesterName, requesterEmail, channelName, threadKeys };
}

/**
 * How a message to the customer leaves on the ticket's own channel, or null when the channel has
 * no way back (an `api` ticket without a callbackUrl: its acknowledgement is the 202 body).
 */
export function customerDelivery(target: ReplyTarget, message: OutgoingMessage): OutboxItem | null {
  return OUTBOUND[target.channel].compose(target, message);
}

/** Channels whose reply address is one of the ticket's thread keys (an issue, a Slack thread, a webhook). */
export function needsThreadKeys(channel: Channel): boolean {
  return OUTBOUND[channel].needsThreadKeys;
}

/** Why a customer-facing message could not leave on its channel (shown as its delivery error). */
export function noDeliveryReason(channel: Channel): string {
  return OUTBOUND[channel].noDeliveryReason;
}

const BY_SERVICE = new Map<string, ChannelOutbound<Delivery>>(
  Object.values(OUTBOUND).map((outbound) => [outbound.service, outbound]),
);

/** Perform one call of a channel's service (`slack`, `email`, `callback`…); null for other services. */
export function sendOnChannel(env: OutboundEnv, delivery: Delivery): Promise<DeliveryOutcome> | null {
  return BY_SERVICE.get(delivery.service)?.send(env, delivery) ?? null;
}

/** What the ticket's own thread on its channel owes for a change made on the desk (may be none). */
export function ticketChangeCalls(
  target: ReplyTarget,
  change: TicketChange,
  settings: TicketChangeSettings,
): OutboxItem[] {
  return OUTBOUND[target.channel].ticketChangeCalls?.(target, change, settings) ?? [];
}
