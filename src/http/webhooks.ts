import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ChannelResult, RawRequest, Verification, WebhookEndpoint } from "../channels/contract";
import { enqueueIntake, shouldQueue } from "../channels/queue";
import { WEBHOOK_ENDPOINTS } from "../channels/registry";
import { problem } from "./errors";

/** One limit for every webhook body (and for `POST /v1/messages`). */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

type WebhookEnv = { Bindings: Env };

/**
 * The webhook plumbing, written once and mounted for every endpoint in `channels/registry.ts`:
 * body limit → verify the raw bytes → decode → accept → answer now, or run the job (through
 * INTAKE_QUEUE in `queue` mode when the endpoint allows it, inline otherwise).
 */
export const webhooksApp = new Hono<WebhookEnv>();

webhooksApp.use(
  bodyLimit({
    maxSize: MAX_WEBHOOK_BODY_BYTES,
    onError: (c) => problem(c, 413, `The body is over ${MAX_WEBHOOK_BODY_BYTES} bytes.`),
  }),
);

for (const endpoint of WEBHOOK_ENDPOINTS) {
  webhooksApp.post(endpoint.path, (c) => handle(c, endpoint));
}

async function handle(c: Context<WebhookEnv>, endpoint: WebhookEndpoint<unknown>): Promise<Response> {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const request: RawRequest = {
    body,
    text: new TextDecoder().decode(body),
    header: (name) => c.req.header(name),
  };
  const now = Date.now();
  const verified = await endpoint.verify(c.env, request, now);
  if (!verified.ok) return refuse(c, endpoint, verified.reason);
  let decoded: unknown;
  try {
    decoded = endpoint.decode === undefined ? JSON.parse(request.text) : endpoint.decode(request);
  } catch {
    return problem(c, 400, "The body is not JSON.");
  }
  const accepted = await endpoint.accept(c.env, decoded, request, now);
  if (accepted.kind !== "job") return answer(c, endpoint, accepted);
  const { job } = accepted;
  if (endpoint.queued !== undefined && shouldQueue(c.env, job)) {
    try {
      await enqueueIntake(c.env, job);
    } catch (error) {
      console.error(`${endpoint.path}: a verified event could not be queued`, error);
      return problem(c, 500, "The event could not be queued; a retry is safe.");
    }
    const queued = endpoint.queued(job);
    return c.json(queued.body, queued.status);
  }
  const work = endpoint.run(c.env, job, c.executionCtx);
  return endpoint.ackBudgetMs === undefined
    ? answer(c, endpoint, await work)
    : answerWithinBudget(c, endpoint, job, work, endpoint.ackBudgetMs);
}

/** The one mapping from a verification failure to an HTTP answer. */
function refuse(
  c: Context<WebhookEnv>,
  endpoint: WebhookEndpoint<unknown>,
  reason: Exclude<Verification, { ok: true }>["reason"],
): Response {
  const { provider, secret, headers, signatureHeader, notConfiguredHeaders, window } = endpoint.signature;
  switch (reason) {
    case "not_configured":
      console.warn(`${provider} request refused: ${secret} is not set`);
      return problem(c, 503, `The ${provider} channel is not configured (${secret} is not set).`, {
        ...(notConfiguredHeaders === undefined ? {} : { headers: notConfiguredHeaders }),
      });
    case "missing_signature":
      return problem(c, 401, `${headers} ${headers.includes(" and ") ? "are" : "is"} missing.`);
    case "stale_timestamp":
      return problem(
        c,
        401,
        `The request timestamp is more than ${window ?? "5 minutes"} away from our clock.`,
      );
    case "bad_signature":
      return problem(c, 401, `${signatureHeader} does not match the body.`);
  }
}

/** The one mapping from a channel's result to an HTTP answer. */
function answer(c: Context<WebhookEnv>, endpoint: WebhookEndpoint<unknown>, result: ChannelResult): Response {
  switch (result.kind) {
    case "stored": {
      const { ticket, created, replay, what } = result;
      return c.json(
        { ok: true, ticket, created, replay, ...(what === undefined ? {} : { what }) },
        endpoint.storedStatus(result),
      );
    }
    case "changed":
      return c.json({ ok: true, ticket: result.ticket, changed: result.changed, replay: result.replay });
    case "ignored":
      return c.json({ ok: true, ignored: result.reason });
    case "answer":
      return c.json(result.body);
    case "invalid":
      return problem(c, 400, result.detail, result.issues === undefined ? {} : { issues: result.issues });
  }
}

/**
 * Answer with the job's result if it comes within `budgetMs`, else say it is pending and let it
 * finish in `waitUntil`. A failure within the budget is a 500, so the provider retries (safely:
 * the job carries its idempotency key); one after it goes to the intake queue.
 */
async function answerWithinBudget(
  c: Context<WebhookEnv>,
  endpoint: WebhookEndpoint<unknown>,
  job: unknown,
  work: Promise<ChannelResult>,
  budgetMs: number,
): Promise<Response> {
  let answered = false;
  c.executionCtx.waitUntil(
    work.catch(async (error: unknown) => {
      if (!answered) return;
      // The provider was told it arrived and will not send it again: the intake queue retries it
      // (with backoff, then its dead-letter queue), deduped by the job's own idempotency key.
      console.error(
        `${endpoint.path}: an event failed after it was acknowledged; retrying it from the queue`,
        error,
      );
      try {
        await enqueueIntake(c.env, job);
      } catch (queueError) {
        console.error(
          `${endpoint.path}: the failed event could not be queued either; it is lost`,
          queueError,
        );
      }
    }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), budgetMs);
  });
  try {
    const result = await Promise.race([work, budget]);
    return result === null ? c.json({ ok: true, pending: true }) : answer(c, endpoint, result);
  } catch (error) {
    console.error(`${endpoint.path}: an event failed; the provider will retry it`, error);
    return problem(c, 500, "The event could not be stored; a retry is safe.");
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}
