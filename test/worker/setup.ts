import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Tickets from earlier tests keep retrying their outbound calls in the background after that test's
// fake is gone. Those calls must never leave the machine: the fake hosts answer 503 by default.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (url.hostname.endsWith(".fake") || url.hostname.endsWith(".test")) {
    return new Response("no fake is listening (test teardown)", { status: 503 });
  }
  return realFetch(input, init);
};
