import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import opened1 from "../fixtures/corpus/github/issues.opened.1.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
import { edit, onIssue, postGithub } from "./github-helpers";
import { fakeOutbound, HOUR, postMessage, TEST_CONFIG, useConfig } from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const DAY = 24 * HOUR;

/** 00:00 UTC on the first Monday after 6 January of `year` (every test gets its own ISO week). */
function firstMonday(year: number): number {
  let day = Date.UTC(year, 0, 7);
  while (new Date(day).getUTCDay() !== 1) day += DAY;
  return day;
}

/** Run the Worker's cron handler the way the runtime does at `scheduledTime`. */
async function runCron(scheduledTime: number) {
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "0 * * * *" }), env);
}

async function openGithubTicket(repo: string, title: string) {
  const issue = onIssue(
    edit(opened1, (p) => {
      p.issue.title = title;
    }),
    { repo },
  );
  const result = await postGithub("issues", issue);
  expect(result.status).toBe(202);
  return { issue, key: result.body.ticket as string };
}

function digestsTo(out: ReturnType<typeof fakeOutbound>, channel: string) {
  return out.slack().filter((m) => m.channel === channel && String(m.text).includes("Weekly GitHub triage"));
}

describe("weekly GitHub triage digest", () => {
  it("on Monday at 09:00 each team gets its open GitHub tickets with age and state; empty teams get nothing", async () => {
    const sdkA = await openGithubTicket("acme/sdk", "Crash on start");
    const sdkB = await openGithubTicket("acme/sdk", "Docs typo");
    const other = await openGithubTicket("someone/else", "Question about pricing");
    const closedOne = await openGithubTicket("acme/sdk", "Already fixed");
    const close = edit(reopened1, (p) => {
      p.action = "closed";
    });
    const { issue } = closedOne;
    const closed = await postGithub(
      "issues",
      onIssue(close, { repo: "acme/sdk", number: issue.issue.number, issueId: issue.issue.id }),
    );
    expect(closed.body.what).toBe("resolved");
    const { body: apiTicket } = await postMessage({ subject: "Not from GitHub" });

    const out = fakeOutbound();
    await runCron(firstMonday(2031) + 9 * HOUR);
    const [sdk] = digestsTo(out, "C0SDK");
    expect(digestsTo(out, "C0SDK")).toHaveLength(1);
    const text = String(sdk?.text);
    expect(text).toContain("*Weekly GitHub triage — SDK*");
    expect(text).toContain(
      `|${sdkA.key}> acme/sdk#${sdkA.issue.issue.number} “Crash on start” — open, reply overdue by`,
    );
    expect(text).toContain(`|${sdkB.key}>`);
    expect(text).toMatch(/days old/);
    expect(text).not.toContain(closedOne.key);
    expect(text).not.toContain(other.key);
    const support = String(digestsTo(out, "C0SUPPORT")[0]?.text);
    expect(support).toContain(other.key);
    expect(support).not.toContain(apiTicket.ticket as string);
    // Billing, platform and security have no GitHub tickets: no digest for them.
    for (const channel of ["C0BILLING", "C0PLATFORM", "C0SECURITY"])
      expect(digestsTo(out, channel)).toEqual([]);
  });

  it("posts once per week: later hours that Monday post nothing again", async () => {
    await openGithubTicket("acme/sdk", "Once a week");
    const out = fakeOutbound();
    const monday = firstMonday(2032);
    await runCron(monday + 9 * HOUR);
    await runCron(monday + 10 * HOUR);
    await runCron(monday + 11 * HOUR);
    expect(digestsTo(out, "C0SDK")).toHaveLength(1);
    // The next week posts again.
    await runCron(monday + 7 * DAY + 9 * HOUR);
    expect(digestsTo(out, "C0SDK")).toHaveLength(2);
  });

  it("posts nothing before the hour or on another day", async () => {
    await openGithubTicket("acme/sdk", "Not yet");
    const out = fakeOutbound();
    const monday = firstMonday(2033);
    await runCron(monday + 8 * HOUR);
    await runCron(monday - DAY + 9 * HOUR);
    await runCron(monday + DAY + 9 * HOUR);
    expect(out.slack().filter((m) => String(m.text).includes("Weekly GitHub triage"))).toEqual([]);
  });

  it("a run that missed 09:00 catches up later that day", async () => {
    await openGithubTicket("acme/sdk", "Late cron");
    const out = fakeOutbound();
    await runCron(firstMonday(2034) + 13 * HOUR);
    expect(digestsTo(out, "C0SDK")).toHaveLength(1);
  });

  it("follows the desk's time zone and the configured weekday and hour", async () => {
    await useConfig({
      ...TEST_CONFIG,
      timezone: "America/New_York",
      github: { triage: { weekday: 3, hour: 8 } },
    });
    await openGithubTicket("acme/sdk", "Zoned");
    const out = fakeOutbound();
    const wednesday = firstMonday(2035) + 2 * DAY;
    // 08:00 in New York in January is 13:00 UTC.
    await runCron(wednesday + 12 * HOUR);
    expect(digestsTo(out, "C0SDK")).toEqual([]);
    await runCron(wednesday + 13 * HOUR);
    expect(digestsTo(out, "C0SDK")).toHaveLength(1);
  });

  it("a digest Slack refused is retried by the next hourly run", async () => {
    await openGithubTicket("acme/sdk", "Retry me");
    let refuse = true;
    const out = fakeOutbound((call) => {
      if (call.host !== "slack.fake") return new Response(null, { status: 204 });
      const body = call.body as { channel?: string };
      if (refuse && body.channel === "C0SDK") return Response.json({ ok: false, error: "ratelimited" });
      return Response.json({ ok: true, ts: "1.2" });
    });
    const monday = firstMonday(2036);
    await runCron(monday + 9 * HOUR);
    refuse = false;
    await runCron(monday + 10 * HOUR);
    await runCron(monday + 11 * HOUR);
    // One refused attempt, then exactly one digest that went through.
    expect(digestsTo(out, "C0SDK")).toHaveLength(2);
  });

  it("can be switched off", async () => {
    await useConfig({ ...TEST_CONFIG, github: { triage: { enabled: false } } });
    await openGithubTicket("acme/sdk", "Off");
    const out = fakeOutbound();
    await runCron(firstMonday(2037) + 9 * HOUR);
    expect(digestsTo(out, "C0SDK")).toEqual([]);
  });
});
