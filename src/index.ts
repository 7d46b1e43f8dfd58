import { app } from "./http/app";
import { runWeeklyTriage } from "./services/triage";

export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
  // Hourly (wrangler.toml [triggers]); the weekly triage decides in the desk's time zone whether it is due.
  async scheduled(controller, env) {
    const run = await runWeeklyTriage(env, controller.scheduledTime);
    if (run.ran) console.log(`weekly triage: posted ${run.posted.join(", ") || "nothing"}`);
  },
} satisfies ExportedHandler<Env>;
