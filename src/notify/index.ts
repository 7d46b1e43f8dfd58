import { postCallback } from "./callback";
import { sendDiscordMessage } from "./discord";
import { sendEmail } from "./email";
import { sendGithubRequest } from "./github";
import { sendPagerDutyEvent } from "./pagerduty";
import { postSlackMessage } from "./slack";
import type { Delivery, DeliveryOutcome, OutboundEnv } from "./types";

export { CLAIM_ACTION_ID, claimableNoticeBlocks, claimedNoticeBlocks } from "./slack";
export type { Delivery, DeliveryOutcome, OutboundEnv, OutboxItem } from "./types";
export { deliverySchema, outboxItemSchema } from "./types";

/** Perform one outbound call; never throws, the outcome says whether another try may help. */
export async function deliver(env: OutboundEnv, delivery: Delivery): Promise<DeliveryOutcome> {
  switch (delivery.service) {
    case "slack":
      return postSlackMessage(env, delivery.body, delivery.method);
    case "pagerduty":
      return sendPagerDutyEvent(env, delivery);
    case "callback":
      return postCallback(delivery.url, delivery.body);
    case "email":
      return sendEmail(env, delivery.mail);
    case "github":
      return sendGithubRequest(env, delivery);
    case "discord":
      return sendDiscordMessage(env, delivery);
  }
}
