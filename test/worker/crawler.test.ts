import { afterEach, describe, expect, it, vi } from "vitest";
import { QUALITY_BUCKET_MS, type QualityReport } from "../../src/domain/quality";
import messageCommand from "../fixtures/corpus/discord/application_command.message_command.docs.json";
import commentDeleted1 from "../fixtures/corpus/github/issue_comment.deleted.1.json";
import commentEdited1 from "../fixtures/corpus/github/issue_comment.edited.1.json";
import issuesEdited1 from "../fixtures/corpus/github/issues.edited.1.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
import { postDiscord } from "./discord-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { edit, postGithub } from "./github-helpers";
import { advanceTo, fakeOutbound, flush, postMessage, request, TEST_CONFIG, useConfig } from "./helpers";
import {
  aboutIssue,
  customerComment,
  openGithubIssue,
  patchTicket,
  replyTo,
  resolveTicket,
  secretWord,
} from "./privacy-helpers";
import { envelope, freshChannel, freshTs, messageChanged, plain, postEvent } from "./slack-fixtures";

/*
 * The crawler: scenarios leave content on the desk that must never be public (private tickets,
 * tickets flipped private by a security follow-up or edit, edited and deleted text); then every
 * public route is fetched without a token or session, and none may show any of it — no text, no
 * subject, no requester, no key.
 *
 * To extend it: add a scenario to SCENARIOS (it returns what must stay hidden, as words nobody
 * else writes: `secretWord()`), or a route to `publicRoutes`. Each word of a scenario is also
 * searched for on `/v1/search` and `/kb`.
 */

/** What a scenario left behind that no public route may show. */
interface Hidden {
  /** The ticket's key, when the whole ticket is private (null when only some of its text is hidden). */
  key: string | null;
  /** Words of its text, subject and requester (letters and digits, unique to this run). */
  words: string[];
  /** Survey links the scenario received (their pages are public by design). */
  surveys: string[];
}

type Out = ReturnType<typeof fakeOutbound>;
interface Scenario {
  name: string;
  run(out: Out): Promise<Hidden>;
}

/** Survey links sent about a ticket (the fake outbound services saw them). */
async function surveysOf(out: Out, key: string): Promise<string[]> {
  await flush(key);
  const links = out.calls
    .map((c) => JSON.stringify(c.body))
    .filter((b) => new RegExp(`${key}(?!\\d)`).test(b))
    .flatMap((b) => [...b.matchAll(/\/survey\/[A-Za-z0-9_-]{32}/g)].map((m) => m[0]));
  return [...new Set(links)];
}

/** A word-per-field GitHub issue: title, body and the author's login are all secrets. */
async function secretIssue(change: Parameters<typeof openGithubIssue>[2] = () => {}) {
  const [title, body, login] = [secretWord("title"), secretWord("body"), secretWord("login")];
  const opened = await openGithubIssue(`About ${title}`, `Details ${body}`, (p) => {
    p.issue.user.login = login;
    change(p);
  });
  return { ...opened, words: [title, body, login] };
}

const SCENARIOS: Scenario[] = [
  {
    name: "an issue of a private GitHub repository, resolved",
    async run(out) {
      const { key, words } = await secretIssue((p) => {
        p.repository.private = true;
      });
      await replyTo(key, "Answered in private.");
      await resolveTicket(key);
      return { key, words, surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a public issue resolved (survey sent), then flipped private by a security follow-up, resolved again",
    async run(out) {
      const { issue, key, words } = await secretIssue();
      await resolveTicket(key);
      const followUp = secretWord("exploit");
      await postGithub("issue_comment", customerComment(issue, `An exploit: ${followUp}`));
      await resolveTicket(key);
      return { key, words: [...words, followUp], surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a resolved public issue whose body is edited into a security report",
    async run(out) {
      const { issue, key, words } = await secretIssue();
      await resolveTicket(key);
      const leaked = secretWord("leak");
      await postGithub(
        "issues",
        edit(aboutIssue(issuesEdited1, issue), (p) => {
          p.issue.title = issue.issue.title;
          p.issue.body = `This vulnerability leaks ${leaked}`;
        }),
      );
      return { key, words: [...words, leaked], surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a resolved public issue whose customer comment was edited, then another deleted (the ticket stays public)",
    async run() {
      const { issue, key } = await openGithubIssue(`Public ${secretWord()}`, "A public question.");
      const [before, deleted] = [secretWord("before"), secretWord("deleted")];
      const first = customerComment(issue, `first ${before}`);
      const second = customerComment(issue, `second ${deleted}`);
      await postGithub("issue_comment", first);
      await postGithub("issue_comment", second);
      await replyTo(key, "Public answer.");
      await resolveTicket(key);
      const changed = <T extends typeof commentDeleted1>(payload: T, id: number, body?: string) =>
        edit(aboutIssue(payload, issue), (p) => {
          p.comment.id = id;
          p.comment.author_association = "NONE";
          p.comment.user.login = "a-customer";
          if (body !== undefined) p.comment.body = body;
        });
      await postGithub("issue_comment", changed(commentEdited1, first.comment.id, "first, edited"));
      await postGithub("issue_comment", changed(commentDeleted1, second.comment.id));
      return { key: null, words: [before, deleted], surveys: [] };
    },
  },
  {
    name: "a resolved public issue deleted on GitHub",
    async run(out) {
      const { issue, key, words } = await secretIssue();
      await resolveTicket(key);
      await postGithub(
        "issues",
        edit(aboutIssue(reopened1, issue), (p) => {
          p.action = "deleted";
        }),
      );
      return { key, words, surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a resolved public issue an agent made private",
    async run(out) {
      const { key, words } = await secretIssue();
      await resolveTicket(key);
      expect((await patchTicket(key, { visibility: "private" })).status).toBe(200);
      return { key, words, surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a Slack ticket (private by default), resolved",
    async run(out) {
      const [text, name] = [secretWord("slack"), secretWord("name")];
      const channel = freshChannel();
      const ts = freshTs();
      const opened = await postEvent(
        envelope(plain, {
          channel,
          ts,
          event_ts: ts,
          text: `Problem ${text}`,
          user_profile: { real_name: name },
        }),
      );
      const key = opened.json.ticket as string;
      await resolveTicket(key);
      return { key, words: [text, name], surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a Slack ticket an agent made public, whose message was edited and then deleted",
    async run() {
      const [before, after] = [secretWord("before"), secretWord("after")];
      const channel = freshChannel();
      const ts = freshTs();
      const opened = await postEvent(
        envelope(plain, { channel, ts, event_ts: ts, text: `Report ${before}` }),
      );
      const key = opened.json.ticket as string;
      await patchTicket(key, { visibility: "public" });
      await resolveTicket(key);
      const previous = { ...(messageChanged.event.previous_message as Record<string, unknown>), ts };
      const message = {
        ...(messageChanged.event.message as Record<string, unknown>),
        text: `Report ${after}`,
      };
      await postEvent(
        envelope(messageChanged, { channel, previous_message: previous, message, ts: freshTs() }),
      );
      await postEvent({
        ...envelope(plain, {}),
        event: { type: "message", subtype: "message_deleted", channel, ts: freshTs(), deleted_ts: ts },
      });
      return { key: null, words: [before, after], surveys: [] };
    },
  },
  {
    name: "an email ticket, resolved; and a quarantined auto-reply",
    async run(out) {
      const [subject, body, name] = [secretWord("subject"), secretWord("body"), secretWord("name")];
      await deliverEmail(
        mail({ from: `${name} <${name}@example.org>`, subject: `Help ${subject}`, body: `Text ${body}` }).raw,
      );
      const found = (await (await request(`/v1/tickets?q=${subject}&status=all`)).json()) as {
        tickets: { key: string }[];
      };
      const key = found.tickets[0]?.key as string;
      await resolveTicket(key);
      const auto = secretWord("auto");
      await deliverEmail(
        mail({ subject: `Out of office ${auto}`, body: auto, headers: { "Auto-Submitted": "auto-replied" } })
          .raw,
      );
      return { key, words: [subject, body, name, auto], surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "an api ticket (private by default) with a security-sensitive subject, resolved",
    async run(out) {
      const [subject, text, name] = [secretWord("subject"), secretWord("text"), secretWord("name")];
      const key = (
        await postMessage({
          subject: `Exploit ${subject}`,
          text,
          from: { name, email: `${name}@example.org` },
          callbackUrl: "https://hooks.customer.test/cb",
        })
      ).body.ticket as string;
      await resolveTicket(key);
      return { key, words: [subject, text, name], surveys: await surveysOf(out, key) };
    },
  },
  {
    name: "a Discord message turned into a ticket from a channel not listed as public",
    async run(out) {
      const [text, login] = [secretWord("discord"), secretWord("login")];
      const id = `9${Date.now()}`.slice(0, 19);
      const target = {
        ...Object.values(messageCommand.data.resolved.messages)[0],
        id,
        content: `Message ${text}`,
        author: { ...Object.values(messageCommand.data.resolved.messages)[0]?.author, username: login },
      };
      const result = await postDiscord({
        ...messageCommand,
        id: `8${Date.now()}`.slice(0, 19),
        data: {
          ...messageCommand.data,
          name: "Open support ticket",
          target_id: id,
          resolved: { messages: { [id]: target } },
        },
      });
      const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
      await resolveTicket(key);
      return { key, words: [text, login], surveys: await surveysOf(out, key) };
    },
  },
];

/** A route to fetch without credentials; `echo` is what it may legitimately reflect from its own URL. */
interface Route {
  path: string;
  method?: "GET" | "POST";
  form?: Record<string, string>;
  echo?: string;
}

function publicRoutes(hidden: Hidden[]): Route[] {
  const words = hidden.flatMap((h) => h.words);
  const keys = hidden.flatMap((h) => (h.key === null ? [] : [h.key]));
  const surveys = hidden.flatMap((h) => h.surveys);
  return [
    { path: "/kb" },
    { path: "/healthz" },
    { path: "/openapi.json" },
    { path: "/login" },
    { path: "/" },
    { path: "/no-such-page" },
    { path: "/v1/no-such-route" },
    { path: "/kb/SUP-999999999" },
    { path: "/survey/not-a-token" },
    // Routes that need a session or token: they must refuse without showing anything.
    { path: "/queue" },
    { path: "/metrics" },
    { path: "/v1/tickets" },
    { path: "/v1/metrics" },
    { path: "/v1/quarantine" },
    { path: "/v1/config" },
    ...words.flatMap((w): Route[] => [
      { path: `/v1/search?q=${w}` },
      { path: `/v1/search?q=${w.slice(0, 6)}&limit=50` },
      { path: `/kb?q=${w}`, echo: `value="${w}"` },
    ]),
    ...keys.flatMap((k): Route[] => [
      { path: `/kb/${k}`, echo: k },
      { path: `/tickets/${k}`, echo: k },
      { path: `/v1/tickets/${k}`, echo: k },
      { path: `/kb?q=${k}`, echo: `value="${k}"` },
    ]),
    ...surveys.flatMap((s): Route[] => [
      { path: s },
      { path: s, method: "POST", form: { score: "7" } },
      { path: s, method: "POST", form: { score: "1" } },
    ]),
  ];
}

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("the crawler: no public route shows private content", () => {
  it("after every scenario, every public route, fetched without credentials", {
    timeout: 120_000,
  }, async () => {
    await useConfig({ ...TEST_CONFIG, github: { botLogins: [] } });
    const out = fakeOutbound();
    const hidden: Hidden[] = [];
    for (const scenario of SCENARIOS) {
      const left = await scenario.run(out);
      expect(left.words.length, scenario.name).toBeGreaterThan(0);
      hidden.push(left);
    }
    const keys = hidden.flatMap((h) => (h.key === null ? [] : [h.key]));
    const words = hidden.flatMap((h) => h.words);
    expect(keys.length).toBeGreaterThanOrEqual(9);
    expect(hidden.flatMap((h) => h.surveys).length).toBeGreaterThan(0);

    const routes = publicRoutes(hidden);
    for (const route of routes) {
      const response = await request(route.path, {
        method: route.method ?? "GET",
        token: null,
        redirect: "manual",
        ...(route.form === undefined
          ? {}
          : {
              body: new URLSearchParams(route.form),
              headers: { "content-type": "application/x-www-form-urlencoded" },
            }),
      });
      const what = `${route.method ?? "GET"} ${route.path} (${response.status})`;
      expect.soft(response.status, what).toBeLessThan(500);
      let body = await response.text();
      if (route.echo !== undefined) body = body.replaceAll(route.echo, "");
      for (const word of words) expect.soft(body.includes(word), `${what} shows “${word}”`).toBe(false);
      for (const key of keys) {
        expect.soft(new RegExp(`${key}(?!\\d)`).test(body), `${what} shows ${key}`).toBe(false);
      }
    }
    // The public quality report, once its window holds every scenario's ticket (it ends at the
    // start of the current 5-minute bucket): counts and durations only.
    advanceTo(Date.now() + QUALITY_BUCKET_MS);
    const quality = await request("/v1/quality", { token: null });
    expect(quality.status).toBe(200);
    const report = (await quality.clone().json()) as QualityReport;
    expect(report.desk.tickets).toBeGreaterThanOrEqual(keys.length);
    expect(report.byChannel.github.tickets).toBeGreaterThan(0);
    for (const path of ["/quality", "/v1/quality"]) {
      const body = await (await request(path, { token: null })).text();
      for (const word of words) expect.soft(body.includes(word), `${path} shows “${word}”`).toBe(false);
      for (const key of keys)
        expect.soft(new RegExp(`${key}(?!\\d)`).test(body), `${path} shows ${key}`).toBe(false);
      expect.soft(/SUP-\d/.test(body), `${path} shows a ticket key`).toBe(false);
      for (const team of TEST_CONFIG.teams) {
        expect.soft(body.includes(team.name), `${path} shows the team ${team.name}`).toBe(false);
        expect.soft(body.includes(team.slackChannel), `${path} shows a team channel`).toBe(false);
      }
    }
    vi.useRealTimers();
    // The crawl really looked: searches for a public ticket's words do find it.
    const word = secretWord("visible");
    const { key } = await openGithubIssue(`Public ${word}`, `Public ${word}`);
    await resolveTicket(key);
    const found = await request(`/v1/search?q=${word}`, { token: null });
    expect(((await found.json()) as { results: { key: string }[] }).results.map((r) => r.key)).toEqual([key]);
    expect(routes.length).toBeGreaterThan(100);
    console.log(
      `crawled ${routes.length} public routes for ${keys.length} private tickets and ${words.length} hidden words`,
    );
  });
});
