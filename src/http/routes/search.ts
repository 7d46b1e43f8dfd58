import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  KB_MAX_TERMS,
  KB_MIN_TERM_CHARS,
  knowledgeBaseTerms,
  SEARCH_MAX_QUERY_CHARS,
} from "../../domain/search";
import { database } from "../../store/db";
import { searchKnowledgeBase } from "../../store/knowledge-base";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";

const hitSchema = z
  .object({
    key: z.string(),
    number: z.number().int(),
    subject: z.string(),
    snippet: z.string(),
    snippetHtml: z.string().openapi({ description: "HTML-escaped snippet with matches in <mark>." }),
    resolvedAt: z.string().nullable(),
    score: z.number(),
  })
  .openapi("KnowledgeBaseHit");

const searchRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["knowledge base"],
  summary: "Full-text search of resolved public tickets (no token needed)",
  request: {
    query: z.object({
      q: z
        .string()
        .trim()
        .min(1)
        .max(SEARCH_MAX_QUERY_CHARS)
        .openapi({
          description: `Words to find, each a prefix; words under ${KB_MIN_TERM_CHARS} characters and words past the first ${KB_MAX_TERMS} are ignored (listed in \`ignoredTerms\`). A query of only ignored words finds nothing.`,
        }),
      limit: z.coerce.number().int().min(1).max(50).default(10),
    }),
  },
  responses: {
    200: {
      description: "Ranked hits",
      content: {
        "application/json": {
          schema: z.object({ results: z.array(hitSchema), ignoredTerms: z.array(z.string()) }),
        },
      },
    },
    400: problemResponse("Missing or bad query"),
    429: problemResponse("Over the per-address budget (README, Limits); see Retry-After"),
  },
});

export const searchApp = new OpenAPIHono<{ Bindings: Env }>({ defaultHook: validationHook }).openapi(
  searchRoute,
  async (c) => {
    const { q, limit } = c.req.valid("query");
    const results = await searchKnowledgeBase(database(c.env.DB), q, limit);
    return c.json({ results, ignoredTerms: knowledgeBaseTerms(q).ignored }, 200);
  },
);
