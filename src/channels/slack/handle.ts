import { changeInboundMessage, intake } from "../../intake";
import type { ChannelResult } from "../contract";
import { storeFilePlaceholders } from "./files";
import type { SlackEvent } from "./normalise";

/** A verified Slack event that needs the intake pipeline (the rest is answered when it is accepted). */
export type SlackWork = Extract<SlackEvent, { kind: "message" | "change" }>;

/** One verified Slack message or edit → intake or a message change. Inline and the queue consumer both run this. */
export async function handleSlackEvent(env: Env, event: SlackWork): Promise<ChannelResult> {
  if (event.kind === "change") {
    const result = await changeInboundMessage(env, event.change);
    return result.ok
      ? { kind: "changed", ticket: result.ticket, changed: result.changed, replay: result.replay }
      : { kind: "ignored", reason: result.reason };
  }
  await storeFilePlaceholders(env.ATTACHMENTS, event.files);
  const result = await intake(env, event.message);
  // A staff message outside any ticket's thread is just our people talking.
  if (!result.ok) return { kind: "ignored", reason: result.reason };
  return { kind: "stored", ticket: result.ticket, created: result.created, replay: result.replay };
}
