import { env } from "cloudflare:workers";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ConsoleBrowser, parseHtml } from "./console-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { advanceTo, fakeOutbound, HOUR, postMessage, request, unique, useConfig } from "./helpers";

/**
 * Five tickets scripted through the API and the email handler on a faked clock, and the report
 * worked out by hand from SPEC §8 and §16 (the arithmetic is in the comments).
 */

const T0 = Date.UTC(2031, 0, 6, 9, 0, 0); // a Monday, far from every other test's tickets
const MIN = 60_000;

async function at(ms: number) {
  advanceTo(ms);
}

async function reply(key: string, json: Record<string, unknown>) {
  const response = await request(`/v1/tickets/${key}/replies`, { method: "POST", json });
  expect(response.status, await response.clone().text()).toBe(201);
}

async function resolve(key: string) {
  const response = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
  expect(response.status).toBe(200);
}

async function answerSurvey(key: string, score: number) {
  const row = await env.DB.prepare("select token from surveys where ticket_number = ?")
    .bind(Number(key.slice(4)))
    .first<{ token: string }>();
  const response = await request(`/survey/${row?.token}`, {
    method: "POST",
    token: null,
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ score: String(score) }).toString(),
  });
  expect(response.status).toBe(200);
}

let report: Record<string, unknown>;

beforeAll(async () => {
  await useConfig();
  fakeOutbound();
  // A (api, support): answered after 1 h with a promise (due +5 h); the next reply (+3 h) keeps it
  // and promises again (due +5 h); the resolve (+4 h) keeps that one. Survey: 6.
  await at(T0);
  const a = (await postMessage({ subject: "exports stuck", text: "help" })).body.ticket as string;
  // B (api, platform by "latency"): answered after 2 h with a 2-hour promise (due +4h10m), the
  // next reply only at +8h10m: broken.
  await at(T0 + 10 * MIN);
  const b = (await postMessage({ subject: "latency spikes", text: "slow" })).body.ticket as string;
  // C (email, billing): answered after 30 h (target 24 h: a miss), resolved after 31 h, linked
  // to an improvement. Survey: 2.
  await at(T0 + 20 * MIN);
  const threadMail = mail({ to: "billing@example.com", subject: `invoice ${unique("c")}` });
  await deliverEmail(threadMail.raw, { to: "billing@example.com" });
  const c = (
    await env.DB.prepare(
      "select number from tickets where channel = 'email' order by number desc limit 1",
    ).first<{
      number: number;
    }>()
  )?.number;
  const cKey = `SUP-${c}`;
  // D (api, support): answered after 10 min with a 3-day promise, still open at the report.
  await at(T0 + 30 * MIN);
  const d = (await postMessage({ subject: "question", text: "how?" })).body.ticket as string;
  // E (api, support): never answered; its deadline (+24h40m) has passed at the report.
  await at(T0 + 40 * MIN);
  await postMessage({ subject: "another question", text: "hello?" });

  await at(T0 + 30 * MIN + 10 * MIN);
  await reply(d, { text: "Looking.", nextUpdateBy: "P3D" });
  await at(T0 + HOUR);
  await reply(a, { text: "Looking.", nextUpdateBy: "PT4H" });
  await at(T0 + 2 * HOUR + 10 * MIN);
  await reply(b, { text: "Looking.", nextUpdateBy: "PT2H" });
  await at(T0 + 3 * HOUR);
  await reply(a, { text: "Found it.", nextUpdateBy: "PT2H" });
  await at(T0 + 4 * HOUR);
  await resolve(a);
  await answerSurvey(a, 6);
  await at(T0 + 8 * HOUR + 10 * MIN);
  await reply(b, { text: "Sorry for the wait." });
  await at(T0 + 30 * HOUR + 20 * MIN);
  await reply(cKey, { text: "Refund sent." });
  const improvement = await request(`/v1/tickets/${cKey}/improvements`, {
    method: "POST",
    json: { kind: "docs", title: "Explain refunds" },
  });
  expect(improvement.status).toBe(201);
  await at(T0 + 31 * HOUR + 20 * MIN);
  await resolve(cKey);
  await answerSurvey(cKey, 2);

  await at(T0 + 32 * HOUR);
  const from = new Date(T0).toISOString();
  const to = new Date(T0 + 86_400_000).toISOString();
  const response = await request(`/v1/metrics?from=${from}&to=${to}`);
  expect(response.status).toBe(200);
  report = (await response.json()) as Record<string, unknown>;
});

afterAll(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("metrics for five scripted tickets, worked out by hand", () => {
  it("overall", () => {
    expect(report).toMatchObject({
      tickets: 5,
      // First responses 600, 3600, 7200, 108000 s: median (3600 + 7200) / 2; p90 at rank 2.7.
      // Within target: A, B, D yes; C late; E unanswered past due → 3 of 5.
      firstResponse: {
        count: 4,
        medianSeconds: 5400,
        p90Seconds: expect.closeTo(77760, 6),
        withinTargetRate: 0.6,
      },
      // Resolutions 14400 (A) and 111600 (C) s.
      resolution: { count: 2, medianSeconds: 63000, p90Seconds: expect.closeTo(101880, 6) },
      customerEffort: { responses: 2, average: 4 },
      issuesToImprovements: { resolved: 2, withImprovement: 1, ratio: 0.5 },
      // A's two kept, B's broken, D's open (not yet due): 2 / (2 + 1).
      promises: { made: 4, kept: 2, broken: 1, keptRate: expect.closeTo(2 / 3, 9) },
    });
  });

  it("by channel", () => {
    const byChannel = report.byChannel as Record<string, unknown>;
    expect(byChannel.api).toMatchObject({
      tickets: 4,
      // 600, 3600, 7200: median 3600, p90 at rank 1.8 = 3600 + 0.8 × 3600.
      firstResponse: { count: 3, medianSeconds: 3600, p90Seconds: 6480, withinTargetRate: 0.75 },
      resolution: { count: 1, medianSeconds: 14400, p90Seconds: 14400 },
      customerEffort: { responses: 1, average: 6 },
      issuesToImprovements: { resolved: 1, withImprovement: 0, ratio: 0 },
      promises: { made: 4, kept: 2, broken: 1, keptRate: expect.closeTo(2 / 3, 9) },
    });
    expect(byChannel.email).toMatchObject({
      tickets: 1,
      firstResponse: { count: 1, medianSeconds: 108000, p90Seconds: 108000, withinTargetRate: 0 },
      resolution: { count: 1, medianSeconds: 111600 },
      customerEffort: { responses: 1, average: 2 },
      issuesToImprovements: { resolved: 1, withImprovement: 1, ratio: 1 },
      promises: { made: 0, kept: 0, broken: 0, keptRate: null },
    });
  });

  it("by team", () => {
    const byTeam = report.byTeam as Record<string, unknown>;
    expect(byTeam.support).toMatchObject({
      tickets: 3,
      // 600 (D), 3600 (A): median 2100, p90 = 600 + 0.9 × 3000; E is the miss.
      firstResponse: { count: 2, medianSeconds: 2100, p90Seconds: 3300, withinTargetRate: 2 / 3 },
      promises: { made: 3, kept: 2, broken: 0, keptRate: 1 },
    });
    expect(byTeam.platform).toMatchObject({
      tickets: 1,
      firstResponse: { count: 1, medianSeconds: 7200, withinTargetRate: 1 },
      promises: { made: 1, kept: 0, broken: 1, keptRate: 0 },
    });
    expect(byTeam.billing).toMatchObject({ tickets: 1, promises: { made: 0, keptRate: null } });
  });

  it("the console's /metrics shows the promises, with a chart per breakdown", async () => {
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const day = new Date(T0).toISOString().slice(0, 10);
    const { response, html } = await browser.get(`/metrics?from=${day}&to=${day}`);
    expect(response.status).toBe(200);
    const page = await parseHtml(html);
    const metric = (id: string) => page.elements.find((e) => e.attrs["data-metric"] === id)?.text;
    expect(metric("promises")).toBe("66.7%");
    expect([metric("promises-made"), metric("promises-kept"), metric("promises-broken")]).toEqual([
      "4",
      "2",
      "1",
    ]);
    expect(page.elements.some((e) => e.attrs.id === "by-team-promises")).toBe(true);
  });
});
