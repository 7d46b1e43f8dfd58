import { deliver } from "../../notify";
import type { ChannelIngress, RawRequest, SignatureInfo, WebhookEndpoint } from "../contract";
import { claimFromSlack } from "./claim";
import { handleSlackEvent, type SlackWork } from "./handle";
import { normaliseSlackEvent, normaliseSlackInteraction, type SlackInteraction } from "./normalise";
import { verifySlackRequest } from "./verify";

/** A Slack event for the intake pipeline, as it travels on INTAKE_QUEUE. */
export type SlackJob = { channel: "slack"; event: SlackWork };
type ClaimJob = { channel: "slack"; claim: Extract<SlackInteraction, { kind: "claim" }> };

/**
 * Slack wants an answer within 3 s and retries otherwise. In `queue` mode (the default) a message or
 * edit is put on INTAKE_QUEUE and answered at once. In `inline` mode intake normally takes
 * milliseconds and is answered with its result (a failure is a 500, so Slack's retry tries again,
 * safely deduped by `event_id`); whatever is still running after this budget finishes after the
 * response, in `waitUntil`.
 */
export const ACK_BUDGET_MS = 2_000;

const signature: SignatureInfo = {
  provider: "Slack",
  secret: "SLACK_SIGNING_SECRET",
  headers: "X-Slack-Signature and X-Slack-Request-Timestamp",
  signatureHeader: "X-Slack-Signature",
  // A desk without the secret will not have it on Slack's next try either.
  notConfiguredHeaders: { "x-slack-no-retry": "1" },
};

function verify(env: Env, request: RawRequest, now: number) {
  return verifySlackRequest(
    env.SLACK_SIGNING_SECRET,
    {
      timestamp: request.header("x-slack-request-timestamp"),
      signature: request.header("x-slack-signature"),
      rawBody: request.text,
    },
    now,
  );
}

/** `SLACK_TEAM_ID`, our own workspace; unset means nobody is staff. */
function ourTeam(env: Env): string | undefined {
  return env.SLACK_TEAM_ID?.trim() || undefined;
}

const events: WebhookEndpoint<SlackJob> = {
  path: "/webhooks/slack/events",
  signature,
  verify,
  accept(env, body, _request, now) {
    const event = normaliseSlackEvent(body, { ourTeamId: ourTeam(env), receivedAt: now });
    switch (event.kind) {
      case "url_verification":
        return { kind: "answer", body: { challenge: event.challenge } };
      case "invalid":
        return { kind: "invalid", detail: event.detail };
      case "ignored":
        return { kind: "ignored", reason: event.reason };
      case "message":
      case "change":
        return { kind: "job", job: { channel: "slack", event } };
    }
  },
  run: (env, job) => handleSlackEvent(env, job.event),
  queued: () => ({ status: 200, body: { ok: true, queued: true } }),
  storedStatus: () => 200,
  ackBudgetMs: ACK_BUDGET_MS,
};

const CLAIM_REFUSALS = {
  not_configured: (key: string) =>
    `Claiming ${key} from Slack is off: this desk has no SLACK_TEAM_ID, so it cannot tell its own people from guests. Assign it in the console.`,
  not_staff: (key: string) => `Only members of the support workspace can claim ${key}.`,
  not_found: (key: string) => `${key} no longer exists.`,
  conflict: (key: string) => `${key} changed while you clicked; please try again.`,
} as const;

/** Block Kit buttons (the **Claim** on escalation notices), form-encoded with a `payload` field. */
const interactions: WebhookEndpoint<ClaimJob> = {
  path: "/webhooks/slack/interactions",
  signature,
  verify,
  decode: (request) => request.text,
  accept(_env, _body, request) {
    const interaction = normaliseSlackInteraction(request.text);
    switch (interaction.kind) {
      case "invalid":
        return { kind: "invalid", detail: interaction.detail };
      case "ignored":
        return { kind: "ignored", reason: interaction.reason };
      case "claim":
        return { kind: "job", job: { channel: "slack", claim: interaction } };
    }
  },
  async run(env, { claim }, context) {
    const result = await claimFromSlack(env, claim, ourTeam(env));
    if (!result.ok && claim.notice !== null) {
      // Only the person who clicked needs to know; best effort, no ticket outbox to retry from.
      context.waitUntil(
        deliver(env, {
          service: "slack",
          method: "chat.postEphemeral",
          body: {
            channel: claim.notice.channel,
            user: claim.user.id,
            text: CLAIM_REFUSALS[result.reason](result.ticket),
          },
        }),
      );
    }
    return { kind: "answer", body: result };
  },
  storedStatus: () => 200,
};

export const slackIngress: ChannelIngress = { name: "slack", endpoints: [events, interactions] };
