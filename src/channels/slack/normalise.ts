import { z } from "zod";
import type { InboundMessageInput } from "../../domain/inbound";
import { parseTicketKey } from "../../domain/ticket";
import { CLAIM_ACTION_ID } from "./reply";

/*
 * Slack's Events API and interactivity payloads → the desk's shapes. Every Slack quirk lives here:
 * envelope vs inner event, message subtypes, bots with and without `subtype`, Slack Connect teams,
 * mrkdwn escaping, edits that carry no `ts` on the new message.
 */

/** Slack sends "" for absent strings in some payloads (see corpus jsonlogs_sample.*); treat it as absent. */
const text = z
  .string()
  .optional()
  .transform((s) => (s === undefined || s === "" ? undefined : s));

const fileSchema = z.looseObject({
  id: z.string().min(1),
  name: text,
  title: text,
  mimetype: text,
  size: z.number().int().nonnegative().optional(),
  url_private: text,
  permalink: text,
});

const innerMessageSchema = z.looseObject({
  type: text,
  subtype: text,
  text: text,
  user: text,
  bot_id: text,
  app_id: text,
  bot_profile: z.looseObject({ app_id: text }).optional(),
  team: text,
  user_team: text,
  ts: text,
  thread_ts: text,
});

const messageEventSchema = innerMessageSchema.extend({
  type: z.literal("message"),
  channel: z.string().min(1),
  ts: z.string().min(1),
  event_ts: text,
  source_team: text,
  username: text,
  user_profile: z
    .looseObject({ real_name: text, display_name: text, name: text })
    .optional()
    .catch(undefined),
  files: z.array(fileSchema).optional().catch(undefined),
  message: innerMessageSchema.optional(),
  previous_message: innerMessageSchema.optional(),
  deleted_ts: text,
});
type MessageEvent = z.infer<typeof messageEventSchema>;

const envelopeSchema = z.looseObject({
  type: z.string(),
  challenge: z.string().optional(),
  team_id: text,
  api_app_id: text,
  event_id: text,
  event: z.looseObject({ type: text }).optional(),
});

/** A file shared in a message: its metadata only (we never download from Slack). */
export interface SlackFilePlaceholder {
  storageKey: string;
  filename: string;
  contentType: string;
  size: number;
  urlPrivate: string | null;
  permalink: string | null;
}

export interface SlackMessageChange {
  channel: "slack";
  idempotencyKey: string;
  threadKeys: string[];
  externalId: string;
  change: { type: "edit"; text: string } | { type: "delete" };
}

export type IgnoredReason =
  | "own_bot"
  | "bot_message"
  | "unsupported_event"
  | "unsupported_subtype"
  | "unchanged"
  | "not_a_claim";

export type SlackEvent =
  | { kind: "url_verification"; challenge: string }
  | { kind: "message"; message: InboundMessageInput; files: SlackFilePlaceholder[] }
  | { kind: "change"; change: SlackMessageChange }
  | { kind: "ignored"; reason: IgnoredReason; detail: string }
  | { kind: "invalid"; detail: string };

export interface SlackContext {
  /** `SLACK_TEAM_ID`: our own workspace; its members are staff. */
  ourTeamId: string | undefined;
  receivedAt: number;
}

/** Subtypes that are a person saying something; everything else (joins, topic changes…) is ignored. */
const SPOKEN_SUBTYPES = new Set(["file_share", "thread_broadcast", "me_message"]);

export function normaliseSlackEvent(body: unknown, ctx: SlackContext): SlackEvent {
  const parsed = envelopeSchema.safeParse(body);
  if (!parsed.success) return { kind: "invalid", detail: "not a Slack Events API envelope" };
  const envelope = parsed.data;
  if (envelope.type === "url_verification") {
    return envelope.challenge === undefined
      ? { kind: "invalid", detail: "url_verification without a challenge" }
      : { kind: "url_verification", challenge: envelope.challenge };
  }
  if (envelope.type !== "event_callback" || envelope.event?.type !== "message") {
    const what =
      envelope.type === "event_callback" ? `event ${envelope.event?.type ?? "(none)"}` : envelope.type;
    return {
      kind: "ignored",
      reason: "unsupported_event",
      detail: `${what || "(empty type)"} is not handled`,
    };
  }
  const event = messageEventSchema.safeParse(envelope.event);
  if (!event.success) return { kind: "invalid", detail: "a message event without channel or ts" };
  const message = event.data;
  const idempotencyKey =
    envelope.event_id ?? `${message.channel}:${message.ts}:${message.subtype ?? "message"}`;

  switch (message.subtype) {
    case "message_changed":
      return messageChanged(message, envelope.api_app_id, idempotencyKey);
    case "message_deleted":
      return messageDeleted(message, idempotencyKey);
    case "bot_message":
      return { kind: "ignored", reason: "bot_message", detail: "a bot's message never opens a ticket" };
  }
  const bot = botOf(message, envelope.api_app_id);
  if (bot !== null) return bot;
  if (message.subtype !== undefined && !SPOKEN_SUBTYPES.has(message.subtype)) {
    return {
      kind: "ignored",
      reason: "unsupported_subtype",
      detail: `subtype ${message.subtype} is not handled`,
    };
  }

  // In Slack Connect channels the envelope's team is whoever delivered the event (our own
  // workspace, usually); the author's own workspace is `user_team` (or `team`) on the event. Staff
  // detection fails closed: an event that does not name the author's workspace is never staff.
  const ownTeam = message.user_team ?? message.team;
  const authorTeam = ownTeam ?? envelope.team_id;
  const staff = ctx.ourTeamId !== undefined && ownTeam !== undefined && ownTeam === ctx.ourTeamId;
  const threadTs = message.thread_ts ?? message.ts;
  const files = (message.files ?? []).map((f) => filePlaceholder(f, authorTeam));
  const profile = message.user_profile;
  const spoken = slackUnescape(message.text ?? "");
  return {
    kind: "message",
    files,
    message: {
      channel: "slack",
      idempotencyKey,
      externalId: message.ts,
      threadKeys: [slackThreadKey(message.channel, threadTs)],
      threadKeyRules: [message.thread_ts === undefined ? "ts" : "thread_ts"],
      channelName: message.channel,
      from: {
        name: profile?.real_name ?? profile?.display_name ?? message.username ?? message.user,
        handle: message.user,
      },
      author: staff ? "staff" : "customer",
      text:
        spoken === "" && files.length > 0 ? `(shared ${files.map((f) => f.filename).join(", ")})` : spoken,
      context: { slackTeamId: authorTeam, slackChannel: message.channel },
      attachments: files.map((f) => ({
        filename: f.filename,
        contentType: f.contentType,
        size: f.size,
        storageKey: f.storageKey,
      })),
      receivedAt: ctx.receivedAt,
    },
  };
}

/**
 * Our own app's messages (the acknowledgement, agent replies) are already on the ticket as outbound
 * messages; other apps' messages are not customers. A bot may post with `bot_id` and no subtype
 * (corpus event_callback.message.bot_id_new_style.json), so `subtype` alone is not enough.
 */
function botOf(message: z.infer<typeof innerMessageSchema>, ourAppId: string | undefined): SlackEvent | null {
  if (message.bot_id === undefined && message.subtype !== "bot_message") return null;
  const appId = message.bot_profile?.app_id ?? message.app_id;
  return ourAppId !== undefined && appId === ourAppId
    ? { kind: "ignored", reason: "own_bot", detail: "our own bot's message" }
    : { kind: "ignored", reason: "bot_message", detail: "a bot's message never opens a ticket" };
}

/** `message_changed`: the new message often has no `ts` of its own; the previous one does. */
function messageChanged(
  event: MessageEvent,
  ourAppId: string | undefined,
  idempotencyKey: string,
): SlackEvent {
  const current = event.message;
  const previous = event.previous_message;
  if (current === undefined) return { kind: "invalid", detail: "message_changed without message" };
  const bot = botOf(current, ourAppId);
  if (bot !== null) return bot;
  const ts = current.ts ?? previous?.ts;
  if (ts === undefined) return { kind: "invalid", detail: "message_changed without the message's ts" };
  // Unfurls and thread bookkeeping also arrive as message_changed; only a new text is an edit.
  if (previous !== undefined && current.text === previous.text) {
    return { kind: "ignored", reason: "unchanged", detail: "message_changed with the same text" };
  }
  return {
    kind: "change",
    change: {
      channel: "slack",
      idempotencyKey,
      threadKeys: [slackThreadKey(event.channel, current.thread_ts ?? previous?.thread_ts ?? ts)],
      externalId: ts,
      change: { type: "edit", text: slackUnescape(current.text ?? "") },
    },
  };
}

function messageDeleted(event: MessageEvent, idempotencyKey: string): SlackEvent {
  const ts = event.deleted_ts ?? event.previous_message?.ts;
  if (ts === undefined) return { kind: "invalid", detail: "message_deleted without deleted_ts" };
  return {
    kind: "change",
    change: {
      channel: "slack",
      idempotencyKey,
      threadKeys: [slackThreadKey(event.channel, event.previous_message?.thread_ts ?? ts)],
      externalId: ts,
      change: { type: "delete" },
    },
  };
}

function filePlaceholder(file: z.infer<typeof fileSchema>, team: string | undefined): SlackFilePlaceholder {
  return {
    // Deterministic, so a retried event rewrites the same placeholder instead of adding one.
    storageKey: `slack/${team ?? "unknown"}/${file.id}`,
    filename: file.name ?? file.title ?? file.id,
    contentType: file.mimetype ?? "application/octet-stream",
    size: file.size ?? 0,
    urlPrivate: file.url_private ?? null,
    permalink: file.permalink ?? null,
  };
}

/** SPEC §3: a Slack ticket answers to `channel` + (`thread_ts` or `ts`). */
export function slackThreadKey(channel: string, threadTs: string): string {
  return `${channel}:${threadTs}`;
}

/** The inverse of `slackThreadKey`: where a reply to the thread goes. Channel ids never contain ":". */
export function parseSlackThreadKey(key: string): { channel: string; threadTs: string } | null {
  const at = key.indexOf(":");
  if (at <= 0 || at === key.length - 1) return null;
  return { channel: key.slice(0, at), threadTs: key.slice(at + 1) };
}

/** Slack escapes only &, < and > in message text (https://api.slack.com/reference/surfaces/formatting#escaping). */
export function slackUnescape(value: string): string {
  return value.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

// ─── Interactivity (block_actions) ───────────────────────────────────────────────────────────────

const blockActionsSchema = z.looseObject({
  type: z.literal("block_actions"),
  user: z.looseObject({ id: z.string().min(1), team_id: text, username: text, name: text }),
  team: z.looseObject({ id: text }).nullable().optional(),
  container: z.looseObject({ channel_id: text, message_ts: text }).optional(),
  channel: z.looseObject({ id: text }).nullable().optional(),
  message: z.looseObject({ ts: text, text: text }).optional(),
  actions: z.array(z.looseObject({ action_id: z.string(), value: text })).min(1),
});

export type SlackInteraction =
  | {
      kind: "claim";
      ticketNumber: number;
      user: { id: string; teamId: string | undefined; name: string | undefined };
      /** The notice that was clicked, so it can be updated. */
      notice: { channel: string; ts: string; text: string } | null;
    }
  | { kind: "ignored"; reason: IgnoredReason; detail: string }
  | { kind: "invalid"; detail: string };

/** Interactivity posts a form with one field, `payload`, holding the JSON. */
export function normaliseSlackInteraction(rawBody: string): SlackInteraction {
  const payload = new URLSearchParams(rawBody).get("payload");
  if (payload === null) return { kind: "invalid", detail: "no payload field in the form body" };
  let json: unknown;
  try {
    json = JSON.parse(payload);
  } catch {
    return { kind: "invalid", detail: "payload is not JSON" };
  }
  const type = typeof json === "object" && json !== null && "type" in json ? json.type : undefined;
  if (type !== "block_actions") {
    return {
      kind: "ignored",
      reason: "unsupported_event",
      detail: `interaction ${String(type)} is not handled`,
    };
  }
  const parsed = blockActionsSchema.safeParse(json);
  if (!parsed.success) return { kind: "invalid", detail: "a block_actions payload without user or actions" };
  const body = parsed.data;
  const claim = body.actions.find((a) => a.action_id === CLAIM_ACTION_ID);
  if (claim === undefined) return { kind: "ignored", reason: "not_a_claim", detail: "not a Claim button" };
  const ticketNumber = parseTicketKey(claim.value ?? "");
  if (ticketNumber === null) return { kind: "invalid", detail: "the Claim button names no ticket" };
  const channel = body.container?.channel_id ?? body.channel?.id;
  const ts = body.container?.message_ts ?? body.message?.ts;
  return {
    kind: "claim",
    ticketNumber,
    user: {
      id: body.user.id,
      // The clicker's own workspace; `team` is where the click happened (ours, in a shared channel).
      teamId: body.user.team_id,
      name: body.user.name ?? body.user.username,
    },
    notice:
      channel === undefined || ts === undefined ? null : { channel, ts, text: body.message?.text ?? "" },
  };
}
