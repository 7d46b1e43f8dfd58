import { storeFilePlaceholders } from "../channels/slack/files";
import type { SlackEvent } from "../channels/slack/normalise";
import { changeInboundMessage, intake } from "../intake";

/** A verified Slack event that needs the intake pipeline (the rest is answered by the route). */
export type SlackWork = Extract<SlackEvent, { kind: "message" | "change" }>;

export type SlackOutcome =
  | { ok: true; ticket: string; created: boolean; replay: boolean }
  | { ok: true; ticket: string; changed: number; replay: boolean }
  | { ok: true; ignored: string };

/** One verified Slack message or edit → intake or a message change. The route and the queue consumer both run this. */
export async function handleSlackEvent(env: Env, event: SlackWork): Promise<SlackOutcome> {
  if (event.kind === "change") {
    const result = await changeInboundMessage(env, event.change);
    return result.ok
      ? { ok: true, ticket: result.ticket, changed: result.changed, replay: result.replay }
      : { ok: true, ignored: result.reason };
  }
  await storeFilePlaceholders(env.ATTACHMENTS, event.files);
  const result = await intake(env, event.message);
  // A staff message outside any ticket's thread is just our people talking.
  if (!result.ok) return { ok: true, ignored: result.reason };
  return { ok: true, ticket: result.ticket, created: result.created, replay: result.replay };
}
