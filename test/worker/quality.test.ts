import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { isoWeek, QUALITY_BUCKET_MS, type QualityReport } from "../../src/domain/quality";
import { app } from "../../src/http/app";
import { meteredD1, newMeter } from "../../src/store/metered";
import { parseHtml } from "./console-helpers";
import { advanceTo, fakeOutbound, HOUR, postMessage, request, TEST_CONFIG, useConfig } from "./helpers";
import { openGithubIssue } from "./privacy-helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const MIN = 60_000;
let clock = Date.UTC(2032, 2, 1, 8, 0, 0); // a Monday; each test moves on to windows of its own

/** A time in a fresh report bucket, well after the last test's. */
function later(): number {
  clock += 40 * 86_400_000;
  return clock;
}

async function publicJson(path: string) {
  const response = await request(path, { token: null });
  return { response, body: (await response.json()) as QualityReport & Record<string, unknown> };
}

describe("GET /v1/quality and /quality, without signing in", () => {
  it("report the last 30 days for the public channels and the desk, by channel and ISO week", async () => {
    fakeOutbound();
    const t = later();
    advanceTo(t);
    const { key: issue } = await openGithubIssue("Public question about exports", "How do I export?");
    await postMessage({ subject: "private api question", text: "help" });
    advanceTo(t + HOUR);
    const reply = await request(`/v1/tickets/${issue}/replies`, {
      method: "POST",
      json: { text: "Looking.", nextUpdateBy: "PT2H" },
    });
    expect(reply.status).toBe(201);
    advanceTo(t + 2 * HOUR);
    await request(`/v1/tickets/${issue}`, { method: "PATCH", json: { status: "resolved" } });

    advanceTo(t + 3 * HOUR);
    const { response, body } = await publicJson("/v1/quality");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("public, max-age=60");
    const to = Math.floor((t + 3 * HOUR) / QUALITY_BUCKET_MS) * QUALITY_BUCKET_MS;
    expect(body.to).toBe(new Date(to).toISOString());
    expect(body.from).toBe(new Date(to - 30 * 86_400_000).toISOString());
    expect(body.publicChannelNames).toEqual(["github", "discord"]);
    expect(body.publicChannels).toMatchObject({
      tickets: 1,
      firstResponse: { count: 1, medianSeconds: 3600, withinTargetRate: 1 },
      resolution: { count: 1, medianSeconds: 7200 },
      promises: { made: 1, kept: 1, broken: 0, keptRate: 1 },
    });
    expect(body.byChannel.github.tickets).toBe(1);
    expect(body.byChannel.discord.tickets).toBe(0);
    expect(body.desk.tickets).toBe(2);
    expect(Object.keys(body).sort()).toEqual(
      ["byChannel", "desk", "from", "publicChannelNames", "publicChannels", "to", "weeks"].sort(),
    );
    expect(JSON.stringify(body)).not.toMatch(/byTeam|support|exports|SUP-/i);
    // Five or six ISO weeks, oldest first; this scenario's week holds its numbers.
    expect(body.weeks.length).toBeGreaterThanOrEqual(5);
    const week = body.weeks.at(-1);
    expect(week?.week).toBe(isoWeek(t));
    expect(week?.publicChannels.tickets).toBe(1);
    expect(week?.desk.tickets).toBe(2);
    expect(body.weeks.slice(0, -1).every((w) => w.desk.tickets === 0)).toBe(true);

    // The same window through the agents' API: the desk's numbers agree.
    const metrics = (await (await request(`/v1/metrics?from=${body.from}&to=${body.to}`)).json()) as Record<
      string,
      unknown
    >;
    for (const field of [
      "tickets",
      "firstResponse",
      "resolution",
      "customerEffort",
      "issuesToImprovements",
    ]) {
      expect(body.desk[field as keyof QualityReport["desk"]], field).toEqual(metrics[field]);
    }

    const page = await request("/quality", { token: null });
    expect(page.status).toBe(200);
    const html = await page.text();
    const parsed = await parseHtml(html);
    const cell = (id: string) => parsed.elements.find((e) => e.attrs["data-quality"] === id)?.text;
    expect(cell("publicChannels:tickets")).toBe("1");
    expect(cell("desk:tickets")).toBe("2");
    expect(cell("github:promises")).toBe("100% (1 of 1)");
    // Accessible charts: SVG images with a title and a text description, and the numbers in tables.
    const svgs = parsed.all("svg");
    expect(svgs.length).toBe(4);
    for (const svg of svgs) expect(svg.attrs.role).toBe("img");
    expect(parsed.all("desc").length).toBe(4);
    expect(parsed.elements.some((e) => e.attrs.id === "quality-weeks")).toBe(true);
    expect(html).not.toContain("exports");
  });

  it("is computed once per window: a crowd's further requests read no D1 at all", async () => {
    fakeOutbound();
    advanceTo(later());
    const run = async (path: string) => {
      const meter = newMeter();
      const response = await app.request(
        `https://desk.test${path}`,
        {},
        { ...env, DB: meteredD1(env.DB, meter) },
      );
      expect(response.status).toBe(200);
      await response.arrayBuffer();
      return meter.statements.length;
    };
    expect(await run("/v1/quality")).toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) expect(await run(i % 2 === 0 ? "/v1/quality" : "/quality")).toBe(0);
    // Concurrent requests in a new window share one computation.
    advanceTo(clock + QUALITY_BUCKET_MS);
    const meter = newMeter();
    const metered = { ...env, DB: meteredD1(env.DB, meter) };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => app.request("https://desk.test/v1/quality", {}, metered)),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const once = meter.statements.length;
    advanceTo(clock + 2 * QUALITY_BUCKET_MS);
    const single = newMeter();
    await app.request("https://desk.test/v1/quality", {}, { ...env, DB: meteredD1(env.DB, single) });
    expect(once).toBe(single.statements.length);
  });

  it("config publicQuality: false → both 404, and /kb no longer links to it", async () => {
    advanceTo(later());
    expect((await request("/kb", { token: null }).then((r) => r.text())).includes('href="/quality"')).toBe(
      true,
    );
    await useConfig({ ...TEST_CONFIG, publicQuality: false });
    const json = await request("/v1/quality", { token: null });
    expect(json.status).toBe(404);
    expect(json.headers.get("content-type")).toContain("application/problem+json");
    expect((await request("/quality", { token: null })).status).toBe(404);
    expect((await request("/kb", { token: null }).then((r) => r.text())).includes('href="/quality"')).toBe(
      false,
    );
    await useConfig({ ...TEST_CONFIG, publicQuality: true });
    expect((await request("/v1/quality", { token: null })).status).toBe(200);
  });

  it("is in the OpenAPI document, without a security requirement", async () => {
    const doc = (await (await request("/openapi.json", { token: null })).json()) as {
      paths: Record<string, { get?: { security?: unknown[] } }>;
    };
    expect(doc.paths["/v1/quality"]?.get?.security).toEqual([]);
  });

  it("a late promise counts as broken, a promise not yet due is left out", async () => {
    fakeOutbound();
    const t = later();
    advanceTo(t);
    const { key: kept } = await openGithubIssue("Question one", "one");
    const { key: late } = await openGithubIssue("Question two", "two");
    const { key: open } = await openGithubIssue("Question three", "three");
    for (const [key, by] of [
      [kept, "PT1H"],
      [late, "PT1H"],
      [open, "P5D"],
    ] as const) {
      await request(`/v1/tickets/${key}/replies`, {
        method: "POST",
        json: { text: "Looking.", nextUpdateBy: by },
      });
    }
    advanceTo(t + 30 * MIN);
    await request(`/v1/tickets/${kept}/replies`, { method: "POST", json: { text: "Update." } });
    advanceTo(t + 2 * HOUR);
    await request(`/v1/tickets/${late}/replies`, { method: "POST", json: { text: "Sorry, late." } });
    advanceTo(t + 3 * HOUR);
    const { body } = await publicJson("/v1/quality");
    expect(body.byChannel.github.promises).toEqual({ made: 3, kept: 1, broken: 1, keptRate: 0.5 });
  });
});
