import type { ChannelResult } from "../../channels/contract";
import { applyIssueChange, type IssueChangeResult, noteOnLinkedTickets } from "../../commands";
import { improvementStateOfLinear } from "../../domain/improvements";
import type { DeskEnv } from "../../env";
import type { LinearEnv } from "../../notify";
import { database } from "../../store/db";
import { eventSeen, recordEvent } from "../../store/improvements";
import { type LinearEvent, stateChanged } from "./normalise";

/** The idempotency scope of Linear deliveries in `idempotency_keys`. */
export const LINEAR_SCOPE = "linear";

/**
 * One verified Linear delivery. `Linear-Delivery` is its idempotency key: the delivery as a whole
 * is recorded once every linked ticket has been changed, and each ticket's change carries
 * `<delivery>:<ticket>` in its own batch — so a redelivery, even after a crash half-way, changes
 * no ticket twice.
 */
export async function handleLinearEvent(
  env: DeskEnv & LinearEnv,
  event: LinearEvent,
  delivery: string,
): Promise<ChannelResult> {
  const db = database(env.DB);
  if (await eventSeen(db, LINEAR_SCOPE, delivery)) {
    return { kind: "answer", body: { ok: true, replay: true, delivery } };
  }
  let result: IssueChangeResult | null = null;
  let what = "ignored";
  switch (event.type) {
    case "unsupported":
      return { kind: "ignored", reason: `${event.what} is not handled` };
    case "issue": {
      const { payload } = event;
      if (!stateChanged(payload)) return { kind: "ignored", reason: "the issue's state did not change" };
      const { data } = payload;
      const state = improvementStateOfLinear(data.state.type);
      const at = Date.parse(data.completedAt ?? data.canceledAt ?? "") || payload.webhookTimestamp;
      result = await applyIssueChange(env, {
        source: "linear",
        externalId: data.id,
        ref: data.identifier,
        title: data.title,
        url: data.url,
        state,
        where: `${data.state.name} in Linear`,
        event: { channel: "linear", key: delivery },
        at,
      });
      what = state;
      break;
    }
    case "comment": {
      const { data } = event.payload;
      const issueId = data.issueId ?? data.issue?.id;
      if (issueId === undefined || issueId === null) {
        return { kind: "ignored", reason: "a comment on something other than an issue" };
      }
      result = await noteOnLinkedTickets(env, {
        source: "linear",
        externalId: issueId,
        commentId: data.id,
        author: `linear:${data.user?.name ?? event.payload.actor?.name ?? "engineer"}`,
        text: data.body,
        ref: data.issue?.identifier ?? "Linear issue",
      });
      what = "note";
      break;
    }
  }
  await recordEvent(db, LINEAR_SCOPE, delivery, Date.now());
  return { kind: "answer", body: { ok: true, replay: false, delivery, what, ...result } };
}
