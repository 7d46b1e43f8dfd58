import { apiIngress } from "./api";
import type { ChannelIngress, WebhookEndpoint } from "./contract";
import { discordIngress } from "./discord";
import { emailIngress } from "./email";
import { githubIngress } from "./github";
import { slackIngress } from "./slack";

/**
 * The ingress registry: every channel's inbound half (`<channel>/index.ts`). `http/webhooks.ts`
 * mounts each endpoint with the shared plumbing, the intake queue's consumer runs their jobs, and
 * the hourly cron calls each channel's `scheduled`. Adding a channel is one line here (and one in
 * `outbound.ts`).
 */
export const CHANNEL_INGRESS: readonly ChannelIngress[] = [
  apiIngress,
  emailIngress,
  slackIngress,
  githubIngress,
  discordIngress,
];

/** Every webhook endpoint of every channel. */
export const WEBHOOK_ENDPOINTS: readonly WebhookEndpoint<unknown>[] = CHANNEL_INGRESS.flatMap(
  (c) => c.endpoints,
);

/** The hourly cron: what each channel owes on it (GitHub's weekly triage digest). */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  for (const channel of CHANNEL_INGRESS) await channel.scheduled?.(env, scheduledTime);
}
