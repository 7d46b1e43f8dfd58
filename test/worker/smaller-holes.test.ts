import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import { postGithub } from "./github-helpers";
import {
  advanceTo,
  fakeOutbound,
  flush,
  getTicket,
  postMessage,
  request,
  TEST_CONFIG,
  unique,
  useConfig,
} from "./helpers";
import { customerComment, openGithubIssue, replyTo, secretWord, ticketOf } from "./privacy-helpers";
import {
  blockActions,
  DESK_TEAM,
  envelope,
  freshChannel,
  freshTs,
  inThread,
  plain,
  signedHeaders,
} from "./slack-fixtures";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** POST to the worker with some variables changed (e.g. SLACK_TEAM_ID unset), waiting for its waitUntil work. */
async function fetchWith(path: string, init: RequestInit, overrides: Partial<Env>) {
  const ctx = createExecutionContext();
  const response = await worker.fetch(
    new Request(`https://desk.test${path}`, init),
    { ...env, ...overrides },
    ctx,
  );
  await waitOnExecutionContext(ctx);
  return { response, json: (await response.json()) as Record<string, unknown> };
}

async function slackEvent(body: Record<string, unknown>, overrides: Partial<Env> = {}) {
  const raw = JSON.stringify(body);
  return fetchWith(
    "/webhooks/slack/events",
    {
      method: "POST",
      headers: { "content-type": "application/json", ...(await signedHeaders(raw)) },
      body: raw,
    },
    overrides,
  );
}

/** A customer's Slack ticket (the corpus message, author team T111) in a fresh channel. */
async function slackTicket() {
  const channel = freshChannel();
  const ts = freshTs();
  const { json } = await slackEvent(envelope(plain, { channel, ts, event_ts: ts }));
  const key = json.ticket as string;
  await flush(key);
  return { key, channel, ts };
}

function threadReply(
  channel: string,
  ts: string,
  event: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return envelope(
    inThread,
    { channel, channel_type: "channel", thread_ts: ts, ts: freshTs(), text: "Looking at it", ...event },
    extra,
  );
}

describe("Slack staff detection fails closed", () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>, Partial<Env>, string]>([
    [
      "no user team on the event (only the envelope's, which is ours) → customer",
      { user: "U0ALICE", team: undefined, user_team: undefined },
      { team_id: DESK_TEAM },
      {},
      "customer",
    ],
    [
      "`user_team` of another workspace → customer",
      { user: "U0X", team: DESK_TEAM, user_team: "T0ACME" },
      {},
      {},
      "customer",
    ],
    [
      "`team` ours, no `user_team` → staff",
      { user: "U0ALICE", team: DESK_TEAM, user_team: undefined },
      {},
      {},
      "staff",
    ],
    [
      "our team, but SLACK_TEAM_ID unset → customer",
      { user: "U0ALICE", team: DESK_TEAM, user_team: DESK_TEAM },
      {},
      { SLACK_TEAM_ID: "" },
      "customer",
    ],
  ])("%s", async (_name, event, extra, overrides, kind) => {
    fakeOutbound();
    const { key, channel, ts } = await slackTicket();
    const { json } = await slackEvent(threadReply(channel, ts, event, extra), overrides);
    expect(json).toMatchObject({ ticket: key });
    expect((await getTicket(key)).messages.at(-1)?.kind).toBe(kind);
  });
});

describe("the Claim button needs SLACK_TEAM_ID and the clicker's own workspace", () => {
  function claim(key: string, user: Record<string, unknown>, team: string | undefined = DESK_TEAM) {
    const payload = {
      ...structuredClone(blockActions),
      user: { ...blockActions.user, ...user },
      team: { ...blockActions.team, id: team },
      container: { type: "message", message_ts: "1700000000.000200", channel_id: "C0SUPPORT" },
      channel: { id: "C0SUPPORT", name: "support" },
      message: { type: "message", ts: "1700000000.000200", text: `notice about ${key}` },
      actions: [{ ...blockActions.actions[0], action_id: "claim", block_id: `claim:${key}`, value: key }],
    };
    return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
  }

  async function click(raw: string, overrides: Partial<Env> = {}) {
    return fetchWith(
      "/webhooks/slack/interactions",
      {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", ...(await signedHeaders(raw)) },
        body: raw,
      },
      overrides,
    );
  }

  it("without SLACK_TEAM_ID nobody can claim, and the clicker is told why", async () => {
    const out = fakeOutbound();
    const key = (await postMessage({ text: "claim me" })).body.ticket as string;
    const { json } = await click(claim(key, { id: "U0ALICE", team_id: DESK_TEAM }), { SLACK_TEAM_ID: "" });
    expect(json).toEqual({ ok: false, reason: "not_configured", ticket: key });
    expect((await getTicket(key)).assignee).toBeNull();
    const ephemeral = out.slack().find((b) => b.user === "U0ALICE" && String(b.text).includes(key));
    expect(String(ephemeral?.text)).toContain("SLACK_TEAM_ID");
  });

  it("a click that does not name the clicker's workspace is not staff (the click's `team` is not the clicker's)", async () => {
    fakeOutbound();
    const key = (await postMessage({ text: "claim me" })).body.ticket as string;
    const { json } = await click(claim(key, { id: "U0GUEST", team_id: undefined }));
    expect(json).toEqual({ ok: false, reason: "not_staff", ticket: key });
    expect((await getTicket(key)).assignee).toBeNull();
  });

  it("our own member still claims", async () => {
    fakeOutbound();
    const key = (await postMessage({ text: "claim me" })).body.ticket as string;
    const { json } = await click(claim(key, { id: "U0ALICE", team_id: DESK_TEAM }));
    expect(json).toEqual({ ok: true, ticket: key, assignee: "alice" });
  });
});

describe("a GitHub comment with our reply marker is ignored only when our own bot wrote it", () => {
  const marker = (key: string) => `\n\n<!-- switchboard:${key} -->`;

  it("a customer pasting the marker is stored and reopens the conversation", async () => {
    fakeOutbound();
    const { issue, key } = await openGithubIssue(`Marker ${secretWord()}`, "question");
    await replyTo(key, "Try this.");
    const pasted = customerComment(issue, `Quoting you: Try this.${marker(key)}`);
    const result = await postGithub("issue_comment", pasted);
    expect(result.status).toBe(202);
    const ticket = await ticketOf(key);
    expect(ticket.status).toBe("open");
    expect(ticket.messages.at(-1)).toMatchObject({ kind: "customer", author: "a-customer" });
  });

  it.each<[string, (p: ReturnType<typeof customerComment>) => void, string[], string]>([
    [
      "a person whose login is our app's name without [bot] → stored",
      (p) => {
        p.comment.user.login = "switchboard-desk";
      },
      [],
      "stored",
    ],
    [
      "a Bot posting through another app → stored",
      (p) => {
        p.comment.user.login = "other-app[bot]";
        p.comment.user.type = "Bot";
        Object.assign(p.comment, { performed_via_github_app: { slug: "other-app" } });
      },
      ["switchboard-desk[bot]"],
      "stored",
    ],
    [
      "a Bot whose login is not its app's → stored",
      (p) => {
        p.comment.user.login = "impostor[bot]";
        p.comment.user.type = "Bot";
        Object.assign(p.comment, { performed_via_github_app: { slug: "switchboard-desk" } });
      },
      [],
      "stored",
    ],
    [
      "our GitHub App (no botLogins configured) → ignored",
      (p) => {
        p.comment.user.login = "switchboard-desk[bot]";
        p.comment.user.type = "Bot";
        Object.assign(p.comment, { performed_via_github_app: { slug: "switchboard-desk" } });
      },
      [],
      "ignored",
    ],
    [
      "the user behind our personal token, listed in botLogins → ignored",
      (p) => {
        p.comment.user.login = "Desk-Operator";
        p.comment.author_association = "MEMBER";
      },
      ["desk-operator"],
      "ignored",
    ],
  ])("%s", async (_name, change, botLogins, expected) => {
    fakeOutbound();
    await useConfig({ ...TEST_CONFIG, github: { botLogins } });
    const { issue, key } = await openGithubIssue(`Marker ${secretWord()}`, "question");
    const before = (await ticketOf(key)).messages.length;
    const result = await postGithub("issue_comment", customerComment(issue, `hello${marker(key)}`, change));
    const after = (await ticketOf(key)).messages.length;
    if (expected === "ignored") {
      expect(result.body.ignored).toBe("our own reply");
      expect(after).toBe(before);
    } else {
      expect(result.status).toBe(202);
      expect(after).toBe(before + 1);
    }
  });

  it("an echo we fail to recognise (no botLogins, a personal token) is still stored once: its id is our reply's", async () => {
    fakeOutbound((call) =>
      call.host === "github.fake" && call.url.endsWith("/comments")
        ? Response.json({ id: 888_100_001 }, { status: 201 })
        : new Response(null, { status: 204 }),
    );
    const { issue, key } = await openGithubIssue(`Echo ${secretWord()}`, "question");
    await replyTo(key, "Fixed in main.");
    await flush(key);
    const echo = customerComment(issue, `Fixed in main.${marker(key)}`, (p) => {
      p.comment.id = 888_100_001;
      p.comment.user.login = "desk-operator";
      p.comment.author_association = "MEMBER";
    });
    const result = await postGithub("issue_comment", echo);
    expect(result.body).toMatchObject({ ticket: key, replay: true });
    expect((await ticketOf(key)).messages.filter((m) => m.text.startsWith("Fixed in main."))).toHaveLength(1);
  });
});

describe("customer text cannot forge lines or mentions in Slack notices", () => {
  const HOSTILE =
    "Help\n> <!channel> pay <@U0ALICE> now <https://evil.example|click here>\r\n\u2028@here *x* & \u202eevil";

  /** Every Slack text that mentions the ticket, with the parts our own templates put there taken out. */
  function forged(text: string, key: string): string[] {
    const problems: string[] = [];
    if (/[\r\n\u2028\u2029]/.test(text)) problems.push("a line break");
    const links = [...text.matchAll(/<([^>]*)>/g)].map((m) => m[1] ?? "");
    for (const link of links) {
      // Our own links: the ticket, and (GitHub's security notice) the issue GitHub's payload names.
      const ours =
        link.startsWith(`https://desk.test/tickets/${key}|`) ||
        /^https:\/\/github\.com\/acme\/[a-z0-9-]+\/issues\/\d+\|acme\/[a-z0-9-]+#\d+$/.test(link) ||
        /^@U0[A-Z0-9]+$/.test(link);
      if (!ours) {
        problems.push(`<${link}>`);
      }
    }
    if (/(^|\s)>/.test(text)) problems.push("a quote");
    if (/@(here|channel|everyone)\b/.test(text)) problems.push("a bare @-mention");
    if (/\u202e/.test(text)) problems.push("a bidi override");
    return problems;
  }

  it("in the warning and breach notices, the account engineer's DM and the security notice", async () => {
    const out = fakeOutbound();
    const start = Date.now();
    const threadId = unique("thread");
    const key = (
      await postMessage({
        threadId,
        subject: HOSTILE,
        from: { name: HOSTILE, email: "ann@acme.com" },
        text: "first",
      })
    ).body.ticket as string;
    await postMessage({ threadId, text: "and an exploit" });
    const ticket = await getTicket(key);
    advanceTo(start + (Date.parse(ticket.responseDueAt as string) - start) * 1.01);
    await flush(key);
    const texts = out.slack(key).map((b) => String(b.text));
    expect(texts.length).toBeGreaterThanOrEqual(3);
    for (const text of texts) expect(forged(text, key), text).toEqual([]);
    expect(texts.join("\n")).toContain("&lt;!channel&gt;");
  });

  it("in the GitHub security notice", async () => {
    const out = fakeOutbound();
    const { key } = await openGithubIssue(`Exploit ${HOSTILE}`, "details");
    await flush(key);
    const texts = out.slack(key).map((b) => String(b.text));
    expect(texts).toHaveLength(1);
    for (const text of texts) expect(forged(text, key), text).toEqual([]);
  });

  it("in the reassignment notice (an assignee name set through the API)", async () => {
    const out = fakeOutbound();
    const key = (await postMessage({ subject: HOSTILE, text: "hi" })).body.ticket as string;
    const patched = await request(`/v1/tickets/${key}`, {
      method: "PATCH",
      json: { assignee: HOSTILE.slice(0, 200), team: "billing" },
    });
    expect(patched.status).toBe(200);
    await flush(key);
    const texts = out.slack(key).map((b) => String(b.text));
    expect(texts.length).toBeGreaterThan(0);
    for (const text of texts) expect(forged(text, key), text).toEqual([]);
  });

  it("keeps ordinary text readable", async () => {
    const out = fakeOutbound();
    const key = (
      await postMessage({
        subject: "Invoices & credits <since May>",
        text: "hi",
        from: { name: "Ann", email: "ann@acme.com" },
      })
    ).body.ticket as string;
    await flush(key);
    const dm = out.slack(key).find((b) => b.channel === "U0ERIN");
    expect(String(dm?.text)).toContain("“Invoices &amp; credits &lt;since May&gt;”");
  });
});
