import { z } from "zod";
import { apiBase, createdId, type DeliveryOutcome, httpOutcome, postJson, setting } from "../../notify/http";
import type { OutboundEnv } from "../../notify/types";
import type { ChannelOutbound } from "../contract";
import { discordFollowupOf, discordGatewayTargetOf } from "./keys";

export const discordDeliverySchema = z.object({
  service: z.literal("discord"),
  /** Where a channel message goes (needs DISCORD_BOT_TOKEN). */
  channelId: z.string().nullable(),
  /** The interaction's follow-up webhook, usable until `expiresAt`; preferred while it lives. */
  followup: z
    .object({ applicationId: z.string(), token: z.string(), expiresAt: z.number().int() })
    .nullable(),
  content: z.string(),
  /**
   * A Gateway ticket from a support channel: the thread to start on the customer's message before
   * posting (the thread gets the message's id, which is `channelId`). Starting it again is harmless.
   */
  startThread: z.object({ channelId: z.string(), messageId: z.string(), name: z.string() }).nullish(),
  /** Discord `nonce` stem (with `enforce_nonce`): a retry within minutes returns the message already made. */
  nonce: z.string().max(22).nullish(),
});
export type DiscordDelivery = z.infer<typeof discordDeliverySchema>;

const DISCORD_API = "https://discord.com/api/v10";

/** Discord rejects message content over 2000 characters. */
export const DISCORD_MAX_CONTENT = 2000;

/** An interaction token lives 15 minutes; we stop using it a minute early. */
export const INTERACTION_TOKEN_MS = 14 * 60_000;

/** A long reply goes out as at most this many messages; the rest is cut with a note. */
export const DISCORD_MAX_PARTS = 5;
const CUT_NOTE = "\n[…truncated: the full reply is on the ticket]";

export function discordContent(text: string): string {
  if (text.length <= DISCORD_MAX_CONTENT) return text;
  return `${text.slice(0, DISCORD_MAX_CONTENT - CUT_NOTE.length)}${CUT_NOTE}`;
}

/**
 * A reply in messages of at most 2,000 characters each (Discord's limit), split at a line break or
 * a space where one is near the end, never inside a surrogate pair; beyond DISCORD_MAX_PARTS parts
 * the last one is cut with a note.
 */
export function discordParts(
  text: string,
  max = DISCORD_MAX_CONTENT,
  maxParts = DISCORD_MAX_PARTS,
): string[] {
  const parts: string[] = [];
  let rest = text;
  while (rest.length > max) {
    if (parts.length === maxParts - 1) {
      parts.push(`${cutAt(rest, max - CUT_NOTE.length).trimEnd()}${CUT_NOTE}`);
      return parts;
    }
    const part = cutAt(rest, max);
    parts.push(part.trimEnd());
    rest = rest.slice(part.length).replace(/^[ \t]*\n?/, "");
  }
  parts.push(rest);
  return parts.filter((p, i) => p !== "" || i === 0);
}

function cutAt(text: string, max: number): string {
  let end = max;
  // Do not split a surrogate pair.
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end -= 1;
  const window = text.slice(0, end);
  const newline = window.lastIndexOf("\n");
  if (newline >= end * 0.5) return text.slice(0, newline + 1);
  const space = window.lastIndexOf(" ");
  if (space >= end * 0.5) return text.slice(0, space + 1);
  return window;
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
  if (message.startThread != null) return sendToGatewayThread(env, base, message, message.startThread);
  if (message.nonce != null) return sendToGatewayThread(env, base, message, null);
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

/** Discord error code: a thread has already been created for this message. */
const THREAD_ALREADY_CREATED = 160004;

/**
 * A Gateway ticket's thread, with the bot token: start the thread first when the ticket came from a
 * support channel (again on a retry: "already created" is success), then the reply in parts of at
 * most 2,000 characters. Each part carries a nonce with `enforce_nonce`, so a retry after a part
 * went out gets that part back from Discord instead of a second copy.
 */
async function sendToGatewayThread(
  env: OutboundEnv,
  base: string,
  message: DiscordDelivery,
  start: { channelId: string; messageId: string; name: string } | null,
): Promise<DeliveryOutcome> {
  const botToken = setting(env.DISCORD_BOT_TOKEN);
  if (botToken === undefined) return { ok: "skipped", reason: "DISCORD_BOT_TOKEN is not set" };
  const auth = { authorization: `Bot ${botToken}` };
  if (start !== null) {
    const sent = await postJson(
      `${base}/channels/${encodeURIComponent(start.channelId)}/messages/${encodeURIComponent(start.messageId)}/threads`,
      { "user-agent": USER_AGENT, ...auth },
      JSON.stringify({ name: threadName(start.name), auto_archive_duration: 10080 }),
    );
    if (!sent.ok) return sent.outcome;
    if (!sent.response.ok && !(await alreadyCreated(sent.response))) return httpOutcome(sent.response);
  }
  const threadId = start?.messageId ?? message.channelId;
  if (threadId === null) return { ok: "skipped", reason: "no Discord thread" };
  const parts = discordParts(message.content);
  let first: string | undefined;
  for (const [i, content] of parts.entries()) {
    const body = JSON.stringify({
      content,
      // Agent text must never ping @everyone, roles or users.
      allowed_mentions: { parse: [] },
      ...(message.nonce == null ? {} : { nonce: `${message.nonce}-${i}`, enforce_nonce: true }),
    });
    const outcome = await post(`${base}/channels/${encodeURIComponent(threadId)}/messages`, auth, body);
    if (outcome.outcome.ok !== true) return outcome.outcome;
    first ??= outcome.outcome.externalId;
  }
  return first === undefined ? { ok: true } : { ok: true, externalId: first };
}

async function alreadyCreated(response: Response): Promise<boolean> {
  if (response.status !== 400) return false;
  const body = (await response
    .clone()
    .json()
    .catch(() => null)) as { code?: unknown } | null;
  return body?.code === THREAD_ALREADY_CREATED;
}

/** Thread names are 1–100 characters. */
function threadName(name: string): string {
  const line =
    name
      .split(/\r?\n/)
      .find((l) => l.trim() !== "")
      ?.trim() ?? "";
  const cut = line.length > 100 ? `${line.slice(0, 99)}…` : line;
  return cut === "" ? "Support" : cut;
}

const USER_AGENT = "DiscordBot (https://switchboard.dev, 1)";

async function post(
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ kind: "done" | "token_refused"; outcome: DeliveryOutcome }> {
  const sent = await postJson(url, { "user-agent": USER_AGENT, ...headers }, body);
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
    const text = message.url === undefined ? message.text : `${message.text}\n${message.url}`;
    // A ticket that came over the Gateway (a forum post, a support channel message): everything,
    // the acknowledgement too, goes into its thread with the bot token.
    const gateway = discordGatewayTargetOf(target.threadKeys ?? []);
    if (gateway !== null) {
      return {
        id: `msg:${message.messageId}`,
        messageId: message.messageId,
        label: `${message.kind} on Discord`,
        delivery: {
          service: "discord",
          channelId: gateway.threadId,
          followup: null,
          content: `**${target.key}** ${text}`,
          startThread:
            gateway.startThread === null
              ? null
              : { ...gateway.startThread, name: `${target.key} ${target.subject}`.trim() },
          nonce: message.messageId.replaceAll("-", "").slice(0, 22),
        },
      };
    }
    // The acknowledgement is the interaction's own response (type 4), sent before this runs.
    if (message.kind === "acknowledgement") return null;
    const followup = discordFollowupOf(target.threadKeys ?? []);
    const channelId = target.channelName ?? null;
    if (followup === null && channelId === null) return null;
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} on Discord`,
      delivery: { service: "discord", channelId, followup, content: `**${target.key}** ${text}` },
    };
  },
  send: sendDiscordMessage,
};
