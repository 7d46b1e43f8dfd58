import { handleEmail } from "./channels/email/handler";
import { app } from "./http/app";

export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
  async email(message, env) {
    const outcome = await handleEmail(message, env);
    if (outcome.kind === "rejected") console.log(`email to ${message.to} rejected: ${outcome.reason}`);
    else if (!outcome.result.ok)
      console.log(`email from ${message.from} ${outcome.result.reason}: ${outcome.result.detail}`);
  },
} satisfies ExportedHandler<Env>;
