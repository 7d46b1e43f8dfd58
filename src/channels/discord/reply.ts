import { z } from "zod";
import { apiBase, createdId, type DeliveryOutcome, httpOutcome, postJson, setting } from "../../notify/http";
import type { OutboundEnv } from "../../notify/types";
import type { ChannelOutbound } from "../contract";
import { discordFollowupOf } from "./keys";

export const discordDeliverySchema = z.object({
  service: z.literal("discord"),
  /** Where a channel message goes (needs DISCORD_BOT_TOKEN). */
  channelId: z.string().nullable(),
  /** The interaction's follow-up webhook, usable until `expiresAt`; preferred while it lives. */
  followup: z
    .object({ applicationId: z.string(), token: z.string(), expiresAt: z.number().int() })
    .nullable(),
  content: z.string(),
});
export type DiscordDelivery = z.infer<typeof discordDeliverySchema>;

const DISCORD_API = "https://discord.com/api/v10";

/** Discord rejects message content over 2000 characters. */
export const DISCORD_MAX_CONTENT = 2000;

/** An interaction token lives 15 minutes; we stop using it a minute early. */
export const INTERACTION_TOKEN_MS = 14 * 60_000;

export function discordContent(text: string): string {
  if (text.length <= DISCORD_MAX_CONTENT) return text;
  const suffix = "\n[…truncated: the full reply is on the ticket]";
  return `${text.slice(0, DISCORD_MAX_CONTENT - suffix.length)}${suffix}`;
}

/**
 * A follow-up message on the interaction while its token lives (no bot token needed), else a
 * message in the channel the ticket came from with `Bot DISCORD_BOT_TOKEN`. A follow-up refused
 * with 401/404 (token expired early or revoked) falls through to the channel message.
 */
export async function sendDiscordMessage(
  env: OutboundEnv,
  message: DiscordDelivery,
): Promise<DeliveryOutcome> {
  const base = apiBase(env.DISCORD_API_URL, DISCORD_API);
  // Agent text must never ping @everyone, roles or users.
  const body = JSON.stringify({ content: discordContent(message.content), allowed_mentions: { parse: [] } });
  if (message.followup !== null && Date.now() < message.followup.expiresAt) {
    const { applicationId, token } = message.followup;
    const outcome = await post(
      `${base}/webhooks/${encodeURIComponent(applicationId)}/${encodeURIComponent(token)}`,
      {},
      body,
    );
    if (outcome.kind === "done") return outcome.outcome;
  }
  const botToken = setting(env.DISCORD_BOT_TOKEN);
  if (message.channelId === null) return { ok: "skipped", reason: "no interaction token and no channel id" };
  if (botToken === undefined) {
    return { ok: "skipped", reason: "the interaction token expired and DISCORD_BOT_TOKEN is not set" };
  }
  const outcome = await post(
    `${base}/channels/${encodeURIComponent(message.channelId)}/messages`,
    { authorization: `Bot ${botToken}` },
    body,
  );
  return outcome.outcome;
}

async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ kind: "done" | "token_refused"; outcome: DeliveryOutcome }> {
  const sent = await postJson(
    url,
    { "user-agent": "DiscordBot (https://switchboard.dev, 1)", ...headers },
    body,
  );
  if (!sent.ok) return { kind: "done", outcome: sent.outcome };
  const { response } = sent;
  if (!response.ok) {
    const outcome = await httpOutcome(response);
    const refused = response.status === 401 || response.status === 404;
    return { kind: refused ? "token_refused" : "done", outcome };
  }
  const id = await createdId(response);
  return {
    kind: "done",
    outcome: id === undefined ? { ok: true } : { ok: true, externalId: `message:${id}` },
  };
}

/** Replies go to the interaction's follow-up webhook while it lives, else to the ticket's channel. */
export const discordOutbound: ChannelOutbound<DiscordDelivery> = {
  service: "discord",
  needsThreadKeys: true,
  noDeliveryReason: "the ticket has no Discord channel to reply in; the reply is on the ticket only",
  compose(target, message) {
    // The acknowledgement is the interaction's own response (type 4), sent before this runs.
    if (message.kind === "acknowledgement") return null;
    const followup = discordFollowupOf(target.threadKeys ?? []);
    const channelId = target.channelName ?? null;
    if (followup === null && channelId === null) return null;
    const text = message.url === undefined ? message.text : `${message.text}\n${message.url}`;
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} on Discord`,
      delivery: { service: "discord", channelId, followup, content: `**${target.key}** ${text}` },
    };
  },
  send: sendDiscordMessage,
};
