import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { configSchema } from "../../src/domain/config";
import { retimedPolicies } from "../../src/domain/sla";
import { app } from "../../src/http/app";
import { linearSignature } from "../../src/integrations/linear/verify";
import { loadConfig, saveConfig } from "../../src/store/config";
import { database } from "../../src/store/db";
import { topRootCauses } from "../../src/store/improvements";
import { type Meter, meteredD1, newMeter } from "../../src/store/metered";
import { retimeClocks } from "../../src/timer/retime";
import { deliverEmail, mail } from "./email-helpers";
import { fakeOutbound, postMessage, TEST_CONFIG, TOKEN, unique, useConfig } from "./helpers";
import { fakeIssue, issueUpdate, linearApi, STATES } from "./linear-helpers";

afterEach(() => {
  vi.restoreAllMocks();
});

let key = "";
let threadId = "";
let externalId = "";

beforeAll(async () => {
  await useConfig();
  threadId = unique("thread");
  externalId = unique("ext");
  // Enough tickets that the planner has real statistics to choose from.
  for (let i = 0; i < 30; i++)
    await postMessage({ subject: `seed ${i} latency`, priority: i % 3 === 0 ? "high" : undefined });
  key = (await postMessage({ threadId, externalId, subject: "plan me" })).body.ticket as string;
  await env.DB.exec("ANALYZE");
});

/** Run one request through the real app with a D1 that records what it executes. */
async function recorded(
  path: string,
  init: RequestInit & { json?: unknown; noAuth?: boolean } = {},
): Promise<Meter> {
  const meter = newMeter();
  const headers = new Headers(init.headers);
  if (init.noAuth !== true) headers.set("authorization", `Bearer ${TOKEN}`);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("content-type", "application/json");
    body = JSON.stringify(init.json);
  }
  const response = await app.request(
    `https://desk.test${path}`,
    { ...init, headers, body },
    { ...env, DB: meteredD1(env.DB, meter) },
    // Webhook endpoints hand their work a `waitUntil`.
    { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
  );
  expect(response.status, `${init.method ?? "GET"} ${path}`).toBeLessThan(300);
  return meter;
}

async function plan(sql: string, params: unknown[]): Promise<string[]> {
  const result = await env.DB.prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .bind(...params)
    .all<{ detail: string }>();
  return result.results.map((r) => r.detail);
}

/** A plan step that reads all of tickets or messages without an index, or sorts a queue page. */
function fullScans(details: string[], sql: string): string[] {
  const queue = /from "tickets"/.test(sql) && /order by "tickets"\."queue_due_at"/.test(sql);
  return details.filter(
    (d) =>
      (/^SCAN (tickets|messages)\b/.test(d) && !/USING (COVERING )?INDEX/.test(d)) ||
      (queue && /TEMP B-TREE/.test(d)),
  );
}

async function assertIndexed(meter: Meter): Promise<void> {
  expect(meter.statements.length).toBeGreaterThan(0);
  for (const { sql, params } of meter.statements) {
    if (!/^\s*(select|with|update|delete|insert)/i.test(sql)) continue;
    const details = await plan(sql, params);
    expect(fullScans(details, sql), `${sql}\n${details.join("\n")}`).toEqual([]);
  }
}

describe("every hot query is served by an index", () => {
  it.each([
    [
      "a new ticket",
      () => ({ method: "POST", json: { externalId: unique("ext"), from: { name: "A" }, text: "new one" } }),
    ],
    [
      "a threaded message",
      () => ({
        method: "POST",
        json: { externalId: unique("ext"), threadId, from: { name: "A" }, text: "again" },
      }),
    ],
    [
      "a replay",
      () => ({ method: "POST", json: { externalId, threadId, from: { name: "A" }, text: "again" } }),
    ],
  ])("intake: %s", async (_name, init) => {
    fakeOutbound();
    await assertIndexed(await recorded("/v1/messages", init()));
  });

  it.each([
    "",
    "?status=open",
    "?status=pending",
    "?status=all",
    "?team=support",
    "?channel=api",
    "?assignee=alice",
    "?priority=high",
    "?breached=true",
    "?q=latency",
    "?team=platform&status=open&limit=5",
    "?channel=github&status=resolved&limit=5",
  ])("the queue: GET /v1/tickets%s", async (query) => {
    const first = await recorded(`/v1/tickets${query}`);
    await assertIndexed(first);
  });

  it("the queue's next page (keyset cursor)", async () => {
    const response = await app.request(
      "https://desk.test/v1/tickets?limit=3",
      { headers: { authorization: `Bearer ${TOKEN}` } },
      env,
    );
    const { nextCursor } = (await response.json()) as { nextCursor: string };
    await assertIndexed(await recorded(`/v1/tickets?limit=3&cursor=${nextCursor}`));
  });

  it("one ticket, a reply, a change", async () => {
    fakeOutbound();
    await assertIndexed(await recorded(`/v1/tickets/${key}`));
    await assertIndexed(
      await recorded(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "hi" } }),
    );
    await assertIndexed(
      await recorded(`/v1/tickets/${key}/replies`, {
        method: "POST",
        json: { text: "update soon", nextUpdateBy: "PT4H" },
      }),
    );
    await assertIndexed(
      await recorded(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "high", team: "platform" } }),
    );
    await assertIndexed(
      await recorded(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } }),
    );
  });

  it("metrics percentiles walk the duration indexes instead of sorting", async () => {
    // Answered and resolved tickets, so there are durations to rank (the window holds the whole desk).
    for (let i = 0; i < 3; i++) {
      const ticket = (await postMessage({ subject: `timed ${i}` })).body.ticket as string;
      await recorded(`/v1/tickets/${ticket}/replies`, { method: "POST", json: { text: "answer" } });
      await recorded(`/v1/tickets/${ticket}`, { method: "PATCH", json: { status: "resolved" } });
    }
    const meter = await recorded("/v1/metrics");
    const walks = meter.statements.filter((s) => /indexed by tickets_/.test(s.sql));
    expect(walks.length).toBeGreaterThan(0);
    for (const { sql, params } of walks) {
      const details = await plan(sql, params);
      expect(details.join("\n"), sql).toMatch(
        /USING (COVERING )?INDEX tickets_(first_response|resolution)_rank/,
      );
      expect(details.join("\n"), sql).not.toMatch(/TEMP B-TREE/);
    }
    await assertIndexed(meter);
  });

  it("metrics, search and quarantine", async () => {
    await assertIndexed(await recorded("/v1/metrics"));
    await assertIndexed(await recorded("/v1/metrics?team=support&channel=api"));
    // The weekly trend (SPEC §15): each week's window on tickets_created.
    await assertIndexed(await recorded("/v1/metrics/trend?weeks=12"));
    await assertIndexed(await recorded("/v1/metrics/trend?weeks=4&channel=email"));
    await assertIndexed(await recorded("/v1/search?q=latency", { noAuth: true }));
    await assertIndexed(await recorded("/v1/quality", { noAuth: true }));
    await assertIndexed(await recorded("/v1/quarantine"));
  });

  it("metrics from metrics_days: whole days by its primary key, partial days and bucket walks on ticket indexes", async () => {
    // Filtered queries rank: the window's histograms, then walks inside one bucket each.
    fakeOutbound();
    for (let i = 0; i < 3; i++) {
      const ticket = (await postMessage({ subject: `bucketed ${i}` })).body.ticket as string;
      await recorded(`/v1/tickets/${ticket}/replies`, { method: "POST", json: { text: "answer" } });
      await recorded(`/v1/tickets/${ticket}`, { method: "PATCH", json: { status: "resolved" } });
    }
    const day = 86_400_000;
    const from = new Date(Math.floor(Date.now() / day) * day - 2 * day + 5 * 3_600_000).toISOString();
    const to = new Date(Date.now() + 1000).toISOString();
    const meter = newMeter();
    for (const path of [
      "/v1/metrics?team=support",
      `/v1/metrics?channel=api&from=${from}&to=${to}`,
      `/v1/metrics?team=platform&channel=api&from=${from}&to=${to}`,
    ]) {
      meter.statements.push(...(await recorded(path)).statements);
    }
    const quality = await recorded("/v1/quality", { noAuth: true });
    meter.statements.push(...quality.statements);
    const walks = meter.statements.filter((s) => /indexed by tickets_/.test(s.sql));
    expect(walks.length).toBeGreaterThan(0);
    expect(meter.statements.some((s) => /from metrics_days m/.test(s.sql))).toBe(true);
    for (const { sql, params } of meter.statements) {
      if (!/^\s*(select|with)/i.test(sql)) continue;
      const details = await plan(sql, params);
      const text = `${sql}\n${details.join("\n")}`;
      // Neither table is ever read whole (aliases included: t is tickets, m is metrics_days).
      expect(
        details.filter(
          (d) => /^SCAN (t|m|tickets|metrics_days)\b/.test(d) && !/USING (COVERING )?INDEX/.test(d),
        ),
        text,
      ).toEqual([]);
      if (/from metrics_days m/.test(sql))
        expect(details.join("\n"), text).toMatch(/SEARCH m USING PRIMARY KEY \(day>\? AND day<\?\)/);
      if (/indexed by tickets_/.test(sql)) {
        expect(details.join("\n"), text).toMatch(
          /USING (COVERING )?INDEX tickets_(first_response|resolution)_rank/,
        );
        expect(details.join("\n"), text).not.toMatch(/TEMP B-TREE/);
      }
      if (/from tickets t where t\.created_at >=/.test(sql))
        expect(details.join("\n"), text).toMatch(
          /USING (COVERING )?INDEX tickets_created \(created_at>\? AND created_at<\?\)/,
        );
    }
  });

  it("the engineering loop: linking a Linear issue, its completion, the top root causes", async () => {
    const issue = fakeIssue();
    const linear = linearApi([issue]);
    fakeOutbound(async (call) =>
      call.host === "linear.fake" ? linear.answer(call.body) : Response.json({ ok: true }),
    );
    const meter = newMeter();
    const run = async (path: string, init: RequestInit & { json?: unknown }) => {
      const m = await recorded(path, init);
      meter.statements.push(...m.statements);
    };
    await run(`/v1/tickets/${key}/improvements`, { method: "POST", json: { linear: issue.identifier } });
    const body = JSON.stringify(issueUpdate(issue, STATES.completed));
    await run("/webhooks/linear", {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "linear-delivery": unique("delivery"),
        "linear-signature": await linearSignature(env.LINEAR_WEBHOOK_SECRET, body),
      },
    });
    const causes = newMeter();
    const found = await topRootCauses(database(meteredD1(env.DB, causes)), {
      from: 0,
      to: Date.now() + 1,
      limit: 10,
    });
    expect(found.some((c) => c.ref === issue.identifier && c.state === "shipped")).toBe(true);
    meter.statements.push(...causes.statements);
    await assertIndexed(meter);
    // And the improvements table is read through its indexes, never scanned.
    for (const { sql, params } of meter.statements) {
      if (!/improvements/.test(sql) || !/^\s*(select|with|update)/i.test(sql)) continue;
      const details = await plan(sql, params);
      expect(
        details.filter((d) => /^SCAN (i|improvements)\b/.test(d) && !/USING (COVERING )?INDEX/.test(d)),
        `${sql}\n${details.join("\n")}`,
      ).toEqual([]);
    }
  });

  it("opening a ticket from quarantined mail", async () => {
    fakeOutbound();
    const bounce = mail({ from: "MAILER-DAEMON@mx.example.org", subject: "Undelivered" });
    await deliverEmail(bounce.raw, { from: "" });
    const row = await env.DB.prepare("select id from quarantine where external_id = ?")
      .bind(bounce.messageId)
      .first<{ id: string }>();
    const path = `/v1/quarantine/${row?.id}/promote`;
    await assertIndexed(await recorded(path, { method: "POST" }));
    await assertIndexed(await recorded(path, { method: "POST" }));
  });

  it("email intake (threading by Message-ID, reference and subject token)", async () => {
    fakeOutbound();
    const meter = newMeter();
    const first = mail({ subject: "plan mail" });
    await deliverEmailWith(first.raw, meter);
    await deliverEmailWith(
      mail({ inReplyTo: first.messageId, references: ["a@b", first.messageId] }).raw,
      meter,
    );
    await deliverEmailWith(mail({ subject: `Re: [${key}]` }).raw, meter);
    await assertIndexed(meter);
  });

  it("re-timing running clocks after a calendar change (SPEC §14)", async () => {
    fakeOutbound();
    const week = { mon: [["09:00", "17:00"]], tue: [["09:00", "17:00"]], wed: [["09:00", "17:00"]] };
    const config = {
      ...TEST_CONFIG,
      calendars: [{ id: "eu", timezone: "Europe/Berlin", week, holidays: [] }],
      policies: { api: { firstResponseSeconds: 86400, calendar: "eu" } },
    };
    const db = database(env.DB);
    const parsed = configSchema.parse(config);
    // Stored as PUT /v1/config stores it, and re-timed here through a recording D1.
    await saveConfig(db, parsed, "alice", Date.now(), retimedPolicies(await loadConfig(db), parsed));
    const meter = newMeter();
    const run = await retimeClocks({ ...env, DB: meteredD1(env.DB, meter) });
    expect(run.retimed).toBeGreaterThan(0);
    await assertIndexed(meter);
    await useConfig();
  });
});

async function deliverEmailWith(raw: string, meter: Meter): Promise<void> {
  const { handleEmail } = await import("../../src/channels/email/handler");
  const bytes = new TextEncoder().encode(raw);
  await handleEmail(
    {
      from: "a@example.org",
      to: "support@example.com",
      raw: new Response(bytes).body,
      rawSize: bytes.byteLength,
      headers: new Headers(),
      setReject: () => {},
    } as unknown as ForwardableEmailMessage,
    { ...env, DB: meteredD1(env.DB, meter) },
  );
}
