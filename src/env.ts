/**
 * What the desk's core (intake, ticket commands, the timer client) reads from the Worker's `Env`:
 * the one environment type every layer below `http/` takes, so tests and tools can pass just these.
 */
export interface DeskEnv {
  DB: D1Database;
  TICKET_TIMER: Env["TICKET_TIMER"];
  /** The live console's feed (src/live): optional, so a partial environment publishes nothing. */
  DESK_FEED?: Env["DESK_FEED"];
  SLA_TIME_SCALE?: string;
  SUPPORT_ADDRESS?: string;
  /** The desk's base URL, for links it sends (ticket pages, surveys). */
  PUBLIC_URL?: string;
}
