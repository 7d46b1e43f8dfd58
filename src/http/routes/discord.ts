import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { discordGateway } from "../../channels/discord/gateway-client";
import type { AuthVariables } from "../auth";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";

const gatewayStatusSchema = z
  .object({
    state: z
      .enum([
        "disabled",
        "idle",
        "connecting",
        "identifying",
        "resuming",
        "ready",
        "waiting",
        "reconnecting",
        "failed",
      ])
      .openapi({
        description:
          "`disabled`: no DISCORD_BOT_TOKEN, nothing connects. `ready`: the session is live. `waiting`: session_start_limit is exhausted, no IDENTIFY before `identifyNotBefore`. `failed`: Discord refused the token or the intents (see `lastError`); the next POST or the hourly cron tries again.",
      }),
    sessionId: z.string().nullable(),
    seq: z.number().int().nullable().openapi({ description: "The last dispatch sequence number kept." }),
    lastHeartbeatAckAt: z.string().nullable(),
    reconnects: z.number().int(),
    identifies: z.number().int(),
    resumes: z.number().int(),
    pendingEvents: z.number().int().openapi({
      description: "Events kept by the Gateway object that intake has not stored yet (retried).",
    }),
    eventsProcessed: z.number().int(),
    identifyNotBefore: z.string().nullable(),
    lastError: z.string().nullable(),
    lastReconnectMs: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "How long the last reconnect took, from the loss to RESUMED or READY." }),
  })
  .openapi("DiscordGatewayStatus");

const getRoute = createRoute({
  method: "get",
  path: "/gateway",
  tags: ["discord"],
  summary: "The Discord Gateway session's status",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "Status", content: { "application/json": { schema: gatewayStatusSchema } } },
    401: problemResponse("No or unknown bearer token"),
  },
});

const postRoute = createRoute({
  method: "post",
  path: "/gateway",
  tags: ["discord"],
  summary: "Make sure the Discord Gateway session is connected",
  description:
    "Starts the session if it is not running (and retries after a fatal close); the hourly cron does the same. Safe to repeat. Without DISCORD_BOT_TOKEN it answers `state: disabled` and connects nothing.",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "Status", content: { "application/json": { schema: gatewayStatusSchema } } },
    401: problemResponse("No or unknown bearer token"),
  },
});

export const discordApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
})
  .openapi(getRoute, async (c) => c.json(await discordGateway(c.env).status(), 200))
  .openapi(postRoute, async (c) => c.json(await discordGateway(c.env).ensure(), 200));
