import { app } from "./http/app";

export { TicketTimer } from "./timer/ticket-timer";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
