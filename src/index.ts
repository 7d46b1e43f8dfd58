import { handleEmail } from "./channels/email/handler";
import { app } from "./http/app";
import { consumeIntakeBatch, type IntakeJob } from "./services/intake-queue";
import { runWeeklyTriage } from "./services/triage";

export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
  async email(message, env) {
    const outcome = await handleEmail(message, env);
    if (outcome.kind === "rejected") console.log(`email to ${message.to} rejected: ${outcome.reason}`);
    else if (!outcome.result.ok)
      console.log(`email from ${message.from} ${outcome.result.reason}: ${outcome.result.detail}`);
  },
  // Hourly (wrangler.toml [triggers]); the weekly triage decides in the desk's time zone whether it is due.
  async scheduled(controller, env) {
    const run = await runWeeklyTriage(env, controller.scheduledTime);
    if (run.ran) console.log(`weekly triage: posted ${run.posted.join(", ") || "nothing"}`);
  },
  // INTAKE_QUEUE (wrangler.toml [[queues.consumers]]): Slack and GitHub events the webhooks acknowledged.
  async queue(batch, env) {
    await consumeIntakeBatch(batch, env);
  },
} satisfies ExportedHandler<Env, IntakeJob>;
