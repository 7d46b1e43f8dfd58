import { env, exports } from "cloudflare:workers";
import { slackSignature } from "../../src/channels/slack/verify";

export { default as blockActionsForm } from "../fixtures/corpus/slack/block_actions.form-encoded.txt?raw";
/** Real Slack payloads (test/fixtures/corpus/slack, see its SOURCES.md); never edited, only cloned and re-addressed. */
export { default as blockActions } from "../fixtures/corpus/slack/block_actions.json";
export { default as fileShareInThread } from "../fixtures/corpus/slack/event.message.file_share.in_thread.event-only.json";
export { default as appMention } from "../fixtures/corpus/slack/event_callback.app_mention.json";
export { default as botIdNewStyle } from "../fixtures/corpus/slack/event_callback.message.bot_id_new_style.json";
export { default as botMessage } from "../fixtures/corpus/slack/event_callback.message.bot_message.json";
export { default as extSharedOwnBot } from "../fixtures/corpus/slack/event_callback.message.ext_shared_channel.json";
export { default as fileShare } from "../fixtures/corpus/slack/event_callback.message.file_share.json";
export { default as inThread } from "../fixtures/corpus/slack/event_callback.message.in_thread_dm.json";
export { default as messageChanged } from "../fixtures/corpus/slack/event_callback.message.message_changed.json";
export { default as plain } from "../fixtures/corpus/slack/event_callback.message.plain.json";
export { default as threadBroadcast } from "../fixtures/corpus/slack/event_callback.message.thread_broadcast.json";
export { default as reactionAdded } from "../fixtures/corpus/slack/event_callback.reaction_added.json";
export { default as jsonLogsMessage } from "../fixtures/corpus/slack/jsonlogs_sample.events.MessagePayload.json";
export { default as urlVerification } from "../fixtures/corpus/slack/url_verification.json";

/** Our own workspace in the tests (vitest.config.ts `SLACK_TEAM_ID`): its members are staff. */
export const DESK_TEAM = "T0DESK";

type Json = Record<string, unknown>;

let counter = 0;

/** A fresh Slack message `ts` ("seconds.micros"), unique within the run. */
export function freshTs(): string {
  counter += 1;
  return `${Math.floor(Date.now() / 1000)}.${String(counter).padStart(6, "0")}`;
}

/** A fresh channel id, so tests never share a thread. */
export function freshChannel(): string {
  counter += 1;
  return `C0T${counter.toString(36).toUpperCase()}${Date.now().toString(36).toUpperCase()}`;
}

/**
 * A corpus envelope with a new `event_id` and its inner event's fields replaced/added. Fields set to
 * `undefined` are removed.
 */
export function envelope(base: unknown, event: Json, extra: Json = {}): Json {
  const copy = structuredClone(base) as Json;
  const inner = { ...((copy.event as Json | undefined) ?? {}), ...event };
  for (const [k, v] of Object.entries(inner)) if (v === undefined) delete inner[k];
  counter += 1;
  return {
    ...copy,
    event_id: `Ev${counter}X${Date.now().toString(36).toUpperCase()}`,
    ...extra,
    event: inner,
  };
}

export async function signedHeaders(
  body: string,
  options: { timestamp?: number; secret?: string } = {},
): Promise<Record<string, string>> {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000));
  const secret = options.secret ?? env.SLACK_SIGNING_SECRET;
  return {
    "x-slack-request-timestamp": timestamp,
    "x-slack-signature": await slackSignature(secret, timestamp, body),
  };
}

export interface SlackPost {
  timestamp?: number;
  secret?: string;
  headers?: Record<string, string>;
}

/** POST a body to the Slack events endpoint, signed as Slack signs it. */
export async function postEvent(body: Json | string, options: SlackPost = {}) {
  const raw = typeof body === "string" ? body : JSON.stringify(body);
  const response = await exports.default.fetch(
    new Request("https://desk.test/webhooks/slack/events", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(await signedHeaders(raw, options)),
        ...options.headers,
      },
      body: raw,
    }),
  );
  const text = await response.text();
  let json: Json = {};
  try {
    json = JSON.parse(text) as Json;
  } catch {
    // not JSON
  }
  return { response, json };
}

/** POST an interactivity payload (form-encoded `payload=`), signed. */
export async function postInteraction(payload: Json | string, options: SlackPost = {}) {
  const raw =
    typeof payload === "string"
      ? payload
      : new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  const response = await exports.default.fetch(
    new Request("https://desk.test/webhooks/slack/interactions", {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        ...(await signedHeaders(raw, options)),
        ...options.headers,
      },
      body: raw,
    }),
  );
  return { response, json: (await response.json()) as Json };
}
