import { receiveEmail } from "./channels/email";
import { consumeIntakeBatch, type IntakeJob } from "./channels/queue";
import { runScheduled } from "./channels/registry";
import { app } from "./http/app";
import { meteredEnv } from "./store/metered";
import { RECONCILE_GRACE_MS, reconcileTimers } from "./timer/reconcile";
import { retimeClocks } from "./timer/retime";

/** The hourly trigger in wrangler.toml (the other one runs every minute). */
const HOURLY_CRON = "0 * * * *";

export { DiscordGateway } from "./channels/discord/gateway";
export { DeskFeed } from "./live/desk-feed";
export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
  // Email Routing: every message for the desk's addresses.
  email: (message, env) => receiveEmail(message, meteredEnv(env)),
  // wrangler.toml [triggers]: every minute the reconciler; hourly, each channel's hook (GitHub's weekly triage).
  async scheduled(controller, unmetered) {
    // Benchmark only (D1_METERING=1): count this run's D1 rows too; otherwise `env` as it is.
    const env = meteredEnv(unmetered);
    const run = await reconcileTimers(env, { olderThan: controller.scheduledTime - RECONCILE_GRACE_MS });
    if (run.paid + run.failed + run.dropped > 0) {
      console.log(
        `reconciler: paid ${run.paid}, failed ${run.failed}, dropped ${run.dropped} (${run.tickets.join(", ")})`,
      );
    }
    // SPEC §14: clocks a config change to a calendar re-times, a few thousand per run.
    const retimed = await retimeClocks(env);
    if (retimed.scanned > 0) {
      console.log(
        `re-timer: ${retimed.retimed} of ${retimed.scanned} clocks re-timed, ${retimed.unpaid} left to the reconciler`,
      );
    }
    if (controller.cron === HOURLY_CRON) await runScheduled(env, controller.scheduledTime);
  },
  // INTAKE_QUEUE (wrangler.toml [[queues.consumers]]): jobs the webhooks acknowledged.
  async queue(batch, env) {
    await consumeIntakeBatch(batch, meteredEnv(env));
  },
} satisfies ExportedHandler<Env, IntakeJob>;
