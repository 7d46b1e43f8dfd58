import { createRoute, OpenAPIHono } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { apiMessageSchema, handleApiMessage } from "../../channels/api";
import { type AuthVariables, requireMessagePoster } from "../auth";
import { problem } from "../errors";
import { intakeAcceptedSchema, problemResponse } from "../schemas";
import { validationHook } from "../validation";
import { MAX_WEBHOOK_BODY_BYTES } from "../webhooks";

const postMessage = createRoute({
  method: "post",
  path: "/",
  tags: ["intake"],
  summary: "Integration webhook (`api` channel): open or thread a ticket",
  description:
    "Any role may post. `externalId` and `threadId` are scoped to the calling token's name: two tokens " +
    "with different names never replay or thread into each other's tickets.",
  security: [{ bearer: [] }],
  request: { body: { required: true, content: { "application/json": { schema: apiMessageSchema } } } },
  responses: {
    202: {
      description: "Stored; a new ticket or a message threaded into one",
      content: { "application/json": { schema: intakeAcceptedSchema } },
    },
    200: {
      description: "A replay of an `externalId` already stored: the original result, nothing written",
      content: { "application/json": { schema: intakeAcceptedSchema } },
    },
    400: problemResponse(
      "Malformed JSON, a schema violation, or a callbackUrl that is not https or not on the integration's callbackHosts",
    ),
    401: problemResponse("No or unknown bearer token"),
    413: problemResponse("Body over 1 MiB"),
  },
});

export const messagesApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
});

messagesApp.use(requireMessagePoster);
messagesApp.use(
  bodyLimit({
    maxSize: MAX_WEBHOOK_BODY_BYTES,
    onError: (c) => problem(c, 413, `The body is over ${MAX_WEBHOOK_BODY_BYTES} bytes.`),
  }),
);

messagesApp.openapi(postMessage, async (c) => {
  const body = c.req.valid("json");
  const result = await handleApiMessage(c.env, c.get("agent"), body, Date.now());
  if (!result.ok) {
    return problem(
      c,
      400,
      result.detail,
      result.reason === "callback_refused" ? { issues: [{ path: result.path, message: result.detail }] } : {},
    );
  }
  const payload = {
    ticket: result.ticket,
    created: result.created,
    responseDueAt: result.responseDueAt === null ? null : new Date(result.responseDueAt).toISOString(),
    ...(result.replay ? {} : { acknowledgement: result.acknowledgement }),
  };
  return c.json(payload, result.replay ? 200 : 202, result.replay ? { "idempotent-replayed": "true" } : {});
});
