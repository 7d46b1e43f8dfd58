import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Outbound calls that no test is watching (a ticket opened without `fakeOutbound()`) answer
// like the fakes do instead of failing DNS: a failed call is retried seconds later, and that
// retry would land in a later test's fetch spy. `fakeOutbound()` spies on top of this.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  if (!/\.(fake|test)$/.test(url.hostname)) return realFetch(input, init);
  if (url.hostname === "slack.fake") return Response.json({ ok: true, ts: `${Date.now() / 1000}` });
  if (url.hostname === "pagerduty.fake") return Response.json({ status: "success" }, { status: 202 });
  return new Response(null, { status: 204 });
};
