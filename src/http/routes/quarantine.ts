import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { database } from "../../store/db";
import { listQuarantine } from "../../store/tickets";
import type { AuthVariables } from "../auth";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";

const quarantinedSchema = z
  .object({
    id: z.string(),
    channel: z.string(),
    reason: z.string().openapi({
      description:
        "auto-submitted, auto-reply, precedence, auto-response-suppress, bounce, mailing-list, own-address",
    }),
    sender: z.string().nullable(),
    recipient: z.string().nullable(),
    subject: z.string().nullable(),
    messageId: z.string().nullable(),
    text: z.string().nullable(),
    attachmentCount: z.number().int(),
    receivedAt: z.string(),
  })
  .openapi("QuarantinedMessage");

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["quarantine"],
  summary: "Inbound mail kept out of the queue by loop protection, newest first",
  security: [{ bearer: [] }],
  request: {
    query: z.object({
      limit: z.coerce.number().int().min(1).max(100).default(50),
      before: z.iso
        .datetime()
        .optional()
        .openapi({ description: "Only mail received before this time (paging)." }),
    }),
  },
  responses: {
    200: {
      description: "Quarantined mail",
      content: {
        "application/json": {
          schema: z.object({ messages: z.array(quarantinedSchema), nextBefore: z.string().nullable() }),
        },
      },
    },
    400: problemResponse("Bad query"),
  },
});

export const quarantineApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
}).openapi(listRoute, async (c) => {
  const { limit, before } = c.req.valid("query");
  const rows = await listQuarantine(
    database(c.env.DB),
    limit,
    before === undefined ? undefined : Date.parse(before),
  );
  const messages = rows.map((r) => ({
    id: r.id,
    channel: r.channel,
    reason: r.reason,
    sender: r.sender,
    recipient: r.recipient,
    subject: r.subject,
    messageId: r.externalId,
    text: r.text,
    attachmentCount: r.attachmentCount,
    receivedAt: new Date(r.receivedAt).toISOString(),
  }));
  const last = rows[rows.length - 1];
  return c.json(
    {
      messages,
      nextBefore:
        rows.length === limit && last !== undefined ? new Date(last.receivedAt).toISOString() : null,
    },
    200,
  );
});
