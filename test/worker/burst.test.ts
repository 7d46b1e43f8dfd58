import { env } from "cloudflare:workers";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import slashCommand from "../fixtures/corpus/discord/application_command.slash.docs.json";
import openedPayload from "../fixtures/corpus/github/issue_comment.created.3.json";
import issueOpened from "../fixtures/corpus/github/issues.opened.1.json";
import { postDiscord } from "./discord-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { edit, onIssue, postGithub } from "./github-helpers";
import { fakeOutbound, request, unique, useConfig } from "./helpers";
import { envelope, freshChannel, freshTs, plain, postEvent } from "./slack-fixtures";

/**
 * SPEC §3: no message is ever lost or duplicated. 2,000 inbound events across all five channels,
 * a fifth of them replays of events already sent, delivered concurrently: exactly the expected
 * tickets and messages come out.
 */

type Send = () => Promise<number>;

const CONCURRENCY = 48;

async function runConcurrently(sends: Send[]): Promise<number[]> {
  const statuses: number[] = new Array(sends.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < sends.length) {
        const i = next++;
        statuses[i] = await (sends[i] as Send)();
      }
    }),
  );
  return statuses;
}

function shuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

let discordId = 990_000_000_000_000_000n;

beforeAll(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("a burst of 2,000 mixed events, 20 % replays", () => {
  it("stores exactly the expected tickets and messages", { timeout: 180_000 }, async () => {
    fakeOutbound();
    const tag = unique("burst");
    const openers: Send[] = [];
    const followUps: Send[] = [];
    const expected = { tickets: 0, messages: 0 };

    // api: 160 threads of 3 messages.
    for (let t = 0; t < 160; t++) {
      const threadId = `${tag}-api-${t}`;
      for (let m = 0; m < 3; m++) {
        const body = {
          externalId: `${threadId}-${m}`,
          threadId,
          from: { name: "Burst" },
          subject: tag,
          text: `api ${t}.${m}`,
        };
        (m === 0 ? openers : followUps).push(
          async () => (await request("/v1/messages", { method: "POST", json: body })).status,
        );
      }
      expected.tickets += 1;
      expected.messages += 3;
    }
    // email: 160 new mails, each answered once by In-Reply-To.
    for (let t = 0; t < 160; t++) {
      const first = mail({ from: `c${t}@burst.example`, subject: `${tag} mail ${t}` });
      const reply = mail({
        from: `c${t}@burst.example`,
        subject: `Re: ${tag} mail ${t}`,
        inReplyTo: first.messageId,
      });
      openers.push(async () => ((await deliverEmail(first.raw)).rejected === null ? 200 : 550));
      followUps.push(async () => ((await deliverEmail(reply.raw)).rejected === null ? 200 : 550));
      expected.tickets += 1;
      expected.messages += 2;
    }
    // github: 80 issues with 3 outside comments each.
    for (let t = 0; t < 80; t++) {
      const issue = onIssue(issueOpened, { repo: `burst/${tag.toLowerCase()}` });
      const opened = crypto.randomUUID();
      // A replay is GitHub's redelivery: the same X-GitHub-Delivery.
      openers.push(async () => (await postGithub("issues", issue, { delivery: opened })).status);
      for (let c = 0; c < 3; c++) {
        const comment = edit(
          onIssue(openedPayload, {
            repo: issue.repository.full_name,
            number: issue.issue.number,
            issueId: issue.issue.id,
          }),
          (p) => {
            p.comment.id = 70_000_000 + t * 10 + c;
            p.comment.author_association = "NONE";
            p.comment.body = `comment ${t}.${c}`;
            p.comment.user.type = "User";
            p.sender.type = "User";
          },
        );
        const delivery = crypto.randomUUID();
        followUps.push(async () => (await postGithub("issue_comment", comment, { delivery })).status);
      }
      expected.tickets += 1;
      expected.messages += 4;
    }
    // slack: 160 top-level customer messages, each with one reply in its thread.
    for (let t = 0; t < 160; t++) {
      const channel = freshChannel();
      const ts = freshTs();
      const top = envelope(plain, {
        channel,
        ts,
        text: `slack ${t}`,
        thread_ts: undefined,
        team: "T0CUSTOMER",
        user_team: "T0CUSTOMER",
      });
      const reply = envelope(plain, {
        channel,
        ts: freshTs(),
        thread_ts: ts,
        text: `slack ${t} again`,
        team: "T0CUSTOMER",
        user_team: "T0CUSTOMER",
      });
      openers.push(async () => (await postEvent(top)).response.status);
      followUps.push(async () => (await postEvent(reply)).response.status);
      expected.tickets += 1;
      expected.messages += 2;
    }
    // discord: 160 `/support text:` commands, each a ticket of its own.
    for (let t = 0; t < 160; t++) {
      discordId += 1n;
      const command = {
        ...slashCommand,
        id: String(discordId),
        token: `burst-token-${t}`,
        data: {
          ...slashCommand.data,
          name: "support",
          options: [{ type: 3, name: "text", value: `${tag} discord ${t}` }],
        },
      };
      openers.push(async () => (await postDiscord(command)).status);
      expected.tickets += 1;
      expected.messages += 1;
    }
    const originals = openers.length + followUps.length;
    expect(originals).toBe(1600);

    // 400 replays: Slack retries, GitHub redeliveries, repeated mail, repeated externalIds.
    const replays = shuffle([...openers, ...followUps], 7).slice(0, 400);
    const before = await Promise.all([
      env.DB.prepare("select count(*) as n from tickets").first<{ n: number }>(),
      env.DB.prepare("select count(*) as n from messages where kind = 'customer'").first<{ n: number }>(),
    ]);

    const wave1 = shuffle([...openers, ...replays.filter((r) => openers.includes(r))], 11);
    const wave2 = shuffle([...followUps, ...replays.filter((r) => followUps.includes(r))], 13);
    expect(wave1.length + wave2.length).toBe(2000);
    const statuses = [...(await runConcurrently(wave1)), ...(await runConcurrently(wave2))];
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(statuses.filter((s) => s >= 400)).toEqual([]);

    // Slack's slow path finishes after its response: wait for the last writes to land.
    await vi.waitFor(
      async () => {
        const n = await env.DB.prepare("select count(*) as n from tickets").first<{ n: number }>();
        expect((n?.n ?? 0) - (before[0]?.n ?? 0)).toBe(expected.tickets);
      },
      { timeout: 30_000, interval: 200 },
    );
    const after = await Promise.all([
      env.DB.prepare("select count(*) as n from tickets").first<{ n: number }>(),
      env.DB.prepare("select count(*) as n from messages where kind = 'customer'").first<{ n: number }>(),
    ]);
    expect((after[0]?.n ?? 0) - (before[0]?.n ?? 0)).toBe(expected.tickets);
    expect((after[1]?.n ?? 0) - (before[1]?.n ?? 0)).toBe(expected.messages);
    // No message stored twice: every channel id of a customer message is unique.
    const dupes = await env.DB.prepare(
      "select external_id, count(*) as n from messages where kind = 'customer' and external_id is not null group by ticket_number, external_id having n > 1",
    ).all();
    expect(dupes.results).toEqual([]);
  });
});

describe("the same message under two delivery ids", () => {
  it("is stored once (a provider resending with a fresh id, or two racing deliveries)", async () => {
    fakeOutbound();
    const issue = onIssue(issueOpened);
    await postGithub("issues", issue);
    const comment = edit(
      onIssue(openedPayload, {
        repo: issue.repository.full_name,
        number: issue.issue.number,
        issueId: issue.issue.id,
      }),
      (p) => {
        p.comment.id = 81_000_001;
        p.comment.author_association = "NONE";
      },
    );
    const results = await Promise.all([1, 2, 3].map(() => postGithub("issue_comment", comment)));
    expect(results.map((r) => r.status).every((s) => s === 200 || s === 202)).toBe(true);
    const rows = await env.DB.prepare(
      "select count(*) as n from messages where external_id = 'comment:81000001'",
    ).first<{ n: number }>();
    expect(rows?.n).toBe(1);
  });
});
