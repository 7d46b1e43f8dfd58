import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { requestId } from "hono/request-id";
import { isolateMeter, meteredD1, newMeter } from "../store/metered";
import { type AuthVariables, requireAgent, requireConfigWriter } from "./auth";
import { jsonBodyLimit, MAX_COMMAND_BODY_BYTES, MAX_CONFIG_BODY_BYTES, surveyFormLimit } from "./body-limits";
import { problem } from "./errors";
import {
  publicRateLimit,
  RATE_LIMIT_PERIOD_SECONDS,
  retryAfterHeader,
  tooManyRequestsPage,
} from "./rate-limit";
import { attachmentsApp } from "./routes/attachments";
import { configApp } from "./routes/config";
import { discordApp } from "./routes/discord";
import { messagesApp } from "./routes/messages";
import { metricsApp } from "./routes/metrics";
import { qualityApp } from "./routes/quality";
import { quarantineApp } from "./routes/quarantine";
import { searchApp } from "./routes/search";
import { surveyApp } from "./routes/survey";
import { ticketsApp } from "./routes/tickets";
import { uiApp } from "./ui/app";
import { webhooksApp } from "./webhooks";

type AppEnv = { Bindings: Env; Variables: AuthVariables & { requestId: string } };

export const app = new OpenAPIHono<AppEnv>();

app.use(requestId());

// Benchmark instrumentation: D1's own row counts for everything this request did.
app.use(async (c, next) => {
  if (c.env.D1_METERING !== "1") return next();
  const meter = newMeter();
  c.env = { ...c.env, DB: meteredD1(c.env.DB, meter) };
  await next();
  c.res.headers.set("x-d1-rows-read", String(meter.rowsRead));
  c.res.headers.set("x-d1-rows-written", String(meter.rowsWritten));
  c.res.headers.set("x-d1-statements", String(meter.statements.length));
  c.res.headers.set("x-d1-round-trips", String(meter.roundTrips));
  // The isolate's totals so far (queue batches, crons and timer objects included), for the cost meters.
  c.res.headers.set("x-isolate-d1-rows-read", String(isolateMeter.rowsRead));
  c.res.headers.set("x-isolate-d1-rows-written", String(isolateMeter.rowsWritten));
  c.res.headers.set("x-isolate-do-requests", String(isolateMeter.doRequests));
  c.res.headers.set("x-isolate-do-wall-ms", String(isolateMeter.doWallMs));
});

// No token, no D1: a liveness probe that says only that the Worker answers.
app.get("/healthz", (c) => c.json({ ok: true }));

// SPEC §11: reading the configuration is agent work; replacing it is an admin's once the desk has one.
const configAccess: typeof requireAgent = (c, next) =>
  c.req.method === "PUT" ? requireConfigWriter(c, next) : requireAgent(c, next);
// Hono's "/x/*" also matches "/x": one registration per resource, so each request is judged once.
app.use("/v1/tickets/*", requireAgent);
app.use("/v1/config/*", configAccess);
app.use("/v1/attachments/*", requireAgent);
app.use("/v1/metrics/*", requireAgent);
app.use("/v1/quarantine/*", requireAgent);
app.use("/v1/discord/*", requireAgent);

// Public surfaces: a budget per client address (rate-limit.ts, README "Limits").
const searchLimit = publicRateLimit<AppEnv>("search", (c) =>
  problem(c, 429, `Too many searches from your address; retry after ${RATE_LIMIT_PERIOD_SECONDS} seconds.`, {
    headers: retryAfterHeader(),
  }),
);
// "/x/*" also matches "/x" itself: one registration, so a request is counted once.
app.use("/v1/search/*", searchLimit);
app.use("/survey/*", publicRateLimit<AppEnv>("survey", tooManyRequestsPage), surveyFormLimit);
// SPEC §16: the public quality report (JSON here, the page in ui/); one budget for both.
app.use(
  "/v1/quality/*",
  publicRateLimit<AppEnv>("quality", (c) =>
    problem(
      c,
      429,
      `Too many requests from your address; retry after ${RATE_LIMIT_PERIOD_SECONDS} seconds.`,
      {
        headers: retryAfterHeader(),
      },
    ),
  ),
);
// Body limits (body-limits.ts); "/x/*" also matches "/x".
app.use("/v1/tickets/*", jsonBodyLimit(MAX_COMMAND_BODY_BYTES));
app.use("/v1/config/*", jsonBodyLimit(MAX_CONFIG_BODY_BYTES));

app.route("/v1/messages", messagesApp);
app.route("/v1/tickets", ticketsApp);
app.route("/v1/config", configApp);
app.route("/v1/attachments", attachmentsApp);
app.route("/v1/quarantine", quarantineApp);
app.route("/v1/metrics", metricsApp);
app.route("/v1/search", searchApp);
app.route("/v1/discord", discordApp);
app.route("/v1/quality", qualityApp);
app.route("/survey", surveyApp);
// Channel webhooks (channels/registry.ts) authenticate by the provider's signature, not by an agent token.
app.route("/", webhooksApp);
// The agent console (server-rendered pages); it names each of its paths, so it shadows none of the above.
app.route("/", uiApp);

app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
  type: "http",
  scheme: "bearer",
  description:
    "A token from API_TOKENS (name:token or name:token:role). Role `integration` may only POST /v1/messages; " +
    "once any `admin` exists, only admins may PUT /v1/config. A role that may not is answered 403.",
});

app.doc31("/openapi.json", (c) => ({
  openapi: "3.1.0",
  info: {
    title: "Switchboard",
    version: "1.0.0",
    description:
      "Serverless support desk: intake from email, Slack, GitHub, Discord and integrations; agent API.",
  },
  servers: [{ url: new URL(c.req.url).origin }],
}));

app.notFound((c) => problem(c, 404, `No route for ${c.req.method} ${new URL(c.req.url).pathname}.`));

app.onError((error, c) => {
  if (error instanceof HTTPException) {
    const status = error.status;
    if (status >= 400 && status < 500) return problem(c, status, error.message || undefined);
  }
  const id = c.get("requestId");
  console.error(`request ${id} failed`, error);
  const detail = retryIsSafe(c.req.method, new URL(c.req.url).pathname, c.req.header("idempotency-key"))
    ? "Retrying is safe."
    : "The change may have been stored before the failure: look at the ticket before you retry, " +
      "or retry with the same Idempotency-Key header, which makes a retry safe.";
  return problem(c, 500, `Something went wrong on our side (request ${id}). ${detail}`);
});

/**
 * Whether a failed request can be sent again as it is: reads, and writes that are idempotent by
 * design — channel webhooks and `POST /v1/messages` (their event ids), PATCH and PUT (the same
 * values again change nothing), anything with an Idempotency-Key. A new reply, escalation or
 * improvement without a key could be stored twice.
 */
export function retryIsSafe(method: string, path: string, idempotencyKey: string | undefined): boolean {
  if (method === "GET" || method === "HEAD" || method === "PATCH" || method === "PUT") return true;
  if (idempotencyKey !== undefined && idempotencyKey.trim() !== "") return true;
  return (
    path.startsWith("/webhooks/") ||
    path === "/v1/messages" ||
    path.startsWith("/v1/quarantine/") ||
    path === "/v1/discord/gateway"
  );
}
