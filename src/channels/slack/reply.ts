import { z } from "zod";
import { slackEscape } from "../../domain/escalation";
import { apiBase, type DeliveryOutcome, httpOutcome, postJson, setting } from "../../notify/http";
import type { OutboundEnv } from "../../notify/types";
import type { ChannelOutbound } from "../contract";

export const slackDeliverySchema = z.object({
  service: z.literal("slack"),
  /** `chat.update` edits the message at `body.ts` (a claimed notice); default `chat.postMessage`. */
  method: z.enum(["chat.postMessage", "chat.update", "chat.postEphemeral"]).optional(),
  body: z.object({
    channel: z.string(),
    /** chat.postEphemeral: the one user who sees it. */
    user: z.string().optional(),
    text: z.string(),
    thread_ts: z.string().optional(),
    ts: z.string().optional(),
    blocks: z.array(z.unknown()).optional(),
  }),
});
export type SlackDelivery = z.infer<typeof slackDeliverySchema>;

const SLACK_API = "https://slack.com/api";

/** Slack errors that another try will not fix. */
const PERMANENT_ERRORS = new Set([
  "channel_not_found",
  "not_in_channel",
  "is_archived",
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "missing_scope",
  "invalid_blocks",
  "msg_too_long",
  "no_text",
  "user_not_found",
]);

export async function postSlackMessage(
  env: OutboundEnv,
  body: SlackDelivery["body"],
  method: NonNullable<SlackDelivery["method"]> = "chat.postMessage",
): Promise<DeliveryOutcome> {
  const token = setting(env.SLACK_BOT_TOKEN);
  if (token === undefined) return { ok: "skipped", reason: "SLACK_BOT_TOKEN is not set" };
  const sent = await postJson(
    `${apiBase(env.SLACK_API_URL, SLACK_API)}/${method}`,
    { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
    // Only a new message can be unfurled.
    JSON.stringify(method === "chat.postMessage" ? { unfurl_links: false, ...body } : body),
  );
  if (!sent.ok) return sent.outcome;
  const { response } = sent;
  if (!response.ok) return httpOutcome(response);
  // Slack answers 200 with `ok: false` for application errors.
  const result: unknown = await response.json().catch(() => null);
  if (typeof result !== "object" || result === null)
    return { ok: false, retryable: true, error: "Slack sent no JSON" };
  const { ok, error, ts } = result as { ok?: unknown; error?: unknown; ts?: unknown };
  if (ok === true) return typeof ts === "string" ? { ok: true, externalId: ts } : { ok: true };
  const code = typeof error === "string" ? error : "unknown_error";
  return { ok: false, retryable: !PERMANENT_ERRORS.has(code), error: `Slack error: ${code}` };
}

/** The `action_id` of the Claim button; `POST /webhooks/slack/interactions` handles it. */
export const CLAIM_ACTION_ID = "claim";

/**
 * Block Kit for a notice to a team channel: the notice itself and a **Claim** button whose value is
 * the ticket key. `text` stays the notification fallback.
 */
export function claimableNoticeBlocks(text: string, ticketKey: string): unknown[] {
  return [
    { type: "section", text: { type: "mrkdwn", text } },
    {
      type: "actions",
      block_id: `claim:${ticketKey}`,
      elements: [
        {
          type: "button",
          action_id: CLAIM_ACTION_ID,
          text: { type: "plain_text", text: "Claim", emoji: true },
          value: ticketKey,
          style: "primary",
        },
      ],
    },
  ];
}

/** The same notice once claimed: the button is replaced by who took it. */
export function claimedNoticeBlocks(text: string, claimedBy: string): unknown[] {
  return [
    { type: "section", text: { type: "mrkdwn", text } },
    { type: "context", elements: [{ type: "mrkdwn", text: `:white_check_mark: Claimed by ${claimedBy}` }] },
  ];
}

/**
 * A notice to one of our own Slack channels or people (escalation ladder, reassignment, account
 * engineer); with `claimKey` it carries a **Claim** button for that ticket.
 */
export function slackNotice(channel: string, text: string, claimKey: string | null = null): SlackDelivery {
  return {
    service: "slack",
    body: { channel, text, ...(claimKey === null ? {} : { blocks: claimableNoticeBlocks(text, claimKey) }) },
  };
}

/** Replies go into the thread the ticket was opened from: its oldest key, `<channel>:<thread ts>` (SPEC §3). */
export const slackOutbound: ChannelOutbound<SlackDelivery> = {
  service: "slack",
  needsThreadKeys: true,
  noDeliveryReason: "the ticket has no Slack thread to reply in; the reply is on the ticket only",
  compose(target, message) {
    const threadKey = target.threadKeys?.[target.threadKeys.length - 1];
    const at = threadKey?.indexOf(":") ?? -1;
    if (threadKey === undefined || at <= 0) return null;
    const channel = threadKey.slice(0, at);
    const threadTs = threadKey.slice(at + 1);
    const { text, url } = message;
    const body = slackEscape(url === undefined || text.includes(url) ? text : `${text}\n${url}`);
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} to Slack ${channel}`,
      delivery: { service: "slack", body: { channel, text: body, thread_ts: threadTs } },
    };
  },
  send: (env, delivery) => postSlackMessage(env, delivery.body, delivery.method),
};
