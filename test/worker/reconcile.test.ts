import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { meteredD1, newMeter } from "../../src/store/metered";
import { RECONCILE_GRACE_MS, reconcileTimers } from "../../src/timer/reconcile";
import slashCommand from "../fixtures/corpus/discord/application_command.slash.docs.json";
import labeled1 from "../fixtures/corpus/github/issues.labeled.1.json";
import issueOpened from "../fixtures/corpus/github/issues.opened.1.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
import { postDiscord } from "./discord-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { edit, onIssue, postGithub } from "./github-helpers";
import { fakeOutbound, flush, getTicket, postMessage, request, timer, unique, useConfig } from "./helpers";
import { envelope, freshChannel, freshTs, plain, postEvent } from "./slack-fixtures";

/**
 * SPEC §3/§5, issue 12: a write that owes its ticket's timer something records that debt in its
 * own D1 batch (`timer_syncs`). When the timer call fails after the commit, the write still
 * answers as stored, and the next reconciler run brings the timer in line, sending every owed
 * call exactly once — also when the first call reached the timer and only its answer was lost.
 */

type Outbound = ReturnType<typeof fakeOutbound>;
type Mode = "unreachable" | "answer lost";

/** Every ticket timer call from the Worker fails: before reaching the object, or after it ran. */
function breakTimers(mode: Mode) {
  const namespace = env.TICKET_TIMER;
  const original = namespace.get.bind(namespace);
  return vi.spyOn(namespace, "get").mockImplementation((id) => {
    const real = original(id);
    const sync = async (input: Parameters<typeof real.sync>[0]) => {
      if (mode === "answer lost") await real.sync(input);
      throw new Error("Durable Object reset because its code was updated");
    };
    return { sync } as unknown as ReturnType<typeof original>;
  });
}

/** The every-minute cron, late enough that every debt is past its grace period. */
async function reconcile(): Promise<void> {
  const scheduledTime = Date.now() + RECONCILE_GRACE_MS + 1_000;
  await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env);
}

async function debts(key: string): Promise<number> {
  const row = await env.DB.prepare("select count(*) as n from timer_syncs where ticket_number = ?")
    .bind(Number(key.replace("SUP-", "")))
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** The timer holds exactly the deadline D1 has (or none when no reply is owed). */
async function timerMatchesD1(key: string): Promise<void> {
  const ticket = await getTicket(key);
  const status = await timer(key).status();
  expect(status.clock?.dueAt ?? null).toBe(
    ticket.responseDueAt === null ? null : Date.parse(ticket.responseDueAt),
  );
}

function callbackCalls(out: Outbound, url: string, kind: string) {
  return out.calls.filter((c) => c.url === url && (c.body as { kind?: string }).kind === kind).length;
}

function githubCalls(out: Outbound, repo: string, suffix: string) {
  return out
    .to("github.fake")
    .filter((c) => new URL(c.url).pathname === `/repos/${repo}${suffix}` && c.method === "POST").length;
}

async function apiTicket(callbackUrl: string): Promise<string> {
  const { response, body } = await postMessage({ callbackUrl, text: "Our exports fail" });
  expect(response.status).toBe(202);
  return body.ticket as string;
}

async function githubTicket() {
  const issue = onIssue(issueOpened, { repo: `fault/${unique("r").toLowerCase()}` });
  const opened = await postGithub("issues", issue);
  expect(opened.status).toBe(202);
  return {
    issue,
    key: opened.body.ticket as string,
    repo: issue.repository.full_name,
    n: issue.issue.number,
  };
}

interface Path {
  name: string;
  /** Healthy setup, then the write whose timer call fails. Returns the ticket and the owed-call counter. */
  run(
    out: Outbound,
    fail: () => void,
  ): Promise<{ key: string; status: number; owed: () => number | Promise<number> }>;
  /** How many owed calls the write makes, once. */
  expected: number;
}

let discordId = 880_000_000_000_000_000n;

const PATHS: Path[] = [
  {
    name: "new api ticket (acknowledgement to the callbackUrl)",
    expected: 1,
    async run(out, fail) {
      const url = `https://hooks.fault.test/${unique("cb")}`;
      fail();
      const { response, body } = await postMessage({ callbackUrl: url, text: "Exports fail" });
      return {
        key: body.ticket as string,
        status: response.status,
        owed: () => callbackCalls(out, url, "acknowledgement"),
      };
    },
  },
  {
    name: "new email ticket (acknowledgement mail)",
    expected: 1,
    async run(_out, fail) {
      // The send_email binding, faked at its boundary: each mail handed to it is one sent.
      const sent: string[] = [];
      vi.spyOn(env.EMAIL, "send").mockImplementation(async (message) => {
        sent.push(String((message as { to?: unknown }).to));
        return { messageId: "fake" } as unknown as EmailSendResult;
      });
      const from = `${unique("c")}@fault.example`;
      const message = mail({ from, subject: "Exports fail" });
      fail();
      const delivered = await deliverEmail(message.raw, { from });
      const row = await env.DB.prepare(
        "select ticket_number as n from messages where external_id = ? and kind = 'customer'",
      )
        .bind(message.messageId)
        .first<{ n: number }>();
      return {
        key: `SUP-${row?.n}`,
        status: delivered.rejected === null && row !== null ? 202 : 500,
        owed: () => sent.filter((to) => to === from).length,
      };
    },
  },
  {
    name: "new Slack ticket (acknowledgement in its thread)",
    expected: 1,
    async run(out, fail) {
      const channel = freshChannel();
      const ts = freshTs();
      fail();
      const { response, json } = await postEvent(
        envelope(plain, { channel, ts, thread_ts: undefined, team: "T0CUSTOMER", user_team: "T0CUSTOMER" }),
      );
      return {
        key: json.ticket as string,
        status: response.status,
        owed: () =>
          out
            .to("slack.fake")
            .filter((c) => (c.body as { channel?: string; thread_ts?: string }).thread_ts === ts).length,
      };
    },
  },
  {
    name: "new GitHub ticket (support label, owed with the ticket)",
    expected: 1,
    async run(out, fail) {
      const issue = onIssue(issueOpened, { repo: `fault/${unique("r").toLowerCase()}` });
      fail();
      const opened = await postGithub("issues", issue);
      return {
        key: opened.body.ticket as string,
        status: opened.status,
        owed: () => githubCalls(out, issue.repository.full_name, `/issues/${issue.issue.number}/labels`),
      };
    },
  },
  {
    name: "new Discord ticket (clock only: the answer was the interaction response)",
    expected: 0,
    async run(out, fail) {
      discordId += 1n;
      const command = {
        ...slashCommand,
        id: String(discordId),
        token: `fault-token-${discordId}`,
        data: {
          ...slashCommand.data,
          name: "support",
          options: [{ type: 3, name: "text", value: "Bot down" }],
        },
      };
      fail();
      const answer = await postDiscord(command);
      const content = String((answer.body.data as { content?: string } | undefined)?.content ?? "");
      const key = /SUP-\d+/.exec(content)?.[0] ?? "SUP-0";
      return { key, status: answer.status, owed: () => out.to("discord.fake").length };
    },
  },
  {
    name: "customer message on a pending ticket (a new clock)",
    expected: 1,
    async run(out, fail) {
      const url = `https://hooks.fault.test/${unique("cb")}`;
      const threadId = unique("thread");
      const first = await postMessage({ callbackUrl: url, threadId, text: "Exports fail" });
      const key = first.body.ticket as string;
      await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Looking" } });
      await flush(key);
      fail();
      const again = await postMessage({ threadId, text: "Still failing" });
      // Owed: nothing new to send, but the timer must hold the new clock; the reply counts as sent once.
      return { key, status: again.response.status, owed: () => callbackCalls(out, url, "reply") };
    },
  },
  {
    name: "agent reply (to the callbackUrl)",
    expected: 1,
    async run(out, fail) {
      const url = `https://hooks.fault.test/${unique("cb")}`;
      const key = await apiTicket(url);
      await flush(key);
      fail();
      const reply = await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed" } });
      return { key, status: reply.status, owed: () => callbackCalls(out, url, "reply") };
    },
  },
  {
    name: "resolve (the survey)",
    expected: 1,
    async run(out, fail) {
      const url = `https://hooks.fault.test/${unique("cb")}`;
      const key = await apiTicket(url);
      await flush(key);
      fail();
      const resolved = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } });
      return { key, status: resolved.status, owed: () => callbackCalls(out, url, "survey") };
    },
  },
  {
    name: "reassign (the new team is told)",
    expected: 1,
    async run(out, fail) {
      const key = await apiTicket(`https://hooks.fault.test/${unique("cb")}`);
      await flush(key);
      fail();
      const patched = await request(`/v1/tickets/${key}`, { method: "PATCH", json: { team: "billing" } });
      return {
        key,
        status: patched.status,
        owed: () =>
          out.slack(key).filter((b) => b.channel === "C0BILLING" && String(b.text).includes("was handed to"))
            .length,
      };
    },
  },
  {
    name: "incident (PagerDuty is paged)",
    expected: 1,
    async run(out, fail) {
      const key = await apiTicket(`https://hooks.fault.test/${unique("cb")}`);
      await flush(key);
      fail();
      const paged = await request(`/v1/tickets/${key}/escalations`, {
        method: "POST",
        json: { to: "incident" },
      });
      return {
        key,
        status: paged.status,
        owed: () => out.pagerDuty(key).filter((e) => e.event_action === "trigger").length,
      };
    },
  },
  {
    name: "GitHub issues.closed (resolved: the survey comment)",
    expected: 1,
    async run(out, fail) {
      const { issue, key, repo, n } = await githubTicket();
      await flush(key);
      const closed = edit(reopened1, (p) => {
        p.action = "closed";
        p.issue.state = "closed";
      });
      fail();
      const result = await postGithub(
        "issues",
        onIssue(closed, { repo, number: n, issueId: issue.issue.id }),
      );
      return {
        key,
        status: result.status,
        owed: () =>
          out
            .to("github.fake")
            .filter(
              (c) =>
                new URL(c.url).pathname === `/repos/${repo}/issues/${n}/comments` &&
                String((c.body as { body?: string }).body).includes("/survey/"),
            ).length,
      };
    },
  },
  {
    name: "GitHub critical label (re-timed to 1 h; on-call paged)",
    expected: 1,
    async run(out, fail) {
      const { issue, key, repo, n } = await githubTicket();
      await flush(key);
      const label = edit(labeled1, (p) => {
        if (p.label !== undefined) p.label.name = "critical";
      });
      fail();
      const result = await postGithub("issues", onIssue(label, { repo, number: n, issueId: issue.issue.id }));
      return {
        key,
        status: result.status,
        owed: () => out.pagerDuty(key).filter((e) => e.event_action === "trigger").length,
      };
    },
  },
];

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe.each(["unreachable", "answer lost"] as const)(
  "the timer call fails after the commit (%s)",
  (mode) => {
    it.each(PATHS)(
      "$name: stored, answered, repaired by the next reconciler run, sent once",
      async (path) => {
        const out = fakeOutbound();
        let broken: ReturnType<typeof breakTimers> | undefined;
        const { key, status, owed } = await path.run(out, () => {
          broken = breakTimers(mode);
        });
        broken?.mockRestore();
        // The write is stored and says so: its debt is recorded for the reconciler.
        expect(status).toBeGreaterThanOrEqual(200);
        expect(status).toBeLessThan(300);
        expect(key).toMatch(/^SUP-\d+$/);
        expect(await debts(key)).toBeGreaterThan(0);

        await reconcile();
        expect(await debts(key)).toBe(0);
        await flush(key);
        await timerMatchesD1(key);
        expect(await owed()).toBe(path.expected);

        // A second run finds nothing to do and sends nothing again.
        await reconcile();
        await flush(key);
        expect(await owed()).toBe(path.expected);
      },
    );
  },
);

describe("what the reconciler costs", () => {
  async function meteredRun(now: number) {
    const meter = newMeter();
    const run = await reconcileTimers(
      { DB: meteredD1(env.DB, meter), TICKET_TIMER: env.TICKET_TIMER },
      { olderThan: now },
    );
    return { run, meter };
  }

  it("reads at most one index entry when nothing is behind, through the created_at index", async () => {
    await reconcile();
    const { run, meter } = await meteredRun(Date.now() + RECONCILE_GRACE_MS);
    expect(run.paid).toBe(0);
    // O(1) in the number of tickets: one index seek that finds nothing older than the cut-off.
    expect(meter.rowsRead).toBeLessThanOrEqual(1);
    expect(meter.statements).toHaveLength(1);
    const statement = meter.statements[0];
    if (statement === undefined) throw new Error("no statement");
    const plan = await env.DB.prepare(`EXPLAIN QUERY PLAN ${statement.sql}`)
      .bind(...statement.params)
      .all<{ detail: string }>();
    const details = plan.results.map((r) => r.detail).join(" | ");
    console.log(`reconciler, nothing behind: ${meter.rowsRead} rows read; plan: ${details}`);
    expect(details).toMatch(/USING (COVERING )?INDEX timer_syncs_created/);
    expect(details).not.toMatch(/SCAN timer_syncs(?! USING)/);
  });

  it("pays 100 tickets behind in one run, reading a handful of rows per debt", {
    timeout: 60_000,
  }, async () => {
    fakeOutbound();
    await reconcile();
    const broken = breakTimers("unreachable");
    const keys: string[] = [];
    for (let i = 0; i < 100; i++) {
      const { body } = await postMessage({ text: `behind ${i}` });
      keys.push(body.ticket as string);
    }
    broken.mockRestore();
    const { run, meter } = await meteredRun(Date.now() + RECONCILE_GRACE_MS);
    console.log(
      `reconciler, 100 behind: paid ${run.paid}, ${meter.rowsRead} rows read, ${meter.rowsWritten} written, ${meter.statements.length} statements`,
    );
    expect(run.paid).toBe(100);
    expect(run.tickets).toHaveLength(100);
    // Per round of 50: the debts (index), their tickets (rowid), the delete of what was paid.
    expect(meter.rowsRead).toBeLessThanOrEqual(600);
    for (const key of keys.slice(0, 5)) await timerMatchesD1(key);
    expect(await Promise.all(keys.map(debts))).toEqual(keys.map(() => 0));
  });
});
