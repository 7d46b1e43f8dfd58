import { z } from "zod";
import type { InboundMessageInput } from "../../domain/inbound";
import {
  discordFollowupKey,
  discordInteractionKey,
  discordMessageKey,
  discordRequesterKey,
  discordThreadKey,
} from "./keys";

/** Interaction types (Discord API: Receiving and Responding). */
export const InteractionType = {
  PING: 1,
  APPLICATION_COMMAND: 2,
  MESSAGE_COMPONENT: 3,
  APPLICATION_COMMAND_AUTOCOMPLETE: 4,
  MODAL_SUBMIT: 5,
} as const;

/** Interaction callback types. */
export const ResponseType = {
  PONG: 1,
  CHANNEL_MESSAGE_WITH_SOURCE: 4,
  DEFERRED_UPDATE_MESSAGE: 6,
  APPLICATION_COMMAND_AUTOCOMPLETE_RESULT: 8,
  MODAL: 9,
} as const;

/** Message flag: only the invoking user sees it. */
export const EPHEMERAL = 64;

export const SUPPORT_COMMAND = "support";
/** Message context-menu command: turn someone's message into a ticket. */
export const SUPPORT_MESSAGE_COMMAND = "Open support ticket";
export const SUPPORT_MODAL_ID = "support_ticket";
const SUBJECT_FIELD = "subject";
const DESCRIPTION_FIELD = "description";

/** Thread channel types: announcement thread, public thread, private thread. */
const THREAD_CHANNEL_TYPES = new Set([10, 11, 12]);

/** An interaction token lives 15 minutes; we stop using it a minute early. */
const FOLLOWUP_LIFETIME_MS = 14 * 60_000;

const userSchema = z.object({
  id: z.string(),
  username: z.string(),
  global_name: z.string().nullish(),
  bot: z.boolean().optional(),
});

export const interactionSchema = z.object({
  id: z.string().min(1).max(64),
  type: z.number().int(),
  application_id: z.string().optional(),
  token: z.string().max(1000).optional(),
  guild_id: z.string().optional(),
  channel_id: z.string().optional(),
  channel: z
    .object({
      id: z.string(),
      type: z.number().int(),
      parent_id: z.string().nullish(),
      permission_overwrites: z
        .array(
          z.object({
            id: z.string(),
            type: z.union([z.number(), z.string()]),
            deny: z.string().optional(),
          }),
        )
        .optional()
        .catch(undefined),
    })
    .optional(),
  /** Interaction context: 0 a server, 1 the bot's DM, 2 another DM or group DM. */
  context: z.number().int().optional().catch(undefined),
  member: z.object({ nick: z.string().nullish(), user: userSchema }).optional(),
  user: userSchema.optional(),
  data: z.unknown().optional(),
});
export type Interaction = z.infer<typeof interactionSchema>;

const optionSchema = z.object({ name: z.string(), type: z.number().int(), value: z.unknown().optional() });

export const commandDataSchema = z.object({
  name: z.string(),
  /** 1 chat input (slash), 2 user, 3 message. */
  type: z.number().int().default(1),
  options: z.array(optionSchema).optional(),
  target_id: z.string().optional(),
  resolved: z
    .object({
      messages: z
        .record(
          z.string(),
          z.object({
            id: z.string(),
            content: z.string(),
            channel_id: z.string().optional(),
            author: userSchema,
          }),
        )
        .optional(),
    })
    .optional(),
});
export type CommandData = z.infer<typeof commandDataSchema>;

export const modalDataSchema = z.object({ custom_id: z.string(), components: z.array(z.unknown()) });

/** The `/support` modal: a subject and a description, as Label + Text Input components. */
export function supportModal(prefill?: string) {
  return {
    type: ResponseType.MODAL,
    data: {
      custom_id: SUPPORT_MODAL_ID,
      title: "Contact support",
      components: [
        {
          type: 18,
          label: "Subject",
          component: {
            type: 4,
            custom_id: SUBJECT_FIELD,
            style: 1,
            min_length: 3,
            max_length: 200,
            required: true,
          },
        },
        {
          type: 18,
          label: "What happened?",
          description: "Steps to reproduce, error messages, links.",
          component: {
            type: 4,
            custom_id: DESCRIPTION_FIELD,
            style: 2,
            min_length: 1,
            max_length: 4000,
            required: true,
            ...(prefill === undefined ? {} : { value: prefill.slice(0, 4000) }),
          },
        },
      ],
    },
  };
}

/**
 * Every `custom_id` → `value` in a submitted modal, whatever the layout: Label (type 18) wraps its
 * component in `component`, legacy Action Rows (type 1) list theirs in `components`.
 */
export function modalValues(components: readonly unknown[]): Record<string, string> {
  const values: Record<string, string> = {};
  const visit = (node: unknown): void => {
    if (typeof node !== "object" || node === null) return;
    const { custom_id, value, component, components: children } = node as Record<string, unknown>;
    if (typeof custom_id === "string" && typeof value === "string") values[custom_id] = value;
    visit(component);
    if (Array.isArray(children)) for (const child of children) visit(child);
  };
  for (const component of components) visit(component);
  return values;
}

export function supportFields(values: Record<string, string>): { subject?: string; text: string } {
  const subject = values[SUBJECT_FIELD]?.trim();
  const description = values[DESCRIPTION_FIELD]?.trim();
  const text = description ?? Object.values(values).join("\n\n").trim();
  return { ...(subject === undefined || subject === "" ? {} : { subject }), text };
}

/** The text a `/support text:…` invocation carries, if any. */
export function commandText(data: CommandData): string | undefined {
  const option = data.options?.find((o) => o.name === "text" && typeof o.value === "string");
  const text = typeof option?.value === "string" ? option.value.trim() : "";
  return text === "" ? undefined : text;
}

function invoker(interaction: Interaction) {
  const user = interaction.member?.user ?? interaction.user;
  if (user === undefined) return { handle: "unknown" };
  return {
    name: interaction.member?.nick ?? user.global_name ?? user.username,
    handle: user.username,
  };
}

function channelId(interaction: Interaction): string | undefined {
  return interaction.channel_id ?? interaction.channel?.id;
}

function followupKeys(
  interaction: Interaction,
  applicationId: string | undefined,
  receivedAt: number,
): string[] {
  const appId = interaction.application_id ?? applicationId;
  if (appId === undefined || appId === "" || interaction.token === undefined) return [];
  return [discordFollowupKey(appId, receivedAt + FOLLOWUP_LIFETIME_MS, interaction.token)];
}

/**
 * A `/support` request (modal submission or `/support text:…`): a new public ticket on the
 * Discord policy. Inside a thread, the thread is the conversation and a later `/support` there
 * joins the same ticket; elsewhere every request is its own ticket.
 */
export function normaliseSupportRequest(
  interaction: Interaction,
  request: { subject?: string; text: string },
  options: { applicationId?: string; receivedAt: number },
): InboundMessageInput {
  const channel = channelId(interaction);
  const requester = (interaction.member?.user ?? interaction.user)?.id;
  const inThread = interaction.channel !== undefined && THREAD_CHANNEL_TYPES.has(interaction.channel.type);
  const threadKey =
    inThread && channel !== undefined ? discordThreadKey(channel) : discordInteractionKey(interaction.id);
  return {
    channel: "discord",
    idempotencyKey: interaction.id,
    externalId: discordInteractionKey(interaction.id),
    threadKeys: [threadKey],
    threadKeyRules: [inThread ? "thread" : "interaction"],
    extraThreadKeys: [
      ...followupKeys(interaction, options.applicationId, options.receivedAt),
      // In a thread, the requester's later messages there (over the Gateway) are the customer's.
      ...(inThread && channel !== undefined && requester !== undefined
        ? [discordRequesterKey(channel, requester)]
        : []),
    ],
    ...(channel === undefined ? {} : { channelName: channel }),
    from: invoker(interaction),
    author: "customer",
    ...(request.subject === undefined ? {} : { subject: request.subject }),
    text: request.text,
    visibility: "public",
    receivedAt: options.receivedAt,
  };
}

/** Server channel types whose messages every member may read: text, announcement, their public threads, forum, media. */
const READABLE_CHANNEL_TYPES = new Set([0, 5, 10, 11, 15, 16]);
/** Threads that live under a parent channel and are as visible as it is (announcement, public). */
const PUBLIC_THREAD_TYPES = new Set([10, 11]);
const VIEW_CHANNEL = 1n << 10n;

/** The channel's own overwrites deny VIEW_CHANNEL to @everyone (whose role id is the server's id). */
function hiddenFromEveryone(channel: NonNullable<Interaction["channel"]>, guildId: string): boolean {
  return (channel.permission_overwrites ?? []).some((o) => {
    if (o.id !== guildId || (o.type !== 0 && o.type !== "role")) return false;
    try {
      return (BigInt(o.deny ?? "0") & VIEW_CHANNEL) !== 0n;
    } catch {
      return true;
    }
  });
}

/**
 * Whether a message the message command turns into a ticket was public. Discord's interaction
 * payload guarantees only the channel's id and type — not whether @everyone can read it (that
 * takes the server's role permissions and the category's overwrites) — so this fails closed: the
 * ticket is public only for a message in a server channel the desk's configuration lists as
 * public (`discord.publicChannelIds`), or in a public thread of one, and never when the payload
 * shows a DM, a private thread, or an overwrite hiding the channel from @everyone.
 */
export function messageCommandVisibility(
  interaction: Interaction,
  messageChannelId: string | undefined,
  publicChannelIds: readonly string[],
): "public" | "private" {
  const guildId = interaction.guild_id;
  if (guildId === undefined || messageChannelId === undefined) return "private";
  if (interaction.context !== undefined && interaction.context !== 0) return "private";
  const channel = interaction.channel;
  if (channel !== undefined) {
    if (channel.id !== messageChannelId || !READABLE_CHANNEL_TYPES.has(channel.type)) return "private";
    if (hiddenFromEveryone(channel, guildId)) return "private";
  }
  const listed = new Set(publicChannelIds);
  if (listed.has(messageChannelId)) return "public";
  const parent = channel?.parent_id;
  return channel !== undefined &&
    PUBLIC_THREAD_TYPES.has(channel.type) &&
    parent != null &&
    listed.has(parent)
    ? "public"
    : "private";
}

/**
 * The message context-menu command: the message's author is the requester and the message is the
 * request. Its author never asked for a public ticket, so it is public only where the message
 * already was (see `messageCommandVisibility`).
 */
export function normaliseMessageCommand(
  interaction: Interaction,
  data: CommandData,
  options: { applicationId?: string; receivedAt: number; publicChannelIds: readonly string[] },
): InboundMessageInput | null {
  const target = data.target_id === undefined ? undefined : data.resolved?.messages?.[data.target_id];
  if (target === undefined || target.content.trim() === "") return null;
  const channel = target.channel_id ?? channelId(interaction);
  return {
    channel: "discord",
    // Keyed by the message, not the interaction: a second "Open support ticket" on the same
    // message is a replay that answers with the existing ticket and writes nothing.
    idempotencyKey: discordMessageKey(target.id),
    externalId: discordMessageKey(target.id),
    threadKeys: [discordMessageKey(target.id)],
    threadKeyRules: ["message"],
    extraThreadKeys: followupKeys(interaction, options.applicationId, options.receivedAt),
    ...(channel === undefined ? {} : { channelName: channel }),
    from: { name: target.author.global_name ?? target.author.username, handle: target.author.username },
    author: "customer",
    text: target.content,
    visibility: messageCommandVisibility(interaction, channel, options.publicChannelIds),
    receivedAt: options.receivedAt,
  };
}
