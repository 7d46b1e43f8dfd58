import type { WebhookEndpoint } from "../channels/contract";
import { linearWebhook } from "./linear";

/**
 * Integrations: services the desk works with that are not customer channels (no tickets open
 * from them; they change tickets that exist). Linear is one: `POST /webhooks/linear`. Their
 * webhook endpoints use the same contract and plumbing as the channels' (`http/webhooks.ts`),
 * and queue through the same INTAKE_QUEUE.
 */
export interface Integration {
  name: "linear";
  endpoints: readonly WebhookEndpoint<unknown>[];
}

export const INTEGRATIONS: readonly Integration[] = [
  { name: "linear", endpoints: [linearWebhook as WebhookEndpoint<unknown>] },
];

export type { LinearJob } from "./linear";
