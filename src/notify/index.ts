import { sendOnChannel } from "../channels/outbound";
import type { DeliveryOutcome } from "./http";
import { sendLinearRequest } from "./linear";
import { sendPagerDutyEvent } from "./pagerduty";
import type { Delivery, OutboundEnv } from "./types";

export type { DeliveryOutcome } from "./http";
export {
  createLinearIssue,
  findLinearIssue,
  type LinearEnv,
  type LinearIssue,
  type LinearLookup,
  type LinearResult,
} from "./linear";
export type { Delivery, OutboundEnv, OutboxItem } from "./types";
export { deliverySchema, outboxItemSchema } from "./types";

/**
 * Perform one outbound call; never throws, the outcome says whether another try may help. A
 * channel's own service goes to that channel's `send`; PagerDuty and Linear are the desk's own.
 */
export async function deliver(env: OutboundEnv, delivery: Delivery): Promise<DeliveryOutcome> {
  if (delivery.service === "pagerduty") return sendPagerDutyEvent(env, delivery);
  if (delivery.service === "linear") return sendLinearRequest(env, delivery);
  const sent = sendOnChannel(env, delivery);
  if (sent === null) return { ok: false, retryable: false, error: `no sender for ${delivery.service}` };
  return sent;
}
