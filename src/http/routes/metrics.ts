import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { CHANNELS } from "../../domain/inbound";
import { DEFAULT_WINDOW_MS } from "../../domain/metrics";
import { database } from "../../store/db";
import { computeMetrics } from "../../store/metrics";
import { computeTrend } from "../../store/metrics-trend";
import type { AuthVariables } from "../auth";
import { problem } from "../errors";
import { problemResponse } from "../schemas";
import { validationHook } from "../validation";

/** The fields of one set of metrics (also the public quality report's, routes/quality.ts). */
export const metricSet = {
  tickets: z.number().int(),
  firstResponse: z.object({
    count: z.number().int(),
    medianSeconds: z.number().nullable(),
    p90Seconds: z.number().nullable(),
    withinTargetRate: z.number().nullable(),
  }),
  resolution: z.object({
    count: z.number().int(),
    medianSeconds: z.number().nullable(),
    p90Seconds: z.number().nullable(),
  }),
  customerEffort: z.object({ responses: z.number().int(), average: z.number().nullable() }),
  issuesToImprovements: z.object({
    resolved: z.number().int(),
    withImprovement: z.number().int(),
    ratio: z.number().nullable(),
    shipped: z.number().int(),
    shippedRatio: z.number().nullable(),
  }),
  promises: z
    .object({
      made: z.number().int(),
      kept: z.number().int(),
      broken: z.number().int(),
      keptRate: z.number().nullable(),
    })
    .openapi({
      description:
        "Promised updates (`nextUpdateBy`) made in the window: kept by their time, broken (the time passed without a public reply or resolve), and kept / (kept + broken); open ones not yet due are left out",
    }),
};
const metricSetSchema = z.object(metricSet).openapi("MetricSet");
const metricsSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    ...metricSet,
    byChannel: z.record(z.string(), metricSetSchema),
    byTeam: z.record(z.string(), metricSetSchema),
  })
  .openapi("Metrics");

export const metricsQuerySchema = z.object({
  from: z.iso
    .datetime({ offset: true })
    .optional()
    .openapi({ description: "Start (inclusive); default 30 days before `to`." }),
  to: z.iso.datetime({ offset: true }).optional().openapi({ description: "End (exclusive); default now." }),
  team: z.string().max(64).optional(),
  channel: z.enum(CHANNELS).optional(),
});

const metricsRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["metrics"],
  summary:
    "First response, resolution, customer effort and issues-to-improvements for tickets created in a window",
  security: [{ bearer: [] }],
  request: { query: metricsQuerySchema },
  responses: {
    200: {
      description: "The four metrics, overall, by channel and by team",
      content: { "application/json": { schema: metricsSchema } },
    },
    400: problemResponse("Bad window"),
  },
});

export const trendQuerySchema = z.object({
  weeks: z.coerce
    .number()
    .int()
    .min(1)
    .max(52)
    .default(12)
    .openapi({ description: "How many ISO weeks, the current one included (1–52, default 12)." }),
  team: z.string().max(64).optional(),
  channel: z.enum(CHANNELS).optional(),
});

const trendSchema = z
  .object({
    weeks: z.array(
      z.object({
        week: z.string().openapi({ example: "2026-W49" }),
        from: z.string(),
        to: z.string(),
        ...metricSet,
      }),
    ),
  })
  .openapi("MetricsTrend");

const trendRoute = createRoute({
  method: "get",
  path: "/trend",
  tags: ["metrics"],
  summary: "The four metrics per ISO week (UTC, Monday first), oldest first, for tickets created that week",
  security: [{ bearer: [] }],
  request: { query: trendQuerySchema },
  responses: {
    200: { description: "One entry per week", content: { "application/json": { schema: trendSchema } } },
    400: problemResponse("Bad number of weeks"),
  },
});

export const metricsApp = new OpenAPIHono<{ Bindings: Env; Variables: AuthVariables }>({
  defaultHook: validationHook,
})
  .openapi(trendRoute, async (c) => {
    const query = c.req.valid("query");
    const weeks = await computeTrend(database(c.env.DB), {
      weeks: query.weeks,
      now: Date.now(),
      team: query.team,
      channel: query.channel,
    });
    return c.json({ weeks }, 200);
  })
  .openapi(metricsRoute, async (c) => {
    const query = c.req.valid("query");
    const now = Date.now();
    const to = query.to === undefined ? now : Date.parse(query.to);
    const from = query.from === undefined ? to - DEFAULT_WINDOW_MS : Date.parse(query.from);
    if (from >= to) return problem(c, 400, "`from` must be before `to`.");
    const report = await computeMetrics(database(c.env.DB), {
      from,
      to,
      team: query.team,
      channel: query.channel,
      now,
    });
    return c.json(report, 200);
  });
