import { zodIssues } from "../../domain/issues";
import type { ChannelIngress, WebhookEndpoint } from "../contract";
import { handleGithubEvent, type WebhookDelivery } from "./handle";
import { decodeGithubBody, type GithubEvent, parseGithubEvent } from "./normalise";
import { runWeeklyTriage } from "./triage";
import { verifyGithubSignature } from "./verify";

/** A GitHub event for the intake pipeline, as it travels on INTAKE_QUEUE. */
export type GithubJob = {
  channel: "github";
  event: Exclude<GithubEvent, { type: "ping" | "unsupported" }>;
  delivery: WebhookDelivery;
};

/** `POST /webhooks/github`: issues and issue comments of the repositories the app is installed on. */
const webhook: WebhookEndpoint<GithubJob> = {
  path: "/webhooks/github",
  signature: {
    provider: "GitHub",
    secret: "GITHUB_WEBHOOK_SECRET",
    headers: "X-Hub-Signature-256",
    signatureHeader: "X-Hub-Signature-256",
  },
  verify: (env, request) =>
    verifyGithubSignature(env.GITHUB_WEBHOOK_SECRET, request.body, request.header("x-hub-signature-256")),
  // GitHub sends JSON, or a form with a `payload` field when the hook says so.
  decode: (request) => decodeGithubBody(request.text, request.header("content-type")),
  accept(_env, body, request, now) {
    const name = request.header("x-github-event");
    const deliveryId = request.header("x-github-delivery");
    if (name === undefined || name === "") return { kind: "invalid", detail: "X-GitHub-Event is missing." };
    if (deliveryId === undefined || deliveryId === "" || deliveryId.length > 200) {
      return { kind: "invalid", detail: "X-GitHub-Delivery is missing or too long." };
    }
    const parsed = parseGithubEvent(name, body);
    if (!parsed.ok) {
      return {
        kind: "invalid",
        detail: `The ${name} payload is not what GitHub sends.`,
        issues: zodIssues(parsed.issues),
      };
    }
    const { event } = parsed;
    // `ping` and events we do not handle are answered now; the rest is work for intake.
    if (event.type === "ping") return { kind: "answer", body: { ok: true, pong: true } };
    if (event.type === "unsupported")
      return { kind: "ignored", reason: `event "${event.name}" is not handled` };
    return { kind: "job", job: { channel: "github", event, delivery: { id: deliveryId, receivedAt: now } } };
  },
  run: (env, job) => handleGithubEvent(env, job.event, job.delivery),
  queued: (job) => ({ status: 202, body: { ok: true, queued: true, delivery: job.delivery.id } }),
  // New work is 202 Accepted; a redelivery of work already done is 200 with the original result.
  storedStatus: (result) => (result.replay ? 200 : 202),
};

export const githubIngress: ChannelIngress = {
  name: "github",
  endpoints: [webhook],
  // The weekly engineering triage digest decides in the desk's time zone whether it is due.
  async scheduled(env, scheduledTime) {
    const run = await runWeeklyTriage(env, scheduledTime);
    if (run.ran) console.log(`weekly triage: posted ${run.posted.join(", ") || "nothing"}`);
  },
};
