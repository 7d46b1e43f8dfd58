import type { WebhookEndpoint } from "../../channels/contract";
import { zodIssues } from "../../domain/issues";
import { handleLinearEvent } from "./handle";
import { type LinearEvent, parseLinearEvent } from "./normalise";
import { verifyLinearSignature } from "./verify";

/** A verified Linear delivery, as it travels on INTAKE_QUEUE. */
export type LinearJob = {
  channel: "linear";
  event: Exclude<LinearEvent, { type: "unsupported" }>;
  delivery: string;
};

/**
 * `POST /webhooks/linear` (SPEC §13). Subscribe the webhook to `Issue` and `Comment` events. Linear
 * wants an answer within 5 s: in `queue` mode the job goes on INTAKE_QUEUE and the answer is
 * immediate; inline, the few D1 batches per linked ticket run before it.
 */
export const linearWebhook: WebhookEndpoint<LinearJob> = {
  path: "/webhooks/linear",
  signature: {
    provider: "Linear",
    secret: "LINEAR_WEBHOOK_SECRET",
    headers: "Linear-Signature",
    signatureHeader: "Linear-Signature",
    window: "60 seconds",
  },
  verify: (env, request, now) =>
    verifyLinearSignature(env.LINEAR_WEBHOOK_SECRET, request.body, request.header("linear-signature"), now),
  accept(_env, body, request) {
    const delivery = request.header("linear-delivery");
    if (delivery === undefined || delivery === "" || delivery.length > 200) {
      return { kind: "invalid", detail: "Linear-Delivery is missing or too long." };
    }
    const parsed = parseLinearEvent(body);
    if (!parsed.ok) {
      return {
        kind: "invalid",
        detail: "The payload is not what Linear sends.",
        issues: zodIssues(parsed.issues),
      };
    }
    const { event } = parsed;
    if (event.type === "unsupported") return { kind: "ignored", reason: `${event.what} is not handled` };
    return { kind: "job", job: { channel: "linear", event, delivery } };
  },
  run: (env, job) => handleLinearEvent(env, job.event, job.delivery),
  queued: (job) => ({ status: 200, body: { ok: true, queued: true, delivery: job.delivery } }),
  storedStatus: () => 200,
  // Inline mode: Linear gives up on a delivery after 5 s; whatever is still running then finishes
  // in `waitUntil` (and goes to the intake queue if it fails), deduplicated by Linear-Delivery.
  ackBudgetMs: 4_000,
};
