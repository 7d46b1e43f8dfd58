import { z } from "zod";
import type { DiscordSettings } from "../../domain/config";
import type { InboundMessageInput } from "../../domain/inbound";
import type { ThreadMeta } from "./gateway-events";
import {
  discordForumThreadKey,
  discordMessageKey,
  discordRequesterKey,
  discordStartThreadKey,
  discordThreadKey,
} from "./keys";

/**
 * Gateway dispatch payloads, as far as the desk reads them (discord/discord-api-docs, "Gateway
 * Events": Thread Create, Message Create/Update/Delete; the message and channel objects). Validated
 * here, at the trust boundary; unknown fields pass through untouched.
 */

const snowflake = z.string().regex(/^\d{1,32}$/);

const userSchema = z.object({
  id: snowflake,
  username: z.string(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
});

export const gatewayThreadSchema = z.object({
  id: snowflake,
  type: z.number().int(),
  guild_id: snowflake.optional(),
  parent_id: snowflake.nullish(),
  name: z.string().nullish(),
  owner_id: snowflake.optional(),
  newly_created: z.boolean().optional(),
});

export const gatewayMessageSchema = z.object({
  id: snowflake,
  channel_id: snowflake,
  guild_id: snowflake.optional(),
  author: userSchema,
  /** The sender's membership in the server (MESSAGE_CREATE in a guild): its roles make staff. */
  member: z.object({ roles: z.array(snowflake).default([]), nick: z.string().nullish() }).optional(),
  content: z.string(),
  type: z.number().int().optional(),
  webhook_id: snowflake.optional(),
  timestamp: z.string().optional(),
});
export type GatewayMessage = z.infer<typeof gatewayMessageSchema>;

export const gatewayMessageUpdateSchema = z.object({
  id: snowflake,
  channel_id: snowflake,
  author: userSchema.optional(),
  content: z.string().optional(),
  edited_timestamp: z.string().nullish(),
});

export const gatewayMessageDeleteSchema = z.object({ id: snowflake, channel_id: snowflake });

/**
 * Staff is proven by the event itself, never by what a message says: the author's id is in
 * `staffUserIds`, or the member's roles (sent by Discord with the event) include one of
 * `staffRoleIds`. A webhook message has no member and is never staff.
 */
export function isStaffMember(message: GatewayMessage, settings: DiscordSettings): boolean {
  if (message.webhook_id !== undefined) return false;
  if (settings.staffUserIds.includes(message.author.id)) return true;
  const roles = message.member?.roles ?? [];
  return roles.some((role) => settings.staffRoleIds.includes(role));
}

function from(message: GatewayMessage) {
  return {
    name: message.member?.nick ?? message.author.global_name ?? message.author.username,
    handle: message.author.username,
  };
}

function receivedAt(message: GatewayMessage, fallback: number): number {
  const at = message.timestamp === undefined ? Number.NaN : Date.parse(message.timestamp);
  // Discord's own timestamp when it is sane; a replay after RESUME keeps the original time.
  return Number.isFinite(at) && at <= fallback + 60_000 ? at : fallback;
}

/** A new post in a configured forum: its starter message (id = thread id) opens a public ticket. */
export function normaliseForumPost(
  message: GatewayMessage,
  thread: ThreadMeta,
  at: number,
): InboundMessageInput {
  return {
    channel: "discord",
    idempotencyKey: discordMessageKey(message.id),
    externalId: discordMessageKey(message.id),
    threadKeys: [discordThreadKey(thread.id)],
    threadKeyRules: ["thread"],
    extraThreadKeys: [discordForumThreadKey(thread.id), discordRequesterKey(thread.id, message.author.id)],
    channelName: thread.id,
    from: from(message),
    author: "customer",
    ...(thread.name === "" ? {} : { subject: thread.name }),
    text: message.content,
    visibility: "public",
    receivedAt: receivedAt(message, at),
  };
}

/**
 * A top-level message in a support channel opens a public ticket. The bot then starts a thread on
 * it (a thread started from a message has the message's id) and answers there; the thread is the
 * ticket's thread key from the start.
 */
export function normaliseSupportChannelMessage(message: GatewayMessage, at: number): InboundMessageInput {
  return {
    channel: "discord",
    idempotencyKey: discordMessageKey(message.id),
    externalId: discordMessageKey(message.id),
    threadKeys: [discordThreadKey(message.id)],
    threadKeyRules: ["thread"],
    extraThreadKeys: [
      discordStartThreadKey(message.channel_id, message.id),
      discordRequesterKey(message.id, message.author.id),
    ],
    channelName: message.id,
    from: from(message),
    author: "customer",
    text: message.content,
    visibility: "public",
    receivedAt: receivedAt(message, at),
  };
}

/**
 * A message in a thread: it joins the thread's ticket, if there is one. Staff (by roles or id) stop
 * the clock; the requester (who answers to the ticket's requester key) is the customer; anyone else
 * is the community.
 */
export function normaliseThreadMessage(
  message: GatewayMessage,
  staff: boolean,
  at: number,
): InboundMessageInput {
  return {
    channel: "discord",
    idempotencyKey: discordMessageKey(message.id),
    externalId: discordMessageKey(message.id),
    threadKeys: staff
      ? [discordThreadKey(message.channel_id)]
      : [discordRequesterKey(message.channel_id, message.author.id), discordThreadKey(message.channel_id)],
    threadKeyRules: staff ? ["thread"] : ["requester", "thread"],
    channelName: message.channel_id,
    from: from(message),
    author: staff ? "staff" : "community",
    ...(staff ? {} : { customerByRule: "requester" }),
    text: message.content,
    threadOnly: true,
    receivedAt: receivedAt(message, at),
  };
}
