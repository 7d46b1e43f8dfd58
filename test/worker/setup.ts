import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);

// Outside a test's fakeOutbound(), the fake hosts still answer like their providers: an alarm a
// test left behind then finishes at once instead of retrying into a later test's fetch spy.
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const host = new URL(new Request(input, init).url).hostname;
  if (host === "slack.fake") return Response.json({ ok: true, ts: `${Date.now() / 1000}` });
  if (host === "pagerduty.fake") return Response.json({ status: "success" }, { status: 202 });
  if (host.endsWith(".fake") || host.endsWith(".test")) return new Response(null, { status: 204 });
  return realFetch(input, init);
};
