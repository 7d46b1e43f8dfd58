import { createScheduledController } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { RECONCILE_GRACE_MS } from "../../src/timer/reconcile";
import slashCommand from "../fixtures/corpus/discord/application_command.slash.docs.json";
import issueOpened from "../fixtures/corpus/github/issues.opened.1.json";
import { postDiscord } from "./discord-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { onIssue, postGithub } from "./github-helpers";
import {
  advanceTo,
  fakeOutbound,
  fireAlarm,
  flush,
  HOUR,
  postMessage,
  timer,
  unique,
  useConfig,
} from "./helpers";
import { envelope, freshChannel, freshTs, plain, postEvent } from "./slack-fixtures";

/**
 * Issue 12, the crash test: 360 messages across five channels while the step from the store to
 * the ticket's timer fails at random (a fault proxy on the TicketTimer binding: 30 % of calls never
 * reach the object, 10 % reach it and lose their answer) and 10 % of D1 batches fail outright.
 * Senders retry what failed, as providers do. After one reconciler run every accepted message is
 * stored exactly once, every open ticket's timer holds its deadline, every breach is recorded once
 * when the alarms fire, and every acknowledgement went out exactly once.
 */

type Send = () => Promise<number>;

/** A deterministic pseudo-random stream, so a failure is reproducible from the seed. */
function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s / 0x7fffffff;
  };
}

/** Senders retry a 5xx (and a thrown handler: Email Routing's temporary failure), like providers. */
async function withRetries(send: Send, stats: { attempts: number; failed: number }): Promise<number> {
  for (let attempt = 1; attempt <= 8; attempt++) {
    stats.attempts++;
    let status: number;
    try {
      status = await send();
    } catch {
      status = 503;
    }
    if (status < 500) return status;
    stats.failed++;
  }
  return 599;
}

async function runConcurrently(sends: Send[], concurrency: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < sends.length) {
        const send = sends[next++] as Send;
        await send();
      }
    }),
  );
}

let discordId = 770_000_000_000_000_000n;

beforeAll(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("a burst while the store → timer step fails at random", () => {
  it("loses nothing, doubles nothing, misses no deadline", { timeout: 240_000 }, async () => {
    const out = fakeOutbound();
    const mailed: string[] = [];
    vi.spyOn(env.EMAIL, "send").mockImplementation(async (message) => {
      mailed.push(String((message as { to?: unknown }).to));
      return { messageId: "fake" } as unknown as EmailSendResult;
    });
    const tag = unique("crash");
    const stats = { attempts: 0, failed: 0 };
    const sends: Send[] = [];
    /** What each accepted message must leave behind. */
    const expected = {
      customerMessages: [] as string[],
      callbacks: [] as string[],
      slackThreads: [] as string[],
      githubIssues: [] as { repo: string; n: number }[],
      mails: [] as string[],
    };

    // api: 80 tickets with a callbackUrl, each with one follow-up in its thread.
    for (let t = 0; t < 80; t++) {
      const threadId = `${tag}-api-${t}`;
      const callbackUrl = `https://hooks.crash.test/${tag}/${t}`;
      expected.callbacks.push(callbackUrl);
      for (let m = 0; m < 2; m++) {
        const externalId = `${threadId}-${m}`;
        expected.customerMessages.push(`api:${externalId}`);
        sends.push(
          async () =>
            (await postMessage({ externalId, threadId, callbackUrl, subject: tag, text: `api ${t}.${m}` }))
              .response.status,
        );
      }
    }
    // email: 60 new mails.
    for (let t = 0; t < 60; t++) {
      const from = `c${t}-${tag}@crash.example`;
      const message = mail({ from, subject: `${tag} mail ${t}` });
      expected.customerMessages.push(`email:${message.messageId}`);
      expected.mails.push(from);
      sends.push(async () => ((await deliverEmail(message.raw, { from })).rejected === null ? 200 : 550));
    }
    // github: 50 issues.
    for (let t = 0; t < 50; t++) {
      const issue = onIssue(issueOpened, { repo: `crash/${tag.toLowerCase()}` });
      const delivery = crypto.randomUUID();
      expected.githubIssues.push({ repo: issue.repository.full_name, n: issue.issue.number });
      expected.customerMessages.push(`github:issue:${issue.issue.id}`);
      sends.push(async () => (await postGithub("issues", issue, { delivery })).status);
    }
    // slack: 60 top-level customer messages.
    for (let t = 0; t < 60; t++) {
      const channel = freshChannel();
      const ts = freshTs();
      expected.slackThreads.push(ts);
      expected.customerMessages.push(`slack:${channel}:${ts}`);
      const top = envelope(plain, {
        channel,
        ts,
        text: `${tag} slack ${t}`,
        thread_ts: undefined,
        team: "T0CUSTOMER",
        user_team: "T0CUSTOMER",
      });
      sends.push(async () => (await postEvent(top)).response.status);
    }
    // discord: 50 `/support text:` commands.
    for (let t = 0; t < 50; t++) {
      discordId += 1n;
      const command = {
        ...slashCommand,
        id: String(discordId),
        token: `crash-token-${t}`,
        data: {
          ...slashCommand.data,
          name: "support",
          options: [{ type: 3, name: "text", value: `${tag} ${t}` }],
        },
      };
      expected.customerMessages.push(`discord:${discordId}`);
      sends.push(async () => (await postDiscord(command)).status);
    }
    expect(sends.length).toBe(380);
    const storedBefore = await env.DB.prepare("select coalesce(max(number), 0) as n from tickets").first<{
      n: number;
    }>();

    // The faults.
    const roll = random(12);
    const timers = env.TICKET_TIMER;
    const realGet = timers.get.bind(timers);
    const faults = { unreachable: 0, answerLost: 0, d1: 0 };
    const timerFaults = vi.spyOn(timers, "get").mockImplementation((id) => {
      const real = realGet(id);
      const dice = roll();
      if (dice >= 0.4) return real;
      const sync = async (input: Parameters<typeof real.sync>[0]) => {
        if (dice < 0.1) {
          faults.answerLost++;
          await real.sync(input);
        } else faults.unreachable++;
        throw new Error("Durable Object reset because its code was updated");
      };
      return { sync } as unknown as typeof real;
    });
    const db = env.DB;
    const realBatch = db.batch.bind(db);
    const d1Faults = vi.spyOn(db, "batch").mockImplementation(async (statements) => {
      if (roll() < 0.1) {
        faults.d1++;
        throw new Error("D1_ERROR: Network connection lost.");
      }
      return realBatch(statements);
    });

    await runConcurrently(
      sends.map((send) => () => withRetries(send, stats)),
      12,
    );
    timerFaults.mockRestore();
    d1Faults.mockRestore();
    // Slack's inline path may still be finishing after its answer.
    await vi.waitFor(
      async () => {
        const n = await env.DB.prepare(
          "select count(*) as n from messages where kind = 'customer' and ticket_number > ?",
        )
          .bind(storedBefore?.n ?? 0)
          .first<{ n: number }>();
        expect(n?.n).toBe(expected.customerMessages.length);
      },
      { timeout: 30_000, interval: 200 },
    );
    console.log(
      `crash test: ${sends.length} messages, ${stats.attempts} attempts (${stats.failed} answered 5xx and retried); ` +
        `timer calls unreachable ${faults.unreachable}, answer lost ${faults.answerLost}; D1 batches failed ${faults.d1}`,
    );
    expect(faults.unreachable).toBeGreaterThan(20);
    expect(faults.answerLost).toBeGreaterThan(5);
    expect(faults.d1).toBeGreaterThan(5);

    const owed = await env.DB.prepare("select count(*) as n from timer_syncs").first<{ n: number }>();
    // One reconciler run.
    const scheduledTime = Date.now() + RECONCILE_GRACE_MS + 1_000;
    await worker.scheduled(createScheduledController({ scheduledTime, cron: "* * * * *" }), env);
    const left = await env.DB.prepare("select count(*) as n from timer_syncs").first<{ n: number }>();
    console.log(`crash test: ${owed?.n} timer debts before the reconciler run, ${left?.n} after`);
    expect(owed?.n).toBeGreaterThan(0);
    expect(left?.n).toBe(0);

    // Every accepted message is stored exactly once.
    const tickets = await env.DB.prepare(
      "select number, channel, response_due_at as due from tickets where number > ? order by number",
    )
      .bind(storedBefore?.n ?? 0)
      .all<{ number: number; channel: string; due: number | null }>();
    expect(tickets.results.length).toBe(80 + 60 + 50 + 60 + 50);
    const dupes = await env.DB.prepare(
      "select external_id, count(*) as n from messages where kind = 'customer' and ticket_number > ? group by external_id having n > 1",
    )
      .bind(storedBefore?.n ?? 0)
      .all();
    expect(dupes.results).toEqual([]);

    // Every open ticket's timer holds the deadline D1 has, and its owed calls have gone out.
    for (const t of tickets.results) {
      const key = `SUP-${t.number}`;
      await flush(key);
      expect((await timer(key).status()).clock?.dueAt ?? null, key).toBe(t.due);
    }
    const acks = (kind: string) => (url: string) =>
      out.calls.filter((c) => c.url === url && (c.body as { kind?: string }).kind === kind).length;
    expect(expected.callbacks.map(acks("acknowledgement"))).toEqual(expected.callbacks.map(() => 1));
    expect(expected.mails.map((to) => mailed.filter((m) => m === to).length)).toEqual(
      expected.mails.map(() => 1),
    );
    expect(
      expected.slackThreads.map(
        (ts) =>
          out.to("slack.fake").filter((c) => (c.body as { thread_ts?: string }).thread_ts === ts).length,
      ),
    ).toEqual(expected.slackThreads.map(() => 1));
    expect(
      expected.githubIssues.map(
        ({ repo, n }) =>
          out.to("github.fake").filter((c) => new URL(c.url).pathname === `/repos/${repo}/issues/${n}/labels`)
            .length,
      ),
    ).toEqual(expected.githubIssues.map(() => 1));

    // Two days on, every ticket's alarm fires: each breach is recorded exactly once.
    advanceTo(Date.now() + 49 * HOUR);
    for (const t of tickets.results) await fireAlarm(`SUP-${t.number}`);
    for (const t of tickets.results) await fireAlarm(`SUP-${t.number}`);
    const breaches = await env.DB.prepare(
      "select t.number, (select count(*) from escalations e where e.ticket_number = t.number and e.kind = 'breach') as n from tickets t where t.number > ?",
    )
      .bind(storedBefore?.n ?? 0)
      .all<{ number: number; n: number }>();
    expect(breaches.results.filter((b) => b.n !== 1)).toEqual([]);
  });
});
