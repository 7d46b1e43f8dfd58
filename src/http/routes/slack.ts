import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { claimFromSlack } from "../../channels/slack/claim";
import { normaliseSlackEvent, normaliseSlackInteraction } from "../../channels/slack/normalise";
import { type SlackVerification, verifySlackRequest } from "../../channels/slack/verify";
import { deliver } from "../../notify";
import { enqueueIntake, type IntakeJob, shouldQueue } from "../../services/intake-queue";
import { handleSlackEvent, type SlackOutcome } from "../../services/slack";
import { problem } from "../errors";

export const MAX_SLACK_BODY_BYTES = 1024 * 1024;

/**
 * Slack wants an answer within 3 s and retries otherwise. In `queue` mode (the default) a message or
 * edit is put on INTAKE_QUEUE and answered at once (a failing send is a 500, so Slack retries). In
 * `inline` mode intake normally takes milliseconds and is answered with its result (a failure is a 500, so Slack's retry tries again, safely deduped by
 * `event_id`); whatever is still running after this budget finishes after the response, in `waitUntil`.
 */
export const ACK_BUDGET_MS = 2_000;

type SlackEnv = { Bindings: Env };

export const slackApp = new Hono<SlackEnv>();

slackApp.use(
  bodyLimit({
    maxSize: MAX_SLACK_BODY_BYTES,
    onError: (c) => problem(c, 413, `The body is over ${MAX_SLACK_BODY_BYTES} bytes.`),
  }),
);

slackApp.post("/events", async (c) => {
  const rawBody = await c.req.text();
  const verified = await verify(c, rawBody);
  if (!verified.ok) return refuse(c, verified.reason);
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return problem(c, 400, "The body is not JSON.");
  }
  const event = normaliseSlackEvent(body, {
    ourTeamId: ourTeam(c.env),
    receivedAt: Date.now(),
  });
  switch (event.kind) {
    case "url_verification":
      return c.json({ challenge: event.challenge });
    case "invalid":
      return problem(c, 400, event.detail);
    case "ignored":
      return c.json({ ok: true, ignored: event.reason });
    case "message":
    case "change": {
      const job: IntakeJob = { channel: "slack", event };
      if (!shouldQueue(c.env, job)) return ackWithinBudget(c, handleSlackEvent(c.env, event));
      try {
        await enqueueIntake(c.env, job);
      } catch (error) {
        console.error("Slack event could not be queued; Slack will retry it", error);
        return problem(c, 500, "The event could not be queued; a retry is safe.");
      }
      return c.json({ ok: true, queued: true });
    }
  }
});

slackApp.post("/interactions", async (c) => {
  const rawBody = await c.req.text();
  const verified = await verify(c, rawBody);
  if (!verified.ok) return refuse(c, verified.reason);
  const interaction = normaliseSlackInteraction(rawBody);
  switch (interaction.kind) {
    case "invalid":
      return problem(c, 400, interaction.detail);
    case "ignored":
      return c.json({ ok: true, ignored: interaction.reason });
    case "claim": {
      const result = await claimFromSlack(c.env, interaction, ourTeam(c.env));
      if (!result.ok && interaction.notice !== null) {
        // Only the person who clicked needs to know; best effort, no ticket outbox to retry from.
        c.executionCtx.waitUntil(
          deliver(c.env, {
            service: "slack",
            method: "chat.postEphemeral",
            body: {
              channel: interaction.notice.channel,
              user: interaction.user.id,
              text: CLAIM_REFUSALS[result.reason](result.ticket),
            },
          }),
        );
      }
      return c.json(result);
    }
  }
});

const CLAIM_REFUSALS = {
  not_staff: (key: string) => `Only members of the support workspace can claim ${key}.`,
  not_found: (key: string) => `${key} no longer exists.`,
  conflict: (key: string) => `${key} changed while you clicked; please try again.`,
} as const;

/** `SLACK_TEAM_ID`, our own workspace; unset means nobody is staff. */
function ourTeam(env: Env): string | undefined {
  return env.SLACK_TEAM_ID?.trim() || undefined;
}

function verify(c: Context<SlackEnv>, rawBody: string): Promise<SlackVerification> {
  return verifySlackRequest(
    c.env.SLACK_SIGNING_SECRET,
    {
      timestamp: c.req.header("x-slack-request-timestamp"),
      signature: c.req.header("x-slack-signature"),
      rawBody,
    },
    Date.now(),
  );
}

function refuse(c: Context<SlackEnv>, reason: Exclude<SlackVerification, { ok: true }>["reason"]) {
  switch (reason) {
    case "not_configured":
      console.warn("Slack request refused: SLACK_SIGNING_SECRET is not set");
      return problem(c, 503, "Slack is not configured on this desk (SLACK_SIGNING_SECRET is not set).", {
        headers: { "x-slack-no-retry": "1" },
      });
    case "missing_signature":
      return problem(c, 401, "X-Slack-Signature and X-Slack-Request-Timestamp are required.");
    case "stale_timestamp":
      return problem(c, 401, "X-Slack-Request-Timestamp is more than 5 minutes away from our clock.");
    case "bad_signature":
      return problem(c, 401, "X-Slack-Signature does not match the body.");
  }
}

async function ackWithinBudget(c: Context<SlackEnv>, work: Promise<SlackOutcome>) {
  let answered = false;
  c.executionCtx.waitUntil(
    work.catch((error: unknown) => {
      if (answered) console.error("Slack event failed after it was acknowledged", error);
    }),
  );
  let timer: ReturnType<typeof setTimeout> | undefined;
  const budget = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), ACK_BUDGET_MS);
  });
  try {
    const outcome = await Promise.race([work, budget]);
    return c.json(outcome ?? { ok: true, pending: true });
  } catch (error) {
    console.error("Slack event failed; Slack will retry it", error);
    return problem(c, 500, "The event could not be stored; a retry is safe.");
  } finally {
    answered = true;
    clearTimeout(timer);
  }
}
