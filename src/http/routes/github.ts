import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { decodeGithubBody, parseGithubEvent } from "../../channels/github/normalise";
import { verifyGithubSignature } from "../../channels/github/verify";
import { handleGithubEvent } from "../../services/github";
import { enqueueIntake, type IntakeJob, shouldQueue } from "../../services/intake-queue";
import { problem, zodIssues } from "../errors";

export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/**
 * `POST /webhooks/github`: verify the raw body, then hand the event to the GitHub service: through
 * INTAKE_QUEUE, answered 202 at once (INTAKE_MODE = "queue", the default), or inline, answered with
 * its result (INTAKE_MODE = "inline").
 */
export const githubApp = new Hono<{ Bindings: Env }>();

githubApp.use(
  bodyLimit({
    maxSize: MAX_WEBHOOK_BODY_BYTES,
    onError: (c) => problem(c, 413, `The body is over ${MAX_WEBHOOK_BODY_BYTES} bytes.`),
  }),
);

githubApp.post("/", async (c) => {
  const raw = new Uint8Array(await c.req.arrayBuffer());
  const verified = await verifyGithubSignature(
    c.env.GITHUB_WEBHOOK_SECRET,
    raw,
    c.req.header("x-hub-signature-256"),
  );
  if (!verified.ok) {
    switch (verified.reason) {
      case "not_configured":
        return problem(c, 503, "The GitHub channel is not configured (GITHUB_WEBHOOK_SECRET is not set).");
      case "missing_signature":
        return problem(c, 401, "X-Hub-Signature-256 is missing.");
      case "bad_signature":
        return problem(c, 401, "X-Hub-Signature-256 does not match the body.");
    }
  }
  const name = c.req.header("x-github-event");
  const deliveryId = c.req.header("x-github-delivery");
  if (name === undefined || name === "") return problem(c, 400, "X-GitHub-Event is missing.");
  if (deliveryId === undefined || deliveryId === "" || deliveryId.length > 200) {
    return problem(c, 400, "X-GitHub-Delivery is missing or too long.");
  }
  let payload: unknown;
  try {
    payload = decodeGithubBody(new TextDecoder().decode(raw), c.req.header("content-type"));
  } catch {
    return problem(c, 400, "The body is not JSON.");
  }
  const parsed = parseGithubEvent(name, payload);
  if (!parsed.ok) {
    return problem(c, 400, `The ${name} payload is not what GitHub sends.`, {
      issues: zodIssues(parsed.issues),
    });
  }
  const event = parsed.event;
  const delivery = { id: deliveryId, receivedAt: Date.now() };
  // `ping` and events we do not handle are answered here; the rest may go through the intake queue.
  if (event.type !== "ping" && event.type !== "unsupported") {
    const job: IntakeJob = { channel: "github", event, delivery };
    if (shouldQueue(c.env, job)) {
      try {
        await enqueueIntake(c.env, job);
      } catch (error) {
        console.error(`GitHub delivery ${deliveryId} could not be queued`, error);
        return problem(c, 500, "The delivery could not be queued; redelivering it is safe.");
      }
      return c.json({ ok: true, queued: true, delivery: deliveryId }, 202);
    }
  }
  const outcome = await handleGithubEvent(c.env, event, delivery);
  switch (outcome.kind) {
    case "pong":
      return c.json({ ok: true, pong: true });
    case "ignored":
      return c.json({ ok: true, ignored: outcome.reason });
    case "stored": {
      const { ticket, created, replay, what } = outcome;
      return c.json({ ok: true, ticket, created, replay, what }, replay ? 200 : 202);
    }
  }
});
