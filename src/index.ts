import { receiveEmail } from "./channels/email";
import { consumeIntakeBatch, type IntakeJob } from "./channels/queue";
import { runScheduled } from "./channels/registry";
import { app } from "./http/app";

export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
  // Email Routing: every message for the desk's addresses.
  email: receiveEmail,
  // Hourly (wrangler.toml [triggers]); each channel decides what is due (GitHub's weekly triage).
  async scheduled(controller, env) {
    await runScheduled(env, controller.scheduledTime);
  },
  // INTAKE_QUEUE (wrangler.toml [[queues.consumers]]): jobs the webhooks acknowledged.
  async queue(batch, env) {
    await consumeIntakeBatch(batch, env);
  },
} satisfies ExportedHandler<Env, IntakeJob>;
