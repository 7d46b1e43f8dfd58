import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { configSchema } from "../../domain/config";
import { retimedPolicies } from "../../domain/sla";
import { loadConfig, saveConfig } from "../../store/config";
import { database } from "../../store/db";
import { retimeClocks } from "../../timer/retime";
import type { AuthVariables } from "../auth";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";
import { forgetPublicQualityFlag } from "./quality";

const configDocument = z.unknown().openapi("RoutingConfiguration", {
  description: "SPEC §6 routing configuration (teams, customers, routes, keywords, policies).",
});

const getConfigRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["config"],
  summary: "The routing configuration in force",
  security: [{ bearer: [] }],
  responses: {
    200: { description: "The document", content: { "application/json": { schema: configDocument } } },
  },
});

const putConfigRoute = createRoute({
  method: "put",
  path: "/",
  tags: ["config"],
  summary:
    "Replace the routing configuration (validated; the old one stays on any problem); admins only once any exists",
  security: [{ bearer: [] }],
  request: { body: { required: true, content: { "application/json": { schema: configSchema } } } },
  responses: {
    200: {
      description: "Stored; the document as it will be used (defaults filled in)",
      content: { "application/json": { schema: configDocument } },
    },
    400: problemResponse("Every problem with the document"),
    413: problemResponse("Body over 1 MiB"),
    403: problemResponse("An integration token, or an agent's once the desk has an admin (SPEC §11)"),
  },
});

export const configApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
})
  .openapi(getConfigRoute, async (c) => c.json(await loadConfig(database(c.env.DB)), 200))
  .openapi(putConfigRoute, async (c) => {
    const document = c.req.valid("json");
    const db = database(c.env.DB);
    // SPEC §14: a change to a calendar re-times the running clocks of its policies, from their start.
    const retime = retimedPolicies(await loadConfig(db), document);
    await saveConfig(db, document, c.get("agent"), Date.now(), retime);
    forgetPublicQualityFlag();
    if (retime.length > 0) c.executionCtx.waitUntil(retimeClocks(c.env).then(() => undefined));
    return c.json(document, 200);
  });
