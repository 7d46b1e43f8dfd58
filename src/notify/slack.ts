import {
  type DeliveryOutcome,
  httpOutcome,
  networkOutcome,
  OUTBOUND_TIMEOUT_MS,
  type OutboundEnv,
  setting,
} from "./types";

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
  body: { channel: string; text: string; user?: string; thread_ts?: string; ts?: string; blocks?: unknown[] },
  method: "chat.postMessage" | "chat.update" | "chat.postEphemeral" = "chat.postMessage",
): Promise<DeliveryOutcome> {
  const token = setting(env.SLACK_BOT_TOKEN);
  if (token === undefined) return { ok: "skipped", reason: "SLACK_BOT_TOKEN is not set" };
  const base = setting(env.SLACK_API_URL) ?? SLACK_API;
  let response: Response;
  try {
    response = await fetch(`${base.replace(/\/+$/, "")}/${method}`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
      // Only a new message can be unfurled.
      body: JSON.stringify(method === "chat.postMessage" ? { unfurl_links: false, ...body } : body),
      signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
    });
  } catch (error) {
    return networkOutcome(error);
  }
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
