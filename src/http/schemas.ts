import { z } from "@hono/zod-openapi";
import { POLICIES } from "../domain/config";
import { linearIssueRef } from "../domain/improvements";
import { CHANNELS, PRIORITIES } from "../domain/inbound";
import {
  LIKE_PATTERN_MAX_BYTES,
  SEARCH_MAX_QUERY_CHARS,
  subjectFilterProblem,
  subjectPattern,
} from "../domain/search";

export const problemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    issues: z
      .array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() }))
      .optional(),
  })
  .openapi("Problem");

export const problemResponse = (description: string) => ({
  description,
  content: { "application/problem+json": { schema: problemSchema } },
});

const statusEnum = z.enum(["open", "pending", "resolved"]);

export const attachmentViewSchema = z.object({
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int(),
  url: z.string(),
  contentId: z.string().nullable(),
});

export const messageViewSchema = z
  .object({
    id: z.string(),
    direction: z.enum(["inbound", "outbound"]),
    kind: z.enum(["customer", "staff", "note", "system", "community"]),
    author: z.string(),
    sender: z.string().nullable(),
    subject: z.string().nullable(),
    text: z.string(),
    html: z
      .string()
      .nullable()
      .openapi({ description: "Sanitised HTML (email); render only inside a sandbox." }),
    createdAt: z.string(),
    threadedBy: z
      .string()
      .nullable()
      .openapi({ description: "The rule that threaded this message into the ticket." }),
    attachments: z.array(attachmentViewSchema),
    delivery: z.object({ status: z.string(), error: z.string().nullable() }).nullable(),
    editedAt: z.string().nullable(),
    deletedAt: z.string().nullable(),
  })
  .openapi("Message");

export const ticketSummarySchema = z
  .object({
    key: z.string().openapi({ example: "SUP-12" }),
    number: z.number().int(),
    channel: z.enum(CHANNELS),
    subject: z.string(),
    status: statusEnum,
    priority: z.enum(PRIORITIES),
    policy: z.enum(POLICIES),
    team: z.string(),
    assignee: z.string().nullable(),
    customer: z.string().nullable(),
    visibility: z.enum(["public", "private"]),
    escalationLevel: z.number().int().min(1).max(4),
    requester: z.object({
      name: z.string().nullable(),
      email: z.string().nullable(),
      handle: z.string().nullable(),
    }),
    createdAt: z.string(),
    firstResponseAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    responseDueAt: z.string().nullable(),
    nextUpdateDueAt: z.string().nullable().openapi({
      description:
        "The update promised to the customer on a public reply (`nextUpdateBy`), as the promise clock runs to it; null when none is promised",
    }),
    breached: z.boolean(),
    security: z.boolean(),
    senderUnverified: z.boolean().openapi({
      description: "The channel could not verify the sender (email: DMARC failed at the receiving server)",
    }),
  })
  .openapi("TicketSummary");

export const ticketSchema = ticketSummarySchema
  .extend({
    messages: z.array(messageViewSchema),
    escalations: z.array(
      z.object({
        kind: z.enum(["page", "warning", "breach", "lead", "reassign", "engineering", "incident", "promise"]),
        level: z.number().int(),
        target: z.string(),
        at: z.string(),
        detail: z.string().nullable(),
        dueAt: z.string().nullable(),
      }),
    ),
    improvements: z.array(
      z.object({
        kind: z.enum(["bug", "docs", "error_message", "api", "other"]),
        title: z.string(),
        url: z.string().nullable(),
        at: z.string(),
        state: z.enum(["open", "shipped", "canceled"]),
        shippedAt: z.string().nullable(),
        source: z.enum(["linear", "github", "manual"]),
        ref: z.string().nullable(),
      }),
    ),
    customerEffort: z
      .object({
        score: z.number().int().min(1).max(7).nullable(),
        sentAt: z.string(),
        answeredAt: z.string().nullable(),
      })
      .nullable(),
  })
  .openapi("Ticket");

export const improvementInputSchema = z
  .strictObject({
    kind: z.enum(["bug", "docs", "error_message", "api", "other"]).optional().openapi({
      description: "Required unless a Linear issue is linked (then `bug` by default).",
    }),
    title: z.string().trim().min(1).max(300).optional().openapi({
      description: "Required unless a Linear issue is linked (then the issue's title).",
    }),
    url: z.string().url().max(2048).optional().openapi({
      description: "A Linear issue's URL links that issue (SPEC §13); any other URL is kept as the link.",
    }),
    linear: z.string().trim().min(1).max(2048).optional().openapi({
      description: "A Linear issue to link: its identifier (`ENG-12`) or URL.",
    }),
  })
  .superRefine((input, ctx) => {
    const linear =
      input.linear !== undefined || (input.url !== undefined && linearIssueRef(input.url) !== null);
    if (input.linear !== undefined && linearIssueRef(input.linear) === null) {
      ctx.addIssue({
        code: "custom",
        path: ["linear"],
        message: "not a Linear issue identifier (ENG-12) or URL",
      });
    }
    if (!linear && input.kind === undefined) {
      ctx.addIssue({ code: "custom", path: ["kind"], message: "required (unless a Linear issue is linked)" });
    }
    if (!linear && input.title === undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["title"],
        message: "required (unless a Linear issue is linked)",
      });
    }
  })
  .openapi("ImprovementInput");

export const escalationInputSchema = z
  .strictObject({
    to: z.enum(["engineering", "incident"]),
    issue: z.string().trim().min(1).max(2048).optional().openapi({
      description:
        "`engineering` only: an already-filed Linear issue (identifier or URL) to link instead of filing a new one.",
    }),
  })
  .superRefine((input, ctx) => {
    if (input.issue === undefined) return;
    if (input.to !== "engineering") {
      ctx.addIssue({
        code: "custom",
        path: ["issue"],
        message: "only an engineering escalation links an issue",
      });
    } else if (linearIssueRef(input.issue) === null) {
      ctx.addIssue({
        code: "custom",
        path: ["issue"],
        message: "not a Linear issue identifier (ENG-12) or URL",
      });
    }
  })
  .openapi("EscalationInput");

const booleanParam = z.enum(["true", "false"]).transform((v) => v === "true");

export const ticketListQuerySchema = z.object({
  status: z.string().optional().openapi({
    description:
      "Comma-separated statuses; default `open,pending` (the working queue). `all` for every status.",
  }),
  team: z.string().max(64).optional(),
  channel: z.enum(CHANNELS).optional(),
  priority: z.enum(PRIORITIES).optional(),
  assignee: z.string().max(200).optional(),
  breached: booleanParam.optional().openapi({ type: "string", enum: ["true", "false"] }),
  q: z
    .string()
    .max(SEARCH_MAX_QUERY_CHARS)
    .superRefine((q, ctx) => {
      const pattern = subjectPattern(q);
      if (!pattern.ok) ctx.addIssue({ code: "custom", message: subjectFilterProblem(pattern.bytes) });
    })
    .optional()
    .openapi({
      description: `Substring of the subject: at most ${LIKE_PATTERN_MAX_BYTES - 2} bytes of UTF-8, where \\, % and _ count twice (D1's LIKE pattern limit).`,
    }),
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(25),
});

export const ticketListSchema = z
  .object({ tickets: z.array(ticketSummarySchema), nextCursor: z.string().nullable() })
  .openapi("TicketList");

export const ticketKeyParamSchema = z.object({
  key: z.string().openapi({ param: { name: "key", in: "path" }, example: "SUP-12" }),
});

export const ticketPatchSchema = z
  .strictObject({
    status: statusEnum.optional(),
    priority: z.enum(PRIORITIES).optional(),
    team: z.string().min(1).max(64).optional(),
    assignee: z.string().min(1).max(200).nullable().optional(),
    visibility: z.enum(["public", "private"]).optional().openapi({
      description:
        "`private` takes the ticket out of the knowledge base at once; `public` puts it in when it is (or once it is) resolved.",
    }),
    confirmSecurityDisclosure: z.literal(true).optional().openapi({
      description:
        "Required with `visibility: public` on a `security` ticket: making one public is a disclosure, done deliberately.",
    }),
  })
  .refine(
    (patch) => Object.keys(patch).some((k) => k !== "confirmSecurityDisclosure"),
    "send at least one of status, priority, team, assignee, visibility",
  )
  .openapi("TicketPatch");

export const replySchema = z
  .strictObject({
    text: z
      .string()
      .trim()
      .min(1)
      .max(64 * 1024),
    internal: z.boolean().default(false),
    nextUpdateBy: z.string().trim().min(1).max(64).optional().openapi({
      description:
        "Promise the customer the next update (public replies only): an ISO-8601 instant with its offset or a duration such as `PT4H`, at least a minute and at most 90 days away. The reply as sent names the time in the desk's zone; the ticket's promise clock warns the assignee at 75 % and escalates (`promise`) to the team at 100 %.",
      example: "PT4H",
    }),
    ifLastMessageId: z.string().min(1).max(100).optional().openapi({
      description:
        "Collision detection: the id of the newest message the writer has seen. If newer messages (other than system messages) exist, the reply is refused with 409 listing them and nothing is stored or sent.",
    }),
  })
  .refine((reply) => !(reply.internal && reply.nextUpdateBy !== undefined), {
    path: ["nextUpdateBy"],
    message: "an internal note promises the customer nothing: nextUpdateBy needs a public reply",
  })
  .openapi("Reply");

export const staleReplySchema = problemSchema
  .extend({
    lastMessageId: z.string().openapi({ description: "The newest message now: send again with this id." }),
    messages: z.array(messageViewSchema).openapi({ description: "The messages after `ifLastMessageId`." }),
  })
  .partial({ lastMessageId: true, messages: true })
  .openapi("StaleReply");

export const intakeAcceptedSchema = z
  .object({
    ticket: z.string().openapi({ example: "SUP-12" }),
    created: z.boolean(),
    responseDueAt: z.string().nullable(),
    acknowledgement: z.string().nullable().optional(),
  })
  .openapi("IntakeAccepted");
