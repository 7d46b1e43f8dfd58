import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../src/domain/config";
import { retimedPolicies } from "../../src/domain/sla";
import { intake } from "../../src/intake";
import { loadConfig, saveConfig } from "../../src/store/config";
import { database } from "../../src/store/db";
import { meteredD1, newMeter } from "../../src/store/metered";
import { retimeClocks } from "../../src/timer/retime";
import { ConsoleBrowser } from "./console-helpers";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  fireAlarm,
  flush,
  getTicket,
  kinds,
  request,
  TEST_CONFIG,
  timer,
  unique,
  useConfig,
} from "./helpers";

/** SPEC §14's example calendar, with the Monday after the test's Friday as a holiday. */
function euCalendar(close: string) {
  const day: [string, string][] = [["09:00", close]];
  return {
    id: "eu",
    timezone: "Europe/Berlin",
    week: { mon: day, tue: day, wed: day, thu: day, fri: day, sat: [], sun: [] },
    holidays: ["2026-12-07", "2026-12-25"],
  };
}

function configWith(close: string, extra: Record<string, unknown> = {}) {
  return {
    ...TEST_CONFIG,
    calendars: [euCalendar(close)],
    policies: { "enterprise-slack": { firstResponseSeconds: 4 * 3600, calendar: "eu" } },
    ...extra,
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

/** An enterprise Slack message (Acme's shared channel): the 4-hour policy, on calendar "eu". */
async function enterpriseTicket(at: number, deskEnv: typeof env = env) {
  advanceTo(at);
  const result = await intake(deskEnv, {
    channel: "slack",
    idempotencyKey: unique("Ev"),
    threadKeys: [unique("C0ACMESHARED")],
    from: { handle: "U0CUSTOMER" },
    text: "Webhooks are delayed",
    context: { slackTeamId: "T0ACME", slackChannel: "C0ACMESHARED" },
    receivedAt: at,
  });
  if (!result.ok) throw new Error(result.detail);
  return result.ticket;
}

function acknowledgement(ticket: Awaited<ReturnType<typeof getTicket>>): string | undefined {
  return ticket.messages.find((m) => m.kind === "system" && m.direction === "outbound")?.text;
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

// Friday 4 December 2026, 16:30 in Berlin (CET, UTC+1); Monday 7 December is a holiday.
const FRIDAY_1630 = Date.parse("2026-12-04T15:30:00Z");

describe.each([
  // The issue's example: 1.5 business hours on Friday, Monday closed, 2.5 on Tuesday.
  {
    close: "18:00",
    due: "2026-12-08T10:30:00.000Z",
    shown: "11:30",
    warning: "2026-12-08T09:30:00.000Z",
    overdue: "2026-12-08T14:30:00.000Z",
  },
  // SPEC §14's 09:00–17:30: 1 business hour on Friday, 3 on Tuesday.
  {
    close: "17:30",
    due: "2026-12-08T11:00:00.000Z",
    shown: "12:00",
    warning: "2026-12-08T10:00:00.000Z",
    overdue: "2026-12-08T15:00:00.000Z",
  },
])(
  "a 4 business-hour ticket opened Friday 16:30 Berlin, Monday a holiday (09:00–$close)",
  ({ close, due, shown, warning, overdue }) => {
    beforeEach(async () => {
      await useConfig(configWith(close));
    });

    it(`is due Tuesday ${shown} CET, says so, and fires warning, breach and 200 % at business-time fractions`, async () => {
      const out = fakeOutbound();
      const key = await enterpriseTicket(FRIDAY_1630);
      const opened = await getTicket(key);
      expect(opened.policy).toBe("enterprise-slack");
      expect(opened.responseDueAt).toBe(due);
      expect(acknowledgement(opened)).toBe(
        `Thanks — we have your request as ${key}. We will reply by Tue 8 Dec, ${shown} CET, within 4 business hours.`,
      );
      // The timer is armed at the warning: 75 % of the open time, not of the 90 hours on the wall.
      await flush(key);
      expect((await timer(key).status()).nextAlarm).toBe(Date.parse(warning));

      // A minute before the warning nothing has fired (the faked clock still ticks during the test).
      advanceTo(Date.parse(warning) - 60_000);
      await flush(key);
      expect(kinds(await getTicket(key))).toEqual([]);

      advanceTo(Date.parse(warning));
      await fireAlarm(key);
      await flush(key);
      expect(kinds(await getTicket(key))).toEqual(["warning"]);
      expect((await timer(key).status()).nextAlarm).toBe(Date.parse(due));

      advanceTo(Date.parse(due));
      await fireAlarm(key);
      await flush(key);
      const breached = await getTicket(key);
      expect(kinds(breached)).toEqual(["warning", "breach"]);
      expect(breached.breached).toBe(true);
      expect((await timer(key).status()).nextAlarm).toBe(Date.parse(overdue));

      advanceTo(Date.parse(overdue));
      await fireAlarm(key);
      await flush(key);
      expect(kinds(await getTicket(key))).toEqual(["warning", "breach", "page"]);
      // Each escalation records the business instant it was due at.
      const row = await env.DB.prepare(
        "select group_concat(kind || '@' || due_at, ',') as steps from (select kind, due_at from escalations where ticket_number = ? order by due_at)",
      )
        .bind(opened.number)
        .first<{ steps: string }>();
      expect(row?.steps).toBe(
        `warning@${Date.parse(warning)},breach@${Date.parse(due)},page@${Date.parse(overdue)}`,
      );
      expect(out.slack(key).length).toBeGreaterThan(0);
    });
  },
);

describe("business hours at intake", () => {
  beforeEach(async () => {
    await useConfig(configWith("17:30"));
  });

  it("a message outside hours starts counting at the next opening (Saturday → Monday 13:00)", async () => {
    fakeOutbound();
    const key = await enterpriseTicket(Date.parse("2026-12-12T10:00:00Z")); // Saturday 11:00 CET
    const ticket = await getTicket(key);
    expect(ticket.responseDueAt).toBe("2026-12-14T12:00:00.000Z"); // Monday 13:00 CET
    expect(acknowledgement(ticket)).toBe(
      `Thanks — we have your request as ${key}. We will reply by Mon 14 Dec, 13:00 CET, within 4 business hours.`,
    );
    await flush(key);
    expect((await timer(key).status()).nextAlarm).toBe(Date.parse("2026-12-14T11:00:00Z")); // 12:00 CET
  });

  it("SLA_TIME_SCALE divides the target, never the calendar: 4 business minutes from Friday 17:28", async () => {
    fakeOutbound();
    const scaled = { ...env, SLA_TIME_SCALE: "60" };
    const key = await enterpriseTicket(Date.parse("2026-12-04T16:28:00Z"), scaled);
    const ticket = await getTicket(key);
    // 2 minutes before Friday's close, Monday a holiday, 2 minutes on Tuesday.
    expect(ticket.responseDueAt).toBe("2026-12-08T08:02:00.000Z");
    expect(acknowledgement(ticket)).toContain("by Tue 8 Dec, 09:02 CET, within 4 business minutes");
    await flush(key);
    // 75 % = 3 business minutes: the last 2 on Friday and the first on Tuesday.
    expect((await timer(key).status()).nextAlarm).toBe(Date.parse("2026-12-08T08:01:00Z"));
  });

  it("Discord's same-day rule ends with the business day: 14:00 on Tuesday → Wednesday's close", async () => {
    fakeOutbound();
    await useConfig({
      ...configWith("17:30"),
      policies: { discord: { firstResponseSeconds: 86400, calendar: "eu" } },
    });
    const at = Date.parse("2026-12-01T13:00:00Z"); // Tuesday 14:00 CET: 3.5 business hours left today
    advanceTo(at);
    const result = await intake(env, {
      channel: "discord",
      idempotencyKey: unique("interaction"),
      threadKeys: [unique("discord-thread")],
      from: { handle: "community-member" },
      text: "The SDK throws on start",
      receivedAt: at,
    });
    if (!result.ok) throw new Error(result.detail);
    const ticket = await getTicket(result.ticket);
    expect(ticket.policy).toBe("discord");
    expect(ticket.responseDueAt).toBe("2026-12-02T16:30:00.000Z"); // Wednesday 17:30 CET
    expect(acknowledgement(ticket)).toBe(
      `Thanks — we have your request as ${result.ticket}. We will reply by the end of the business day (Wed 2 Dec, 17:30 CET).`,
    );
  });

  it("the queue orders by the business deadline and the metrics measure against it", async () => {
    fakeOutbound();
    // Opened Friday 16:30 (due Tuesday 12:00) and an around-the-clock email opened later (due Saturday).
    const business = await enterpriseTicket(FRIDAY_1630);
    const email = await intake(env, {
      channel: "api",
      idempotencyKey: unique("ext"),
      threadKeys: [unique("thr")],
      from: { email: "bob@example.org" },
      text: "hello",
      receivedAt: FRIDAY_1630 + 60_000,
    });
    if (!email.ok) throw new Error(email.detail);
    const queue = (await (await request("/v1/tickets?status=open&limit=100")).json()) as {
      tickets: { key: string; responseDueAt: string }[];
    };
    const order = queue.tickets.map((t) => t.key).filter((k) => k === business || k === email.ticket);
    // The email (due Saturday 16:31 CET) comes first; the business-hours ticket is due on Tuesday.
    expect(order).toEqual([email.ticket, business]);
  });

  it("re-timing on a priority change moves the clock from its start, off the calendar for critical", async () => {
    fakeOutbound();
    const key = await enterpriseTicket(FRIDAY_1630);
    advanceTo(FRIDAY_1630 + 10 * 60_000);
    const patched = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "critical" } });
    expect(patched.status).toBe(200);
    const ticket = await getTicket(key);
    expect(ticket.policy).toBe("critical");
    expect(ticket.responseDueAt).toBe(iso(FRIDAY_1630 + 3_600_000));
    await flush(key);
    // Around the clock again: warning at 75 % of the hour.
    const status = await timer(key).status();
    expect(status.clock?.stepsAt ?? null).toBeNull();
  });
});

describe("calendars in the routing document", () => {
  it("lists every problem: a bad zone, overlapping ranges, a bad date, an unknown calendar", async () => {
    const response = await request("/v1/config", {
      method: "PUT",
      json: {
        ...TEST_CONFIG,
        calendars: [
          {
            id: "eu",
            timezone: "Europe/Atlantis",
            week: {
              mon: [
                ["09:00", "17:30"],
                ["17:00", "18:00"],
              ],
              tue: [["9am", "5pm"]],
            },
            holidays: ["2026-13-01"],
          },
          { id: "never", timezone: "UTC", week: {} },
        ],
        policies: { "enterprise-slack": { firstResponseSeconds: 14400, calendar: "us" } },
      },
    });
    expect(response.status).toBe(400);
    const problems = ((await response.json()) as { issues: { message: string }[] }).issues.map(
      (i) => i.message,
    );
    const text = problems.join("\n");
    for (const problem of [
      "not an IANA time zone",
      "mon 09:00–17:30 and mon 17:00–18:00 overlap",
      "is not a range of HH:MM times",
      '"2026-13-01" is not an ISO date',
      "the calendar is never open",
      '"us" is not one of the calendars',
    ]) {
      expect(text).toContain(problem);
    }
  });
});

describe("a config change to a calendar re-times running clocks from their start", () => {
  it("moves deadline, ladder and timer of every running clock on the calendar, and nothing else", async () => {
    fakeOutbound();
    await useConfig(configWith("17:30"));
    const running = await enterpriseTicket(FRIDAY_1630);
    const answered = await enterpriseTicket(FRIDAY_1630 + 60_000);
    const reply = await request(`/v1/tickets/${answered}/replies`, {
      method: "POST",
      json: { text: "On it." },
    });
    expect(reply.status).toBe(201);
    await flush(running);
    expect((await getTicket(running)).responseDueAt).toBe("2026-12-08T11:00:00.000Z");

    // The desk now closes at 18:00: 1.5 business hours on Friday, so Tuesday 11:30.
    await useConfig(configWith("18:00"));
    await retimeClocks(env);
    await vi.waitFor(async () => expect(await countRows("clock_retimes")).toBe(0));
    await vi.waitFor(async () => expect(await countRows("timer_syncs")).toBe(0));
    const retimed = await getTicket(running);
    expect(retimed.responseDueAt).toBe("2026-12-08T10:30:00.000Z");
    const status = await timer(running).status();
    expect(status.clock).toMatchObject({
      dueAt: Date.parse("2026-12-08T10:30:00Z"),
      startedAt: FRIDAY_1630,
      stepsAt: { warning: Date.parse("2026-12-08T09:30:00Z"), overdue: Date.parse("2026-12-08T14:30:00Z") },
    });
    expect(status.nextAlarm).toBe(Date.parse("2026-12-08T09:30:00Z"));
    // The answered ticket owes nothing and is left alone.
    expect((await getTicket(answered)).responseDueAt).toBeNull();

    // The calendar dropped from the policy: around the clock from the same start (4 h → Friday 20:30).
    await useConfig({ ...TEST_CONFIG, policies: { "enterprise-slack": { firstResponseSeconds: 4 * 3600 } } });
    await retimeClocks(env);
    await vi.waitFor(async () => expect(await countRows("clock_retimes")).toBe(0));
    expect((await getTicket(running)).responseDueAt).toBe(iso(FRIDAY_1630 + 4 * 3_600_000));
    await vi.waitFor(async () => expect((await timer(running).status()).clock?.stepsAt ?? null).toBeNull());
  });

  it("costs a few statements per page of 200 clocks, one timer call per re-timed clock", {
    timeout: 60_000,
  }, async () => {
    fakeOutbound();
    await useConfig(configWith("17:30"));
    const keys: string[] = [];
    for (let i = 0; i < 30; i++) keys.push(await enterpriseTicket(FRIDAY_1630 + i * 60_000));
    // Stored the way PUT /v1/config stores it, without the request's own waitUntil run.
    const db = database(env.DB);
    const next = configSchema.parse(configWith("18:00"));
    await saveConfig(db, next, "alice", Date.now(), retimedPolicies(await loadConfig(db), next));
    const meter = newMeter();
    const run = await retimeClocks({ ...env, DB: meteredD1(env.DB, meter) });
    // Earlier tests' clocks on the calendar are re-timed too (the database is shared by the file).
    expect(run).toMatchObject({ unpaid: 0, finished: 1 });
    expect(run.retimed).toBeGreaterThanOrEqual(30);
    const plans: string[] = [];
    for (const st of meter.statements) {
      const r = await env.DB.prepare(`EXPLAIN QUERY PLAN ${st.sql}`)
        .bind(...st.params)
        .all<{ detail: string }>();
      plans.push(...r.results.map((x) => x.detail).filter((d) => /^SCAN (tickets|t)\b/.test(d)));
    }
    // Every step is an index or primary-key lookup: no statement reads all tickets of the policy.
    expect(plans).toEqual([]);
    // Per page: the job, the config, the page, one 4-statement batch, the debt deletes; then the end.
    expect(meter.statements.length).toBeLessThanOrEqual(12);
    // Measured: 307 rows read and 392 written for 30 clocks (~10 and ~13 per clock, index upkeep included).
    expect(meter.rowsRead).toBeLessThan(run.scanned * 15);
    expect(meter.rowsWritten).toBeLessThan(run.retimed * 15);
    for (const key of keys) {
      expect((await timer(key).status()).clock?.dueAt).toBe(
        Date.parse((await getTicket(key)).responseDueAt ?? ""),
      );
    }
  });
});

describe("the console on business hours", () => {
  it("says the countdown is paused outside hours, on the ticket page and in the queue", async () => {
    fakeOutbound();
    await useConfig(configWith("17:30"));
    const key = await enterpriseTicket(Date.parse("2026-12-12T10:00:00Z")); // Saturday 11:00 CET
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const page = await browser.get(`/tickets/${key}`);
    expect(page.response.status).toBe(200);
    // Monday 09:00 CET is 46 hours away.
    expect(page.html).toContain('data-paused-until="2026-12-14T08:00:00.000Z"');
    expect(page.html).toContain("paused outside business hours, resumes in 1d 22h");
    const queue = await browser.get("/queue?status=open");
    expect(queue.html).toContain("paused outside business hours, resumes in 1d 22h");

    advanceTo(Date.parse("2026-12-14T09:00:00Z")); // Monday 10:00 CET: counting
    const later = new ConsoleBrowser(); // the weekend outlived the session
    await later.signIn();
    const open = await later.get(`/tickets/${key}`);
    expect(open.html).not.toContain("data-paused-until");
    expect(open.html).toContain("due in 3h 0m");
  });
});
