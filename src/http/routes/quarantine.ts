import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { rereadQuarantined } from "../../channels/registry";
import { promoteQuarantined } from "../../commands";
import { ticketKey } from "../../domain/ticket";
import { database } from "../../store/db";
import { listQuarantine, type QuarantineRow } from "../../store/quarantine";
import type { AuthVariables } from "../auth";
import { problem } from "../errors";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";

const quarantinedSchema = z
  .object({
    id: z.string(),
    channel: z.string(),
    reason: z.string().openapi({
      description:
        "auto-submitted, auto-reply, precedence, auto-response-suppress, bounce or own-address (rows kept before list mail became tickets may say mailing-list)",
    }),
    sender: z.string().nullable(),
    recipient: z.string().nullable(),
    subject: z.string().nullable(),
    messageId: z.string().nullable(),
    text: z.string().nullable(),
    attachmentCount: z.number().int(),
    receivedAt: z.string(),
    promotedTicket: z
      .string()
      .nullable()
      .openapi({ example: "SUP-12", description: "The ticket an agent opened from this mail, if any." }),
  })
  .openapi("QuarantinedMessage");

/** A quarantine row as the API (and the console) shows it. */
export function quarantinedView(r: QuarantineRow): z.infer<typeof quarantinedSchema> {
  return {
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
    promotedTicket: r.promotedTicket === null ? null : ticketKey(r.promotedTicket),
  };
}

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

const promotedSchema = z.object({ ticket: z.string().openapi({ example: "SUP-12" }) }).openapi("Promoted");

const promoteRoute = createRoute({
  method: "post",
  path: "/{id}/promote",
  tags: ["quarantine"],
  summary: "Open a ticket from a quarantined mail",
  description:
    "The ticket's clock starts when the mail arrived; no acknowledgement is sent. The raw mail is read again from storage, so the ticket gets its full text, HTML and attachments. Once only: a second call answers the same ticket, with 200.",
  security: [{ bearer: [] }],
  request: { params: z.object({ id: z.string().min(1).max(100) }) },
  responses: {
    201: {
      description: "The ticket opened from the mail",
      content: { "application/json": { schema: promotedSchema } },
    },
    200: {
      description: "The mail had been promoted already: its ticket",
      content: { "application/json": { schema: promotedSchema } },
    },
    401: problemResponse("No or unknown bearer token"),
    404: problemResponse("No such quarantined mail"),
  },
});

export const quarantineApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
})
  .openapi(listRoute, async (c) => {
    const { limit, before } = c.req.valid("query");
    const rows = await listQuarantine(
      database(c.env.DB),
      limit,
      before === undefined ? undefined : Date.parse(before),
    );
    const last = rows[rows.length - 1];
    return c.json(
      {
        messages: rows.map(quarantinedView),
        nextBefore:
          rows.length === limit && last !== undefined ? new Date(last.receivedAt).toISOString() : null,
      },
      200,
    );
  })
  .openapi(promoteRoute, async (c) => {
    const { id } = c.req.valid("param");
    const result = await promoteQuarantined(c.env, id, (mail) => rereadQuarantined(c.env, mail));
    if (!result.ok) return problem(c, 404, `No quarantined mail ${id}.`);
    return c.json({ ticket: result.ticket }, result.created ? 201 : 200);
  });
