import type { GatewayDispatchEvents } from "discord-api-types/v10";
import { ZodError } from "zod";
import type { DiscordSettings } from "../../domain/config";
import type { DeskEnv } from "../../env";
import { changeInboundMessage, intake } from "../../intake";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import type { ChannelResult } from "../contract";
import {
  type GatewayMessage,
  gatewayMessageDeleteSchema,
  gatewayMessageSchema,
  gatewayMessageUpdateSchema,
  gatewayThreadSchema,
  isStaffMember,
  normaliseForumPost,
  normaliseSupportChannelMessage,
  normaliseThreadMessage,
} from "./gateway-normalise";
import { discordMessageKey, discordThreadKey } from "./keys";

/** The dispatches the desk keeps (everything else only moves the seq). */
export const GATEWAY_EVENTS = [
  "THREAD_CREATE",
  "MESSAGE_CREATE",
  "MESSAGE_UPDATE",
  "MESSAGE_DELETE",
] as const satisfies readonly `${GatewayDispatchEvents}`[];

/** One dispatch as the Gateway object stores it until intake has taken it. */
export interface GatewayEvent {
  t: string;
  d: unknown;
  receivedAt: number;
}

/** A forum thread seen in THREAD_CREATE, kept until its starter message opens the ticket. */
export interface ThreadMeta {
  id: string;
  parentId: string;
  name: string;
  seenAt: number;
}

export interface GatewayContext {
  /** Our bot's user id (READY `user.id`): its messages are ignored. */
  botUserId: string | null;
  applicationId: string | null;
  threads: {
    remember(thread: ThreadMeta): Promise<void>;
    recall(id: string): Promise<ThreadMeta | undefined>;
    forget(id: string): Promise<void>;
  };
}

/**
 * One Gateway dispatch → intake (SPEC §12). Returns what it came to; throws only when trying again
 * may help (D1 unreachable): the Gateway object keeps the event and retries it.
 */
export async function handleGatewayEvent(
  env: DeskEnv & { DISCORD_APPLICATION_ID?: string },
  event: GatewayEvent,
  context: GatewayContext,
): Promise<ChannelResult> {
  try {
    return await dispatch(env, event, context);
  } catch (error) {
    // A payload our schemas refuse is not going to parse on a retry: say so and move on.
    if (error instanceof ZodError) {
      console.error(`discord gateway: ${event.t} refused: ${error.message}`);
      return { kind: "ignored", reason: `${event.t} is malformed` };
    }
    throw error;
  }
}

async function dispatch(env: DeskEnv, event: GatewayEvent, context: GatewayContext): Promise<ChannelResult> {
  switch (event.t) {
    case "THREAD_CREATE":
      return threadCreated(env, event, context);
    case "MESSAGE_CREATE":
      return messageCreated(env, event, context);
    case "MESSAGE_UPDATE":
      return messageChanged(env, event, "edit", context);
    case "MESSAGE_DELETE":
      return messageChanged(env, event, "delete", context);
    default:
      return { kind: "ignored", reason: `${event.t} is not handled` };
  }
}

async function settings(env: DeskEnv) {
  return loadConfig(database(env.DB));
}

async function threadCreated(
  env: DeskEnv,
  event: GatewayEvent,
  context: GatewayContext,
): Promise<ChannelResult> {
  const thread = gatewayThreadSchema.parse(event.d);
  const config = await settings(env);
  if (thread.parent_id == null || !config.discord.forumChannelIds.includes(thread.parent_id)) {
    return { kind: "ignored", reason: "a thread outside the configured forums" };
  }
  // THREAD_CREATE also comes when the bot is added to an old thread: only new posts open tickets.
  if (thread.newly_created === false) return { kind: "ignored", reason: "an existing thread" };
  await context.threads.remember({
    id: thread.id,
    parentId: thread.parent_id,
    name: thread.name ?? "",
    seenAt: event.receivedAt,
  });
  return { kind: "ignored", reason: "a forum post; its starter message opens the ticket" };
}

function ours(message: GatewayMessage, context: GatewayContext): boolean {
  const id = message.author.id;
  return id === context.botUserId || id === context.applicationId;
}

/** Ordinary messages: DEFAULT (0) and REPLY (19). System messages (thread created, pins…) are not anyone's words. */
const CONVERSATION_TYPES = new Set([0, 19]);

async function messageCreated(
  env: DeskEnv,
  event: GatewayEvent,
  context: GatewayContext,
): Promise<ChannelResult> {
  const message = gatewayMessageSchema.parse(event.d);
  if (ours(message, context)) return { kind: "ignored", reason: "our own bot's message" };
  if (!CONVERSATION_TYPES.has(message.type ?? 0)) return { kind: "ignored", reason: "a system message" };
  if (message.guild_id === undefined) return { kind: "ignored", reason: "a direct message" };
  const config = await settings(env);
  const discord: DiscordSettings = config.discord;
  const staff = isStaffMember(message, discord);
  // A forum post's starter message has the thread's own id.
  if (message.id === message.channel_id) {
    const thread = await context.threads.recall(message.channel_id);
    if (thread !== undefined && discord.forumChannelIds.includes(thread.parentId)) {
      if (staff) {
        // Our own people posting in the forum (an announcement, a FAQ) are not asking for help.
        await context.threads.forget(thread.id);
        return { kind: "ignored", reason: "a staff member's forum post" };
      }
      const result = await intake(env, normaliseForumPost(message, thread, event.receivedAt), { config });
      await context.threads.forget(thread.id);
      return intakeAnswer(result);
    }
  }
  if (discord.supportChannelIds.includes(message.channel_id) && !staff) {
    const result = await intake(env, normaliseSupportChannelMessage(message, event.receivedAt), { config });
    return intakeAnswer(result);
  }
  const result = await intake(env, normaliseThreadMessage(message, staff, event.receivedAt), { config });
  return intakeAnswer(result);
}

function intakeAnswer(result: Awaited<ReturnType<typeof intake>>): ChannelResult {
  if (!result.ok) return { kind: "ignored", reason: result.detail };
  return {
    kind: "stored",
    ticket: result.ticket,
    created: result.created,
    replay: result.replay,
  };
}

async function messageChanged(
  env: DeskEnv,
  event: GatewayEvent,
  change: "edit" | "delete",
  context: GatewayContext,
): Promise<ChannelResult> {
  if (change === "edit") {
    const update = gatewayMessageUpdateSchema.parse(event.d);
    if (
      update.author !== undefined &&
      (update.author.id === context.botUserId || update.author.id === context.applicationId)
    )
      return { kind: "ignored", reason: "our own bot's message" };
    // An update without content is an embed unfurling, not an edit.
    if (update.content === undefined) return { kind: "ignored", reason: "no new content" };
    const result = await changeInboundMessage(env, {
      channel: "discord",
      idempotencyKey: `edit:${update.id}:${update.edited_timestamp ?? event.receivedAt}`,
      threadKeys: [discordThreadKey(update.channel_id)],
      externalId: discordMessageKey(update.id),
      change: { type: "edit", text: update.content },
    });
    return result.ok
      ? { kind: "changed", ticket: result.ticket, changed: result.changed, replay: result.replay }
      : { kind: "ignored", reason: "a message on no ticket" };
  }
  const deletion = gatewayMessageDeleteSchema.parse(event.d);
  const result = await changeInboundMessage(env, {
    channel: "discord",
    idempotencyKey: `delete:${deletion.id}`,
    threadKeys: [discordThreadKey(deletion.channel_id)],
    externalId: discordMessageKey(deletion.id),
    change: { type: "delete" },
  });
  return result.ok
    ? { kind: "changed", ticket: result.ticket, changed: result.changed, replay: result.replay }
    : { kind: "ignored", reason: "a message on no ticket" };
}
