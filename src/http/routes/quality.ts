import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { PUBLIC_CHANNELS, QUALITY_BUCKET_MS, type QualityReport, qualityWindow } from "../../domain/quality";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { computeQuality } from "../../store/quality";
import { problem } from "../errors";
import { problemResponse } from "../schemas";
import { metricSet } from "./metrics";

/**
 * `GET /v1/quality` and the `/quality` page (SPEC §16): public, so a crowd must never reach D1.
 * Three layers keep it away:
 * - the report is the same for everyone within a 5-minute bucket (`qualityWindow`), computed once
 *   per isolate per bucket — concurrent requests share one computation (single flight);
 * - a computed report is put into the data centre's cache (`caches.default`) under the bucket, so
 *   other isolates there read it instead of computing it;
 * - config `publicQuality` is read at most once a minute per isolate (and again at once after a
 *   `PUT /v1/config` handled by the same isolate).
 * Every request is also within the public rate limit (`RATE_LIMIT_PUBLIC`, surface `quality`).
 */

/** How long an isolate trusts what it read of `publicQuality`. */
export const QUALITY_FLAG_TTL_MS = 60_000;

let flag: { until: number; enabled: Promise<boolean> } | null = null;
const reports = new Map<number, Promise<QualityReport>>();

/** Forget the cached switch (this isolate just replaced the configuration). */
export function forgetPublicQualityFlag(): void {
  flag = null;
}

/** Whether the public report is on (config `publicQuality`), read at most once a minute (single flight). */
export function publicQualityEnabled(env: { DB: D1Database }, now: number): Promise<boolean> {
  if (flag !== null && flag.until > now) return flag.enabled;
  const enabled = loadConfig(database(env.DB)).then((config) => config.publicQuality);
  const entry = { until: now + QUALITY_FLAG_TTL_MS, enabled };
  flag = entry;
  // A failed read is not remembered.
  enabled.catch(() => {
    if (flag === entry) flag = null;
  });
  return enabled;
}

function cacheKey(origin: string, bucket: number): Request {
  return new Request(`${origin}/__cache/quality/${bucket}`);
}

async function fromCacheOrCompute(
  env: { DB: D1Database },
  wait: (p: Promise<unknown>) => void,
  origin: string,
  now: number,
): Promise<QualityReport> {
  const { from, to, bucket } = qualityWindow(now);
  const cache = typeof caches === "undefined" ? undefined : caches.default;
  const key = cacheKey(origin, bucket);
  const hit = await cache?.match(key).catch(() => undefined);
  if (hit !== undefined) return (await hit.json()) as QualityReport;
  // `now` for "already due" is the window's end, so the report is the same whoever computes it.
  const report = await computeQuality(database(env.DB), { from, to, now: to });
  if (cache !== undefined) {
    const seconds = Math.ceil(QUALITY_BUCKET_MS / 1000);
    const stored = new Response(JSON.stringify(report), {
      headers: { "content-type": "application/json", "cache-control": `public, max-age=${seconds}` },
    });
    wait(cache.put(key, stored).catch((error) => console.warn("quality report not cached", error)));
  }
  return report;
}

/** The report for the bucket `now` is in: from this isolate, the data centre's cache, or D1 (once). */
export function qualityReport(
  env: { DB: D1Database },
  wait: (p: Promise<unknown>) => void,
  origin: string,
  now: number,
): Promise<QualityReport> {
  const { bucket } = qualityWindow(now);
  const known = reports.get(bucket);
  if (known !== undefined) return known;
  const pending = fromCacheOrCompute(env, wait, origin, now);
  // Only the current bucket is worth keeping; a failure is not remembered.
  for (const old of reports.keys()) if (old !== bucket) reports.delete(old);
  reports.set(bucket, pending);
  pending.catch(() => reports.delete(bucket));
  return pending;
}

/** `waitUntil` when the runtime gives one (not in every test harness). */
export function waitUntilOf(c: { executionCtx: ExecutionContext }): (p: Promise<unknown>) => void {
  return (p) => {
    try {
      c.executionCtx.waitUntil(p);
    } catch {
      void p;
    }
  };
}

const qualitySetSchema = z.object(metricSet).openapi("QualitySet");
const qualityScope = {
  desk: qualitySetSchema,
  publicChannels: qualitySetSchema,
  byChannel: z.object({ github: qualitySetSchema, discord: qualitySetSchema }),
};
export const qualityReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    publicChannelNames: z.array(z.enum(PUBLIC_CHANNELS)),
    ...qualityScope,
    weeks: z.array(
      z.object({
        week: z.string().openapi({ example: "2026-W49" }),
        from: z.string(),
        to: z.string(),
        ...qualityScope,
      }),
    ),
  })
  .openapi("QualityReport");

const qualityRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["quality"],
  summary:
    "Public response quality: the four metrics and promised updates kept, last 30 days, public channels and the whole desk, by channel and ISO week",
  description:
    "No token. Counts, rates and durations only: no subject, name, text, team or ticket key. The same for everyone within a 5-minute window (cached). Rate-limited per address like the other public endpoints. 404 when config `publicQuality` is false.",
  security: [],
  responses: {
    200: {
      description: "The report",
      content: { "application/json": { schema: qualityReportSchema } },
    },
    404: problemResponse("The desk does not publish its response quality (config `publicQuality: false`)"),
    429: problemResponse("Too many requests from this address; see Retry-After"),
  },
});

export const qualityApp = new OpenAPIHono<{ Bindings: Env }>().openapi(qualityRoute, async (c) => {
  const now = Date.now();
  if (!(await publicQualityEnabled(c.env, now))) {
    return problem(c, 404, "This desk does not publish its response quality.");
  }
  const report = await qualityReport(c.env, waitUntilOf(c), new URL(c.req.url).origin, now);
  return c.json(report, 200, { "cache-control": "public, max-age=60" });
});
