import type { InboundMessageInput } from "../domain/inbound";
import { INTEGRATIONS } from "../integrations";
import { apiIngress } from "./api";
import type { ChannelIngress, QuarantinedMessage, WebhookEndpoint } from "./contract";
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

/** Every webhook endpoint of every channel, and of every integration (`src/integrations`: Linear). */
export const WEBHOOK_ENDPOINTS: readonly WebhookEndpoint<unknown>[] = [
  ...CHANNEL_INGRESS.flatMap((c) => c.endpoints),
  ...INTEGRATIONS.flatMap((i) => i.endpoints),
];

/** Who puts jobs on INTAKE_QUEUE, by the job's `channel`: every channel and integration. */
export const QUEUE_SOURCES: readonly { name: string; endpoints: readonly WebhookEndpoint<unknown>[] }[] = [
  ...CHANNEL_INGRESS,
  ...INTEGRATIONS,
];

/** The hourly cron: what each channel owes on it (GitHub's weekly triage digest). */
export async function runScheduled(env: Env, scheduledTime: number): Promise<void> {
  for (const channel of CHANNEL_INGRESS) await channel.scheduled?.(env, scheduledTime);
}

/**
 * A quarantined message read again by the channel that kept it (email: the raw mail from R2), for
 * `commands` `promoteQuarantined`; null when that channel cannot (the command uses the stored row).
 */
export async function rereadQuarantined(
  env: Env,
  message: QuarantinedMessage & { channel: string },
): Promise<InboundMessageInput | null> {
  const channel = CHANNEL_INGRESS.find((c) => c.name === message.channel);
  return (await channel?.reread?.(env, message)) ?? null;
}
