import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { addImprovement, escalateTicket, patchTicket, replyToTicket } from "../../commands";
import { base64urlToBytes, toBase64url } from "../../domain/encoding";
import { parseTicketKey, TICKET_PREFIX } from "../../domain/ticket";
import { database } from "../../store/db";
import { getTicketView, queuePage, ticketSummary } from "../../store/tickets";
import type { AuthVariables } from "../auth";
import { problem } from "../errors";
import {
  escalationInputSchema,
  improvementInputSchema,
  messageViewSchema,
  problemResponse,
  replySchema,
  staleReplySchema,
  ticketKeyParamSchema,
  ticketListQuerySchema,
  ticketListSchema,
  ticketPatchSchema,
  ticketSchema,
  ticketSummarySchema,
} from "../schemas";
import { validationHook } from "../validation";

const STATUSES = ["open", "pending", "resolved"] as const;
type Status = (typeof STATUSES)[number];

export function encodeCursor(dueAt: number, number: number): string {
  return toBase64url(btoa(`${dueAt}:${number}`));
}

export function decodeCursor(cursor: string): { dueAt: number; number: number } | null {
  const bytes = base64urlToBytes(cursor);
  if (bytes === null) return null;
  const [due, number] = new TextDecoder().decode(bytes).split(":");
  const parsed = { dueAt: Number(due), number: Number(number) };
  return Number.isSafeInteger(parsed.dueAt) && Number.isSafeInteger(parsed.number) ? parsed : null;
}

export function parseStatuses(raw: string | undefined): Status[] | "invalid" | undefined {
  if (raw === undefined || raw === "") return ["open", "pending"];
  if (raw === "all") return undefined;
  const wanted = raw.split(",").map((s) => s.trim());
  return wanted.every((s): s is Status => (STATUSES as readonly string[]).includes(s)) ? wanted : "invalid";
}

const idempotencyHeaderSchema = z.object({
  "idempotency-key": z.string().optional().openapi({
    description:
      "Makes a retry safe: the same key again (same agent, same ticket) answers with the first result and sends nothing again.",
  }),
});

const IDEMPOTENCY_KEY_PROBLEM = "Idempotency-Key is 1 to 200 visible ASCII characters.";

/**
 * `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): the same key again returns the
 * first result and sends nothing twice. Scoped to the agent and the ticket.
 */
function idempotencyKeyOf(header: string | undefined): string | "invalid" | undefined {
  if (header === undefined) return undefined;
  const key = header.trim();
  return /^[\x21-\x7e]{1,200}$/.test(key) ? key : "invalid";
}

const keyProblem = `Ticket keys look like ${TICKET_PREFIX}-12.`;

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["tickets"],
  summary: "The queue: most urgent deadline first, keyset-paginated",
  security: [{ bearer: [] }],
  request: { query: ticketListQuerySchema },
  responses: {
    200: {
      description: "A page of the queue",
      content: { "application/json": { schema: ticketListSchema } },
    },
    400: problemResponse("Bad filter or cursor"),
    401: problemResponse("No or unknown bearer token"),
    403: problemResponse("An integration token: it may only POST /v1/messages (SPEC §11)"),
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{key}",
  tags: ["tickets"],
  summary: "One ticket with its conversation, escalations and improvements",
  security: [{ bearer: [] }],
  request: { params: ticketKeyParamSchema },
  responses: {
    200: { description: "The ticket", content: { "application/json": { schema: ticketSchema } } },
    404: problemResponse("No such ticket"),
  },
});

const patchRoute = createRoute({
  method: "patch",
  path: "/{key}",
  tags: ["tickets"],
  summary: "Change status, priority, team, assignee or visibility",
  security: [{ bearer: [] }],
  request: {
    params: ticketKeyParamSchema,
    body: { required: true, content: { "application/json": { schema: ticketPatchSchema } } },
  },
  responses: {
    200: {
      description: "The ticket after the change",
      content: { "application/json": { schema: ticketSchema } },
    },
    400: problemResponse(
      "Invalid change, e.g. an unknown team, or a security ticket made public without `confirmSecurityDisclosure`",
    ),
    404: problemResponse("No such ticket"),
    409: problemResponse("The ticket kept changing under the request"),
  },
});

const replyRoute = createRoute({
  method: "post",
  path: "/{key}/replies",
  tags: ["tickets"],
  summary: "Public reply (goes out on the ticket's channel) or internal note",
  security: [{ bearer: [] }],
  request: {
    params: ticketKeyParamSchema,
    headers: idempotencyHeaderSchema,
    body: { required: true, content: { "application/json": { schema: replySchema } } },
  },
  responses: {
    201: {
      description: "Stored; a public reply is being delivered",
      content: {
        "application/json": { schema: z.object({ message: messageViewSchema, ticket: ticketSummarySchema }) },
      },
    },
    400: problemResponse(
      "Empty or invalid reply, a `nextUpdateBy` that cannot be promised, or an `ifLastMessageId` that is not a message of this ticket",
    ),
    404: problemResponse("No such ticket"),
    409: {
      description:
        "Nothing was stored or sent. Either `ifLastMessageId` is not the newest message — the body lists the newer messages (`messages`, `lastMessageId`); send again with `lastMessageId` (or without `ifLastMessageId`) to send anyway — or `nextUpdateBy` was given on a resolved ticket (reopen it first).",
      content: { "application/problem+json": { schema: staleReplySchema } },
    },
  },
});

const improvementViewSchema = z
  .object({
    kind: z.string(),
    title: z.string(),
    url: z.string().nullable(),
    at: z.string(),
    state: z.enum(["open", "shipped", "canceled"]),
    shippedAt: z.string().nullable(),
    source: z.enum(["linear", "github", "manual"]),
    ref: z.string().nullable(),
  })
  .openapi("Improvement");

const improvementRoute = createRoute({
  method: "post",
  path: "/{key}/improvements",
  tags: ["tickets"],
  summary: "Link the ticket to a product improvement",
  security: [{ bearer: [] }],
  request: {
    params: ticketKeyParamSchema,
    body: { required: true, content: { "application/json": { schema: improvementInputSchema } } },
  },
  responses: {
    201: { description: "Linked", content: { "application/json": { schema: improvementViewSchema } } },
    200: {
      description: "The ticket already links this issue (nothing changed but the attachment on it)",
      content: { "application/json": { schema: improvementViewSchema } },
    },
    400: problemResponse("Invalid improvement"),
    404: problemResponse("No such ticket"),
    409: problemResponse("Linking a Linear issue needs LINEAR_API_KEY"),
    422: problemResponse("Linear has no such issue"),
    502: problemResponse("Linear did not answer; nothing was recorded and a retry is safe"),
  },
});

const escalationRoute = createRoute({
  method: "post",
  path: "/{key}/escalations",
  tags: ["tickets"],
  summary:
    "Escalate to engineering (files a Linear issue, linked as a bug) or declare an incident (pages PagerDuty)",
  security: [{ bearer: [] }],
  request: {
    params: ticketKeyParamSchema,
    headers: idempotencyHeaderSchema,
    body: { required: true, content: { "application/json": { schema: escalationInputSchema } } },
  },
  responses: {
    201: {
      description: "Escalated; the ticket after it",
      content: { "application/json": { schema: ticketSchema } },
    },
    400: problemResponse("Invalid escalation"),
    404: problemResponse("No such ticket"),
    409: problemResponse("The integration is not configured (LINEAR_API_KEY or the team's linearTeamId)"),
    422: problemResponse("The named Linear issue does not exist"),
    502: problemResponse("Linear refused or failed; nothing was recorded"),
  },
});

export const ticketsApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
})
  .openapi(listRoute, async (c) => {
    const query = c.req.valid("query");
    const status = parseStatuses(query.status);
    if (status === "invalid")
      return problem(c, 400, "status is a comma-separated list of open, pending, resolved (or all).");
    const cursor = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    if (cursor === null) return problem(c, 400, "cursor is not one this API issued.");
    const { rows, next } = await queuePage(database(c.env.DB), { ...query, status }, cursor);
    const nextCursor = next === null ? null : encodeCursor(next.dueAt, next.number);
    return c.json({ tickets: rows.map(ticketSummary), nextCursor }, 200);
  })
  .openapi(getRoute, async (c) => {
    const number = parseTicketKey(c.req.valid("param").key);
    if (number === null) return problem(c, 404, keyProblem);
    const view = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL });
    if (view === null) return problem(c, 404, `No ticket ${c.req.valid("param").key}.`);
    return c.json(view, 200);
  })
  .openapi(patchRoute, async (c) => {
    const { key } = c.req.valid("param");
    const number = parseTicketKey(key);
    if (number === null) return problem(c, 404, keyProblem);
    const result = await patchTicket(c.env, number, c.req.valid("json"), c.get("agent"));
    if (!result.ok) {
      switch (result.reason) {
        case "not_found":
          return problem(c, 404, `No ticket ${key}.`);
        case "unknown_team":
          return problem(c, 400, `"${result.team}" is not a configured team.`, {
            issues: [{ path: "team", message: "unknown team" }],
          });
        case "security_disclosure_unconfirmed":
          return problem(
            c,
            400,
            `${key} is security-sensitive: making it public discloses it. Send "confirmSecurityDisclosure": true with "visibility": "public" to do so deliberately.`,
            {
              issues: [
                { path: "confirmSecurityDisclosure", message: "required to make a security ticket public" },
              ],
            },
          );
        case "conflict":
          return problem(c, 409, "The ticket changed too often while this request ran; try again.");
      }
    }
    const view = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL });
    if (view === null) return problem(c, 404, `No ticket ${key}.`);
    return c.json(view, 200);
  })
  .openapi(replyRoute, async (c) => {
    const { key } = c.req.valid("param");
    const number = parseTicketKey(key);
    if (number === null) return problem(c, 404, keyProblem);
    const idempotencyKey = idempotencyKeyOf(c.req.header("idempotency-key"));
    if (idempotencyKey === "invalid") return problem(c, 400, IDEMPOTENCY_KEY_PROBLEM);
    const result = await replyToTicket(c.env, number, c.req.valid("json"), c.get("agent"), {
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
    });
    if (!result.ok) {
      switch (result.reason) {
        case "not_found":
          return problem(c, 404, `No ticket ${key}.`);
        case "invalid_next_update":
          return problem(c, 400, `nextUpdateBy: ${result.problem}. Nothing was sent.`, {
            issues: [{ path: "nextUpdateBy", message: result.problem }],
          });
        case "resolved":
          return problem(
            c,
            409,
            `${key} is resolved: it owes no update. Reopen it to promise one; nothing was sent.`,
          );
        case "unknown_message":
          return problem(c, 400, `ifLastMessageId is not a message of ${key}.`, {
            issues: [{ path: "ifLastMessageId", message: "not a message of this ticket" }],
          });
        case "stale": {
          const ticket = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL });
          const ids = new Set(result.newer.map((m) => m.id));
          const newer = ticket?.messages.filter((m) => ids.has(m.id)) ?? [];
          const who = [...new Set(newer.map((m) => m.author))].join(", ");
          return c.json(
            {
              type: "https://switchboard.dev/problems/stale-reply",
              title: "Conflict",
              status: 409,
              detail: `${newer.length} newer message${newer.length === 1 ? "" : "s"} on ${key} (from ${who}) since the one you replied to: nothing was sent. Read them; to send anyway, send again with ifLastMessageId set to lastMessageId, or without it.`,
              lastMessageId: ticket?.messages.at(-1)?.id ?? "",
              messages: newer,
            },
            409,
            { "content-type": "application/problem+json" },
          );
        }
      }
    }
    const view = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL });
    const message = view?.messages.find((m) => m.id === result.messageId);
    if (view === null || message === undefined) return problem(c, 404, `No ticket ${key}.`);
    const { messages: _m, escalations: _e, improvements: _i, customerEffort: _c, ...summary } = view;
    return c.json({ message, ticket: summary }, 201, result.replay ? { "idempotent-replayed": "true" } : {});
  })
  .openapi(improvementRoute, async (c) => {
    const { key } = c.req.valid("param");
    const number = parseTicketKey(key);
    if (number === null) return problem(c, 404, keyProblem);
    const result = await addImprovement(c.env, number, c.req.valid("json"), c.get("agent"));
    if (!result.ok) {
      switch (result.reason) {
        case "not_found":
          return problem(c, 404, `No ticket ${key}.`);
        case "linear_not_configured":
          return problem(c, 409, `Cannot link a Linear issue: ${result.detail}.`);
        case "linear_not_found":
          return problem(c, 422, `${result.detail}: nothing was linked.`);
        case "linear_failed":
          return problem(
            c,
            502,
            `Linear did not answer the lookup: ${result.detail}. Nothing was recorded; retrying is safe.`,
          );
      }
    }
    const i = result.improvement;
    return c.json(
      {
        kind: i.kind,
        title: i.title,
        url: i.url,
        at: new Date(i.at).toISOString(),
        state: i.state,
        shippedAt: i.shippedAt === null ? null : new Date(i.shippedAt).toISOString(),
        source: i.source,
        ref: i.ref,
      },
      result.created ? 201 : 200,
    );
  })
  .openapi(escalationRoute, async (c) => {
    const { key } = c.req.valid("param");
    const number = parseTicketKey(key);
    if (number === null) return problem(c, 404, keyProblem);
    const idempotencyKey = idempotencyKeyOf(c.req.header("idempotency-key"));
    if (idempotencyKey === "invalid") return problem(c, 400, IDEMPOTENCY_KEY_PROBLEM);
    const body = c.req.valid("json");
    const result = await escalateTicket(c.env, number, body.to, c.get("agent"), {
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      ...(body.issue === undefined ? {} : { issue: body.issue }),
    });
    if (!result.ok) {
      switch (result.reason) {
        case "not_found":
          return problem(c, 404, `No ticket ${key}.`);
        case "not_configured":
          return problem(c, 409, `Cannot escalate to engineering: ${result.detail}.`);
        case "issue_not_found":
          return problem(c, 422, `${result.detail}: nothing was linked.`);
        case "upstream_failed":
          return problem(
            c,
            502,
            `Linear did not answer as expected: ${result.detail}. Nothing was recorded; retrying is safe.`,
          );
      }
    }
    const view = await getTicketView(database(c.env.DB), number, { publicUrl: c.env.PUBLIC_URL });
    if (view === null) return problem(c, 404, `No ticket ${key}.`);
    return c.json(view, 201, result.replay ? { "idempotent-replayed": "true" } : {});
  });
