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
  body: { channel: string; text: string; thread_ts?: string; blocks?: unknown[] },
): Promise<DeliveryOutcome> {
  const token = setting(env.SLACK_BOT_TOKEN);
  if (token === undefined) return { ok: "skipped", reason: "SLACK_BOT_TOKEN is not set" };
  const base = setting(env.SLACK_API_URL) ?? SLACK_API;
  let response: Response;
  try {
    response = await fetch(`${base.replace(/\/+$/, "")}/chat.postMessage`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json; charset=utf-8" },
      body: JSON.stringify({ unfurl_links: false, ...body }),
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
