import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { changeInboundMessage, intake } from "../../src/intake";
import { reconcileTimers } from "../../src/timer/reconcile";
import messageCommand from "../fixtures/corpus/discord/application_command.message_command.docs.json";
import commentDeleted1 from "../fixtures/corpus/github/issue_comment.deleted.1.json";
import commentEdited1 from "../fixtures/corpus/github/issue_comment.edited.1.json";
import issuesEdited1 from "../fixtures/corpus/github/issues.edited.1.json";
import openedTransfer from "../fixtures/corpus/github/issues.opened.4.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
import { ConsoleBrowser } from "./console-helpers";
import { postDiscord } from "./discord-helpers";
import { edit, onIssue, postGithub } from "./github-helpers";
import {
  advanceTo,
  fakeOutbound,
  flush,
  postMessage,
  request,
  TEST_CONFIG,
  unique,
  useConfig,
} from "./helpers";
import {
  aboutIssue,
  customerComment,
  type IssuePayload,
  kbPage,
  openGithubIssue,
  patchTicket,
  replyTo,
  resolveTicket,
  searchKeys,
  secretWord,
  ticketOf,
} from "./privacy-helpers";
import { envelope, freshChannel, freshTs, messageChanged, plain, postEvent } from "./slack-fixtures";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Slack notices to the security team's channel about one ticket. */
function securityNotices(out: ReturnType<typeof fakeOutbound>, key: string) {
  return out.slack(key).filter((b) => b.channel === "C0SECURITY");
}

/** A public GitHub ticket with a word in its body, resolved: in the knowledge base. */
async function resolvedPublicIssue(word: string) {
  const opened = await openGithubIssue(`Exporting ${word} fails`, `The ${word} export stops at 50 rows.`);
  await replyTo(opened.key, `Upgrade the ${word} exporter to 2.1.`);
  await resolveTicket(opened.key);
  expect(await searchKeys(word)).toEqual([opened.key]);
  return opened;
}

describe("GitHub: issues of private repositories", () => {
  it.each([
    ["a private repository", { private: true }],
    ["an internal repository", { private: true, visibility: "internal" }],
    ["a payload that does not say (fails closed)", { private: undefined }],
    ["`private: false` with a non-public visibility", { private: false, visibility: "internal" }],
  ])("%s makes a private ticket that never enters the knowledge base", async (_name, repository) => {
    fakeOutbound();
    const word = secretWord();
    const { key } = await openGithubIssue(`Private ${word}`, `secret ${word} text`, (p) => {
      Object.assign(p.repository, repository);
      if (repository.private === undefined) delete (p.repository as { private?: boolean }).private;
    });
    expect((await ticketOf(key)).visibility).toBe("private");
    await replyTo(key, `answer about ${word}`);
    await resolveTicket(key);
    expect(await searchKeys(word)).toEqual([]);
    expect(await kbPage(word)).toContain("No answers found");
    expect((await request(`/kb/${key}`, { token: null })).status).toBe(404);
  });

  it("a public repository's issue is public, and once resolved it is in the knowledge base", async () => {
    fakeOutbound();
    const word = secretWord();
    const { key } = await resolvedPublicIssue(word);
    expect((await ticketOf(key)).visibility).toBe("public");
    expect(await kbPage(word)).toContain(key);
  });

  it("an issue transferred into a private repository takes its ticket out of the knowledge base", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    // The corpus transfer goes from a private repository to a public one; here it goes the other way.
    const moved = edit(onIssue(openedTransfer, { repo: `acme/${unique("private").toLowerCase()}` }), (p) => {
      p.changes.old_repository.full_name = issue.repository.full_name;
      p.changes.old_issue.number = issue.issue.number;
      p.repository.private = true;
    });
    const result = await postGithub("issues", moved);
    expect(result.body).toMatchObject({ ticket: key, what: "transferred" });
    expect((await ticketOf(key)).visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);
  });
});

describe("the security classification runs on every follow-up and edit", () => {
  it("a customer's follow-up that looks security-sensitive makes a public ticket private and security, takes it out of the knowledge base and tells the security team once", async () => {
    const out = fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    const comment = customerComment(issue, `Also: here is a working EXPLOIT for the ${word} exporter.`);
    const first = await postGithub("issue_comment", comment);
    expect(first.status).toBe(202);
    const ticket = await ticketOf(key);
    expect(ticket).toMatchObject({ visibility: "private", security: true, status: "open" });
    expect(ticket.messages.find((m) => m.kind === "note")?.text).toContain("“exploit”");
    expect(await searchKeys(word)).toEqual([]);
    expect(await kbPage(word)).not.toContain(`/kb/${key}`);

    await flush(key);
    const notices = securityNotices(out, key);
    expect(notices).toHaveLength(1);
    expect(String(notices[0]?.text)).toContain("still public on GitHub");

    // Redelivered: nothing new, and no second notice.
    const again = await postGithub("issue_comment", comment, { delivery: first.delivery });
    expect(again.body).toMatchObject({ replay: true });
    await flush(key);
    expect(securityNotices(out, key)).toHaveLength(1);

    // It never becomes public again by itself: a harmless follow-up, a reply and a resolve later.
    await postGithub("issue_comment", customerComment(issue, `Thanks, the ${word} fix works.`));
    await replyTo(key, "Glad to hear it.");
    await resolveTicket(key);
    expect((await ticketOf(key)).visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);
  });

  it.each([
    ["an issue body edit", "body"],
    ["an issue title edit", "title"],
  ])("%s that looks security-sensitive does the same, in the edit's own batch", async (_name, field) => {
    const out = fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    const edited = edit(aboutIssue(issuesEdited1, issue), (p) => {
      p.issue.title = field === "title" ? `Vulnerability in ${word} export` : issue.issue.title;
      p.issue.body = field === "body" ? `A vulnerability: ${word} leaks tokens.` : issue.issue.body;
    });
    const result = await postGithub("issues", edited);
    expect(result.status).toBe(202);
    expect(await ticketOf(key)).toMatchObject({ visibility: "private", security: true, status: "resolved" });
    expect(await searchKeys(word)).toEqual([]);
    await flush(key);
    expect(securityNotices(out, key)).toHaveLength(1);
    expect(String(securityNotices(out, key)[0]?.text)).toContain("customer edit");
  });

  it("a staff comment or a staff edit that says “security” changes nothing", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key } = await openGithubIssue(`Slow ${word}`, `${word} is slow`);
    const staff = customerComment(issue, "This is not a security issue, just a slow query.", (p) => {
      p.comment.author_association = "OWNER";
      p.comment.user.login = "maintainer";
    });
    await postGithub("issue_comment", staff);
    const staffEdit = edit(aboutIssue(commentEdited1, issue), (p) => {
      p.comment.id = staff.comment.id;
      p.comment.body = "No exploit here either.";
    });
    expect((await postGithub("issue_comment", staffEdit)).status).toBe(202);
    expect(await ticketOf(key)).toMatchObject({ visibility: "public", security: false });
  });

  it.each([
    ["Security hole in the login form", true],
    ["see CVE-2024-12345", true],
    ["line one\nthen a vulnerability on line two", true],
    ["the cvent integration and exploitation of data", false],
  ])("follow-up %j → security-sensitive: %s", async (text, flips) => {
    fakeOutbound();
    const { issue, key } = await openGithubIssue(`Question ${secretWord()}`, "Hello");
    await postGithub("issue_comment", customerComment(issue, text));
    expect((await ticketOf(key)).security).toBe(flips);
    expect((await ticketOf(key)).visibility).toBe(flips ? "private" : "public");
  });

  it("a private ticket's security-sensitive follow-up marks it `security` and tells the team, with nothing to hide", async () => {
    const out = fakeOutbound();
    const threadId = unique("thread");
    const key = (await postMessage({ threadId, text: "How do I rotate keys?" })).body.ticket as string;
    await postMessage({ threadId, text: "We think a leaked key was used in an exploit." });
    expect(await ticketOf(key)).toMatchObject({ visibility: "private", security: true });
    await flush(key);
    const [notice] = securityNotices(out, key);
    expect(String(notice?.text)).toContain(key);
    expect(String(notice?.text)).not.toContain("still public");
  });

  it("an agent can make a flipped ticket public (confirmed); a new security follow-up flips it back", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    await postGithub("issue_comment", customerComment(issue, "exploit attached"));
    await replyTo(key, "Fixed and disclosed in advisory GHSA-1234.");
    await resolveTicket(key);
    expect((await patchTicket(key, { visibility: "public", confirmSecurityDisclosure: true })).status).toBe(
      200,
    );
    expect(await searchKeys(word)).toEqual([key]);
    await postGithub("issue_comment", customerComment(issue, "another exploit, unpatched"));
    expect((await ticketOf(key)).visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);
  });
});

describe("the security notice is owed with the write that flips the ticket", () => {
  /** TICKET_TIMER whose objects cannot be reached: the write commits, its debt stays in timer_syncs. */
  const brokenTimers = new Proxy(env.TICKET_TIMER, {
    get(target, property, receiver) {
      if (property === "get") return () => ({ sync: () => Promise.reject(new Error("object reset")) });
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const owed = (number: number) =>
    env.DB.prepare("select count(*) as n from timer_syncs where ticket_number = ?")
      .bind(number)
      .first<{ n: number }>();

  it.each(["follow-up", "edit"])(
    "on a customer %s: the timer unreachable, the reconciler still sends it, once",
    async (what) => {
      const out = fakeOutbound();
      const { issue, key } = await openGithubIssue(`Durable ${secretWord()}`, "A question.");
      const number = Number(key.replace("SUP-", ""));
      const broken = { ...env, TICKET_TIMER: brokenTimers };
      if (what === "follow-up") {
        const result = await intake(broken, {
          channel: "github",
          idempotencyKey: unique("delivery"),
          externalId: `comment:${unique("c")}`,
          threadKeys: [`${issue.repository.full_name.toLowerCase()}#${issue.issue.number}`],
          threadOnly: true,
          from: { handle: "a-customer" },
          author: "customer",
          text: "Here is an exploit.",
          receivedAt: Date.now(),
        });
        expect(result.ok).toBe(true);
      } else {
        const result = await changeInboundMessage(broken, {
          channel: "github",
          idempotencyKey: unique("delivery"),
          threadKeys: [`${issue.repository.full_name.toLowerCase()}#${issue.issue.number}`],
          externalId: `issue:${issue.issue.id}`,
          change: { type: "edit", text: "Here is an exploit." },
        });
        expect(result).toMatchObject({ ok: true, changed: 1 });
      }
      expect(await ticketOf(key)).toMatchObject({ visibility: "private", security: true });
      expect((await owed(number))?.n).toBe(1);
      expect(securityNotices(out, key)).toHaveLength(0);

      await reconcileTimers(env, { ticketNumber: number });
      await reconcileTimers(env, { ticketNumber: number });
      await flush(key);
      expect((await owed(number))?.n).toBe(0);
      expect(securityNotices(out, key)).toHaveLength(1);
    },
  );
});

describe("PATCH /v1/tickets/:key `visibility`", () => {
  it("public → private takes a resolved ticket out of the knowledge base at once; → public puts it back", async () => {
    fakeOutbound();
    const word = secretWord();
    const { key } = await resolvedPublicIssue(word);
    const toPrivate = await patchTicket(key, { visibility: "private" });
    expect(toPrivate.status).toBe(200);
    expect(toPrivate.body.visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);
    expect((await request(`/kb/${key}`, { token: null })).status).toBe(404);
    const toPublic = await patchTicket(key, { visibility: "public" });
    expect(toPublic.status).toBe(200);
    expect(await searchKeys(word)).toEqual([key]);
    const notes = (await ticketOf(key)).messages.filter((m) => m.kind === "note").map((m) => m.text);
    expect(notes).toEqual([
      expect.stringContaining("alice made this ticket private"),
      expect.stringContaining("alice made this ticket public"),
    ]);
  });

  it("an open private ticket made public enters the knowledge base only when it is resolved", async () => {
    fakeOutbound();
    const word = secretWord();
    const key = (await postMessage({ subject: `Question ${word}`, text: `${word} how?` })).body
      .ticket as string;
    expect((await patchTicket(key, { visibility: "public" })).status).toBe(200);
    expect(await searchKeys(word)).toEqual([]);
    await resolveTicket(key);
    expect(await searchKeys(word)).toEqual([key]);
  });

  it("a security ticket is made public only with confirmSecurityDisclosure: true", async () => {
    fakeOutbound();
    const word = secretWord();
    const key = (await postMessage({ subject: `Exploit in ${word}`, text: `${word} exploit` })).body
      .ticket as string;
    await resolveTicket(key);
    const refused = await patchTicket(key, { visibility: "public" });
    expect(refused.status).toBe(400);
    expect(refused.body.detail).toContain("confirmSecurityDisclosure");
    expect(refused.body.issues).toEqual([expect.objectContaining({ path: "confirmSecurityDisclosure" })]);
    expect((await ticketOf(key)).visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);

    const confirmed = await patchTicket(key, { visibility: "public", confirmSecurityDisclosure: true });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ visibility: "public", security: true });
    expect(await searchKeys(word)).toEqual([key]);
    expect((await ticketOf(key)).messages.at(-1)?.text).toContain("disclosure confirmed");
  });

  it.each([
    ["an unknown visibility", { visibility: "secret" }],
    ["a confirmation that is not `true`", { visibility: "public", confirmSecurityDisclosure: "yes" }],
    ["a confirmation of false", { visibility: "public", confirmSecurityDisclosure: false }],
    ["a confirmation alone", { confirmSecurityDisclosure: true }],
    ["visibility null", { visibility: null }],
  ])("%s is 400 and changes nothing", async (_name, body) => {
    fakeOutbound();
    const key = (await postMessage({ text: "hello" })).body.ticket as string;
    expect((await patchTicket(key, body)).status).toBe(400);
    expect((await ticketOf(key)).visibility).toBe("private");
  });
});

describe("the console's visibility form", () => {
  it("is CSRF-checked; a security ticket needs the disclosure box ticked", async () => {
    fakeOutbound();
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const word = secretWord();
    const { key } = await resolvedPublicIssue(word);

    const page = await browser.get(`/tickets/${key}`);
    expect(page.html).toContain("Make private");
    const forged = await browser.post(`/tickets/${key}`, { visibility: "private" });
    expect(forged.status).toBe(403);
    expect((await ticketOf(key)).visibility).toBe("public");

    const made = await browser.post(`/tickets/${key}`, { _csrf: csrf, visibility: "private" });
    expect(made.status).toBe(303);
    expect((await ticketOf(key)).visibility).toBe("private");
    expect(await searchKeys(word)).toEqual([]);

    const secure = (await postMessage({ subject: `Exploit ${word}`, text: "exploit" })).body.ticket as string;
    expect((await browser.get(`/tickets/${secure}`)).html).toContain('name="confirmSecurityDisclosure"');
    const unticked = await browser.post(`/tickets/${secure}`, { _csrf: csrf, visibility: "public" });
    expect(unticked.headers.get("location")).toContain("error=security_disclosure");
    expect((await ticketOf(secure)).visibility).toBe("private");
    const ticked = await browser.post(`/tickets/${secure}`, {
      _csrf: csrf,
      visibility: "public",
      confirmSecurityDisclosure: "true",
    });
    expect(ticked.headers.get("location")).toContain("done=updated");
    expect((await ticketOf(secure)).visibility).toBe("public");
  });
});

describe("the knowledge base follows edits and deletions", () => {
  /** A resolved public issue with a customer comment holding `word`. */
  async function withComment(word: string) {
    const opened = await openGithubIssue(`Import ${secretWord()} question`, "The import is slow.");
    const comment = customerComment(opened.issue, `My file has ${word} in it.`);
    await postGithub("issue_comment", comment);
    await replyTo(opened.key, "Try the bulk importer.");
    await resolveTicket(opened.key);
    expect(await searchKeys(word)).toEqual([opened.key]);
    return { ...opened, comment };
  }

  function changedComment<T extends typeof commentDeleted1>(
    payload: T,
    issue: IssuePayload,
    id: number,
    body?: string,
  ): T {
    return edit(aboutIssue(payload, issue), (p) => {
      p.comment.id = id;
      p.comment.author_association = "NONE";
      p.comment.user.login = "a-customer";
      if (body !== undefined) p.comment.body = body;
    });
  }

  it("a GitHub comment edited: the old words are gone from search and /kb, the new ones are found", async () => {
    fakeOutbound();
    const before = secretWord();
    const after = secretWord();
    const { issue, key, comment } = await withComment(before);
    const result = await postGithub(
      "issue_comment",
      changedComment(commentEdited1, issue, comment.comment.id, `My file has ${after} in it.`),
    );
    expect(result.status).toBe(202);
    expect(await searchKeys(before)).toEqual([]);
    expect(await kbPage(before)).not.toContain(`/kb/${key}`);
    expect(await searchKeys(after)).toEqual([key]);
    const article = await (await request(`/kb/${key}`, { token: null })).text();
    expect(article).not.toContain(before);
    expect(article).toContain(after);
  });

  it("a GitHub comment deleted: its words are never findable again, the article drops it", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key, comment } = await withComment(word);
    const result = await postGithub(
      "issue_comment",
      changedComment(commentDeleted1, issue, comment.comment.id),
    );
    expect(result.status).toBe(202);
    expect(await searchKeys(word)).toEqual([]);
    expect(await kbPage(word)).toContain("No answers found");
    expect(await (await request(`/kb/${key}`, { token: null })).text()).not.toContain(word);
    // The agent still sees it, marked deleted.
    expect((await ticketOf(key)).messages.find((m) => m.text.includes(word))?.deletedAt).not.toBeNull();
  });

  it("an issue's title and body edited: the old title's words are gone", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    const renamed = edit(aboutIssue(issuesEdited1, issue), (p) => {
      p.issue.title = "Export stops early";
      p.issue.body = "The export stops at 50 rows.";
    });
    await postGithub("issues", renamed);
    // The staff reply still names the word; the customer's text and the title no longer do.
    const results = (await (await request(`/v1/search?q=${word}`, { token: null })).json()) as {
      results: { key: string; subject: string }[];
    };
    expect(results.results.map((r) => r.subject)).toEqual(["Export stops early"]);
    expect(await searchKeys("Export stops early")).toContain(key);
  });

  it("an issue deleted on GitHub: nothing of it stays in the knowledge base", async () => {
    fakeOutbound();
    const word = secretWord();
    const { issue, key } = await resolvedPublicIssue(word);
    const deleted = edit(aboutIssue(reopened1, issue), (p) => {
      p.action = "deleted";
    });
    const result = await postGithub("issues", deleted);
    expect(result.body).toMatchObject({ ticket: key, what: "deleted" });
    const ticket = await ticketOf(key);
    expect(ticket.visibility).toBe("private");
    expect(ticket.messages[0]?.deletedAt).not.toBeNull();
    expect(ticket.messages.at(-1)).toMatchObject({ kind: "note", text: expect.stringContaining("deleted") });
    expect(await searchKeys(word)).toEqual([]);
    expect((await request(`/kb/${key}`, { token: null })).status).toBe(404);
  });

  it("Slack message_changed and message_deleted rebuild a public ticket's entry", async () => {
    fakeOutbound();
    const before = secretWord();
    const after = secretWord();
    const channel = freshChannel();
    const ts = freshTs();
    const opened = await postEvent(envelope(plain, { channel, ts, event_ts: ts, text: `Report ${before}` }));
    const key = opened.json.ticket as string;
    await flush(key);
    expect((await patchTicket(key, { visibility: "public" })).status).toBe(200);
    await resolveTicket(key);
    expect(await searchKeys(before)).toEqual([key]);

    const previous = { ...(messageChanged.event.previous_message as Record<string, unknown>), ts };
    const message = { ...(messageChanged.event.message as Record<string, unknown>), text: `Report ${after}` };
    const changed = await postEvent(
      envelope(messageChanged, { channel, previous_message: previous, message, ts: freshTs() }),
    );
    expect(changed.json).toMatchObject({ ticket: key, changed: 1 });
    expect(await searchKeys(before)).toEqual([]);
    expect(await searchKeys(after)).toEqual([key]);

    const deleted = await postEvent({
      ...envelope(plain, {}),
      event: {
        type: "message",
        subtype: "message_deleted",
        hidden: true,
        channel,
        ts: freshTs(),
        deleted_ts: ts,
        event_ts: freshTs(),
        previous_message: { type: "message", user: "W111", text: `Report ${after}`, ts },
      },
    });
    expect(deleted.json).toMatchObject({ ticket: key, changed: 1 });
    expect(await searchKeys(after)).toEqual([]);
  });

  it("a Slack edit that looks security-sensitive makes the ticket private and security", async () => {
    const out = fakeOutbound();
    const channel = freshChannel();
    const ts = freshTs();
    const opened = await postEvent(envelope(plain, { channel, ts, event_ts: ts, text: "Login is slow" }));
    const key = opened.json.ticket as string;
    await flush(key);
    const previous = { ...(messageChanged.event.previous_message as Record<string, unknown>), ts };
    const message = {
      ...(messageChanged.event.message as Record<string, unknown>),
      text: "Login is slow — and there is a vulnerability",
    };
    await postEvent(
      envelope(messageChanged, { channel, previous_message: previous, message, ts: freshTs() }),
    );
    expect((await ticketOf(key)).security).toBe(true);
    await flush(key);
    expect(securityNotices(out, key)).toHaveLength(1);
  });
});

describe("Discord: the message command opens a public ticket only from a public channel", () => {
  const PUBLIC_CHANNEL = "772908445358620702"; // the corpus sample's channel
  const GUILD = messageCommand.guild_id;
  let ids = 0;

  function invocation(change: (p: Record<string, unknown>) => void) {
    ids += 1;
    const messageId = `9${Date.now()}${ids}`.slice(0, 19);
    const payload = structuredClone(messageCommand) as unknown as Record<string, unknown>;
    const data = payload.data as typeof messageCommand.data;
    const target = structuredClone(Object.values(data.resolved.messages)[0]) as Record<string, unknown>;
    target.id = messageId;
    payload.id = `8${Date.now()}${ids}`.slice(0, 19);
    payload.data = {
      ...data,
      name: "Open support ticket",
      target_id: messageId,
      resolved: { messages: { [messageId]: target } },
    };
    change(payload);
    return payload;
  }

  async function visibilityOf(payload: unknown): Promise<string> {
    const result = await postDiscord(payload);
    expect(result.body.type).toBe(4);
    const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
    return (await ticketOf(key)).visibility;
  }

  beforeEach(async () => {
    await useConfig({
      ...TEST_CONFIG,
      discord: { publicChannelIds: [PUBLIC_CHANNEL, "772900000000000001"] },
    });
  });

  it.each<[string, (p: Record<string, unknown>) => void, string]>([
    ["a listed channel (channel_id only) → public", () => {}, "public"],
    [
      "a listed text channel → public",
      (p) => Object.assign(p, { channel: { id: PUBLIC_CHANNEL, type: 0 } }),
      "public",
    ],
    [
      "a public thread of a listed channel → public",
      (p) => {
        p.channel_id = "772911111111111111";
        p.channel = { id: "772911111111111111", type: 11, parent_id: PUBLIC_CHANNEL };
        const data = p.data as { resolved: { messages: Record<string, Record<string, unknown>> } };
        for (const m of Object.values(data.resolved.messages)) m.channel_id = "772911111111111111";
      },
      "public",
    ],
    [
      "a private thread of a listed channel → private",
      (p) => {
        p.channel_id = "772922222222222222";
        p.channel = { id: "772922222222222222", type: 12, parent_id: PUBLIC_CHANNEL };
        const data = p.data as { resolved: { messages: Record<string, Record<string, unknown>> } };
        for (const m of Object.values(data.resolved.messages)) m.channel_id = "772922222222222222";
      },
      "private",
    ],
    [
      "an unlisted channel → private",
      (p) => {
        p.channel_id = "772933333333333333";
        const data = p.data as { resolved: { messages: Record<string, Record<string, unknown>> } };
        for (const m of Object.values(data.resolved.messages)) m.channel_id = "772933333333333333";
      },
      "private",
    ],
    [
      "a listed channel whose overwrites hide it from @everyone → private",
      (p) =>
        Object.assign(p, {
          channel: {
            id: PUBLIC_CHANNEL,
            type: 0,
            permission_overwrites: [{ id: GUILD, type: 0, allow: "0", deny: "1024" }],
          },
        }),
      "private",
    ],
    [
      "a DM (no guild) → private",
      (p) => {
        delete p.guild_id;
        delete p.member;
        p.user = { id: "1", username: "ian" };
        p.channel = { id: PUBLIC_CHANNEL, type: 1 };
      },
      "private",
    ],
    ["a group DM context → private", (p) => Object.assign(p, { context: 2 }), "private"],
    [
      "an interaction channel that is not the message's → private",
      (p) => Object.assign(p, { channel: { id: "772900000000000001", type: 0 } }),
      "private",
    ],
    [
      "a voice channel's text chat → private",
      (p) => Object.assign(p, { channel: { id: PUBLIC_CHANNEL, type: 2 } }),
      "private",
    ],
  ])("%s", async (_name, change, expected) => {
    fakeOutbound();
    expect(await visibilityOf(invocation(change))).toBe(expected);
  });

  it("with no public channels configured, every message-command ticket is private", async () => {
    fakeOutbound();
    await useConfig();
    expect(await visibilityOf(invocation(() => {}))).toBe("private");
  });
});

describe("survey links", () => {
  async function surveyUrl(out: ReturnType<typeof fakeOutbound>, key: string): Promise<string> {
    await flush(key);
    const bodies = out.calls.map((c) => JSON.stringify(c.body));
    const match = bodies
      .filter((b) => b.includes(key))
      .map((b) => /https:\/\/desk\.test\/survey\/[A-Za-z0-9_-]{32}/.exec(b)?.[0])
      .find((u) => u !== undefined);
    if (match === undefined) throw new Error(`no survey link for ${key}`);
    return match;
  }

  async function answer(url: string, score: number) {
    return request(new URL(url).pathname, {
      method: "POST",
      token: null,
      body: new URLSearchParams({ score: String(score) }),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  }

  it("a reopen revokes the survey: its page says so and an answer is refused, not counted", async () => {
    const out = fakeOutbound();
    const { issue, key } = await openGithubIssue(`Survey ${secretWord()}`, "question");
    await replyTo(key, "answer");
    await resolveTicket(key);
    const url = await surveyUrl(out, key);
    expect((await request(new URL(url).pathname, { token: null })).status).toBe(200);

    // A passer-by's comment reopens it (a customer message on a resolved ticket).
    await postGithub("issue_comment", customerComment(issue, "me too"));
    const page = await request(new URL(url).pathname, { token: null });
    expect(page.status).toBe(410);
    expect(await page.text()).toContain("reopened");
    const refused = await answer(url, 1);
    expect(refused.status).toBe(410);
    expect(await refused.text()).toContain("Nothing was recorded");
    expect(
      ((await ticketOf(key)) as unknown as { customerEffort: { score: null } }).customerEffort.score,
    ).toBeNull();
  });

  it("an agent's reopen (and GitHub's) revokes it too; the next resolution sends a fresh one", async () => {
    const out = fakeOutbound();
    const { issue, key } = await openGithubIssue(`Survey ${secretWord()}`, "question");
    await resolveTicket(key);
    const first = await surveyUrl(out, key);
    await postGithub(
      "issues",
      edit(aboutIssue(reopened1, issue), () => {}),
    );
    expect((await answer(first, 5)).status).toBe(410);
    out.calls.length = 0;
    await resolveTicket(key);
    const second = await surveyUrl(out, key);
    expect(second).not.toBe(first);
    expect((await answer(second, 6)).status).toBe(200);
    expect((await answer(second, 1)).status).toBe(409);
  });

  it("a link posted on a public channel expires after 7 days; one sent only to the requester does not", async () => {
    const out = fakeOutbound();
    const start = Date.now();
    const { key } = await openGithubIssue(`Survey ${secretWord()}`, "question");
    await resolveTicket(key);
    const publicUrl = await surveyUrl(out, key);
    const privateKey = (await postMessage({ text: "hi", callbackUrl: "https://hooks.customer.test/cb" })).body
      .ticket as string;
    await resolveTicket(privateKey);
    const privateUrl = await surveyUrl(out, privateKey);

    advanceTo(start + 7 * 86_400_000 + 60_000);
    const page = await request(new URL(publicUrl).pathname, { token: null });
    expect(page.status).toBe(410);
    expect(await page.text()).toContain("expired");
    expect((await answer(publicUrl, 7)).status).toBe(410);
    expect((await answer(privateUrl, 7)).status).toBe(200);
  });

  it("a public ticket's survey page names it; a private one's does not", async () => {
    const out = fakeOutbound();
    const { key } = await openGithubIssue(`Survey ${secretWord()}`, "question");
    await resolveTicket(key);
    expect(
      await (await request(new URL(await surveyUrl(out, key)).pathname, { token: null })).text(),
    ).toContain(key);
    const privateKey = (await postMessage({ text: "hi", callbackUrl: "https://hooks.customer.test/cb" })).body
      .ticket as string;
    await resolveTicket(privateKey);
    const html = await (
      await request(new URL(await surveyUrl(out, privateKey)).pathname, { token: null })
    ).text();
    expect(html).not.toContain(privateKey);
  });
});
