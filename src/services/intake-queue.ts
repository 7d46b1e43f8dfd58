import type { GithubEvent } from "../channels/github/normalise";
import { type Delivery, handleGithubEvent } from "./github";
import { handleSlackEvent, type SlackWork } from "./slack";

/**
 * Slack and GitHub intake through a queue (INTAKE_MODE = "queue", the default): the webhook verifies,
 * parses and answers the cheap cases itself, puts the normalised event on INTAKE_QUEUE and answers at
 * once; `queue()` runs the same service function the inline route runs. Redelivery is safe: Slack
 * `event_id` and `X-GitHub-Delivery` are the intake's idempotency keys.
 */
export type IntakeJob =
  | { channel: "slack"; event: SlackWork }
  | { channel: "github"; event: Exclude<GithubEvent, { type: "ping" | "unsupported" }>; delivery: Delivery };

/**
 * Queues take messages up to 128 KB. A larger event (a long GitHub issue body near the 1 MiB webhook
 * limit) is run inline instead, as in `inline` mode: slower to answer, never lost.
 */
export const MAX_QUEUED_BYTES = 100_000;

export type IntakeMode = "queue" | "inline";

/** `INTAKE_MODE`: anything but "inline" (including unset) queues. */
export function intakeMode(env: Env): IntakeMode {
  return env.INTAKE_MODE?.trim() === "inline" ? "inline" : "queue";
}

/** Whether this job should go on the queue (queue mode and small enough for a queue message). */
export function shouldQueue(env: Env, job: IntakeJob): boolean {
  if (intakeMode(env) !== "queue") return false;
  return new TextEncoder().encode(JSON.stringify(job)).byteLength <= MAX_QUEUED_BYTES;
}

/** Put a verified event on the intake queue; throws when the queue refuses it (the webhook then answers 500). */
export async function enqueueIntake(env: Env, job: IntakeJob): Promise<void> {
  await env.INTAKE_QUEUE.send(job, { contentType: "json" });
}

/** The processing both the inline route and the queue consumer run for one event. */
export function runIntakeJob(env: Env, job: IntakeJob): Promise<unknown> {
  switch (job.channel) {
    case "slack":
      return handleSlackEvent(env, job.event);
    case "github":
      return handleGithubEvent(env, job.event, job.delivery);
  }
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
      await runIntakeJob(env, message.body);
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
  }
}
