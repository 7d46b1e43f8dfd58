import type { LinearJob } from "../integrations";
import type { ChannelResult, WebhookEndpoint } from "./contract";
import type { GithubJob } from "./github";
import { QUEUE_SOURCES } from "./registry";
import type { SlackJob } from "./slack";

/**
 * Intake through a queue (INTAKE_MODE = "queue", the default): a queueable webhook endpoint
 * verifies, parses and answers the cheap cases itself, puts the job on INTAKE_QUEUE and answers at
 * once; `queue()` runs the same endpoint's `run` the inline path runs. Redelivery is safe: each
 * job carries its channel's idempotency key (Slack `event_id`, `X-GitHub-Delivery`).
 */
export type IntakeJob = SlackJob | GithubJob | LinearJob;

/**
 * Queues take messages up to 128 KB. A larger job (a long GitHub issue body near the 1 MiB webhook
 * limit) is run inline instead, as in `inline` mode: slower to answer, never lost.
 */
export const MAX_QUEUED_BYTES = 100_000;

export type IntakeMode = "queue" | "inline";

/** `INTAKE_MODE`: anything but "inline" (including unset) queues. */
export function intakeMode(env: Env): IntakeMode {
  return env.INTAKE_MODE?.trim() === "inline" ? "inline" : "queue";
}

/** Whether this job should go on the queue (queue mode and small enough for a queue message). */
export function shouldQueue(env: Env, job: unknown): boolean {
  if (intakeMode(env) !== "queue") return false;
  return new TextEncoder().encode(JSON.stringify(job)).byteLength <= MAX_QUEUED_BYTES;
}

/** Put a verified job on the intake queue; throws when the queue refuses it (the webhook then answers 500). */
export async function enqueueIntake(env: Env, job: unknown): Promise<void> {
  await env.INTAKE_QUEUE.send(job, { contentType: "json" });
}

/** The endpoint whose jobs a channel puts on the queue (each channel queues from one endpoint at most). */
function queueEndpoint(channel: string): WebhookEndpoint<unknown> | undefined {
  return QUEUE_SOURCES.find((c) => c.name === channel)?.endpoints.find((e) => e.queued !== undefined);
}

/** The processing both the inline route and the queue consumer run for one job. */
export function runIntakeJob(
  env: Env,
  job: IntakeJob,
  context: ExecutionContextLike,
): Promise<ChannelResult> {
  const endpoint = queueEndpoint(job.channel);
  if (endpoint === undefined) throw new Error(`no queueable endpoint for channel ${job.channel}`);
  return endpoint.run(env, job, context);
}

interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void;
}

/** Retry delay after the n-th failed attempt: 2, 4, 8… seconds, at most 5 minutes. */
export function retryDelaySeconds(attempts: number): number {
  return Math.min(2 ** Math.max(1, attempts), 300);
}

/**
 * Between two messages the consumer steps aside this long: requests waiting in the same isolate
 * (webhooks to answer within Slack's 3 s) run first. Under a burst the backlog stays on the queue
 * a little longer instead of delaying the answers; a batch of 10 takes at most 10 ms more.
 */
export const YIELD_BETWEEN_MESSAGES_MS = 1;

/** `queue()`: each message is acked once its intake succeeded, retried with backoff otherwise. */
export async function consumeIntakeBatch(batch: MessageBatch<IntakeJob>, env: Env): Promise<void> {
  for (const message of batch.messages) {
    await scheduler.wait(YIELD_BETWEEN_MESSAGES_MS);
    try {
      // Nothing answers a queue message, so work a job would leave for later is awaited with it.
      const later: Promise<unknown>[] = [];
      await runIntakeJob(env, message.body, { waitUntil: (promise) => later.push(promise) });
      await Promise.all(later);
      message.ack();
    } catch (error) {
      const delaySeconds = retryDelaySeconds(message.attempts);
      console.error(
        `intake ${describe(message.body)} failed (attempt ${message.attempts}); retrying in ${delaySeconds} s`,
        error,
      );
      message.retry({ delaySeconds });
    }
  }
}

function describe(job: IntakeJob): string {
  switch (job.channel) {
    case "slack":
      return `slack ${job.event.kind === "message" ? job.event.message.idempotencyKey : job.event.change.idempotencyKey}`;
    case "github":
      return `github delivery ${job.delivery.id}`;
    case "linear":
      return `linear delivery ${job.delivery}`;
  }
}
