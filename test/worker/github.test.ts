import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import commentCreated1 from "../fixtures/corpus/github/issue_comment.created.1.json";
import commentCreated2 from "../fixtures/corpus/github/issue_comment.created.2.json";
import commentCreated3 from "../fixtures/corpus/github/issue_comment.created.3.json";
import commentCreated4 from "../fixtures/corpus/github/issue_comment.created.4.json";
import commentCreated5 from "../fixtures/corpus/github/issue_comment.created.5.json";
import commentDeleted1 from "../fixtures/corpus/github/issue_comment.deleted.1.json";
import commentDeleted2 from "../fixtures/corpus/github/issue_comment.deleted.2.json";
import commentEdited1 from "../fixtures/corpus/github/issue_comment.edited.1.json";
import commentEdited2 from "../fixtures/corpus/github/issue_comment.edited.2.json";
import issuesEdited1 from "../fixtures/corpus/github/issues.edited.1.json";
import issuesEdited2 from "../fixtures/corpus/github/issues.edited.2.json";
import issuesEdited3 from "../fixtures/corpus/github/issues.edited.3.json";
import issuesLabeled1 from "../fixtures/corpus/github/issues.labeled.1.json";
import issuesLabeled2 from "../fixtures/corpus/github/issues.labeled.2.json";
import opened1 from "../fixtures/corpus/github/issues.opened.1.json";
import opened2 from "../fixtures/corpus/github/issues.opened.2.json";
import opened3 from "../fixtures/corpus/github/issues.opened.3.json";
import openedTransfer from "../fixtures/corpus/github/issues.opened.4.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
import ping1 from "../fixtures/corpus/github/ping.none.1.json";
import ping2 from "../fixtures/corpus/github/ping.none.2.json";
import ping3 from "../fixtures/corpus/github/ping.none.3.json";
import ping4 from "../fixtures/corpus/github/ping.none.4.json";
import { edit, onIssue, postGithub } from "./github-helpers";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  flush,
  getTicket as getTicketJson,
  HOUR,
  request,
  TEST_CONFIG,
  type TicketJson,
  useConfig,
} from "./helpers";

const getTicket = async (key: string) => (await getTicketJson(key)) as TicketJson & { subject: string };

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** Calls to the fake GitHub API about one repository (other tests' timers may still be sending). */
function githubCalls(out: ReturnType<typeof fakeOutbound>, repo: string) {
  return out.to("github.fake").filter((c) => new URL(c.url).pathname.startsWith(`/repos/${repo}/`));
}

const TABLES = ["tickets", "messages", "idempotency_keys", "thread_keys", "escalations"];
const counts = () => Promise.all(TABLES.map(countRows));

/** The closed event has no corpus file: it is `reopened` with the action GitHub sends on close. */
const closed = edit(reopened1, (p) => {
  p.action = "closed";
  p.issue.state = "closed";
});

async function openIssue(payload: unknown = opened1, where: Parameters<typeof onIssue>[1] = {}) {
  const issue = onIssue(payload as typeof opened1, where);
  const result = await postGithub("issues", issue);
  expect(result.status).toBe(202);
  return { issue, key: result.body.ticket as string, result };
}

/** A corpus payload about the same issue as `issue` (same repository, number and id). */
function about<T>(payload: T, issue: typeof opened1): T {
  return onIssue(payload, {
    repo: issue.repository.full_name,
    number: issue.issue.number,
    issueId: issue.issue.id,
  });
}

describe("POST /webhooks/github: verification", () => {
  it("a bad signature is 401 and stores nothing", async () => {
    const before = await counts();
    const issue = onIssue(opened1);
    const wrong = await postGithub("issues", issue, { signature: `sha256=${"0".repeat(64)}` });
    expect(wrong.status).toBe(401);
    expect(wrong.response.headers.get("content-type")).toContain("application/problem+json");
    const otherSecret = await postGithub("issues", issue, {
      signature: await import("./github-helpers").then((h) =>
        h.githubSignature(JSON.stringify(issue), "not it"),
      ),
    });
    expect(otherSecret.status).toBe(401);
    const garbled = await postGithub("issues", issue, { signature: "sha1=abc" });
    expect(garbled.status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("a missing signature is 401", async () => {
    const result = await postGithub("issues", onIssue(opened1), { signature: null });
    expect(result.status).toBe(401);
    expect(result.body.detail).toContain("X-Hub-Signature-256");
  });

  it("a body that was changed after signing is 401", async () => {
    const issue = onIssue(opened1);
    const { githubSignature } = await import("./github-helpers");
    const signature = await githubSignature(JSON.stringify(issue));
    const tampered = JSON.stringify({ ...issue, issue: { ...issue.issue, title: "changed" } });
    const result = await postGithub("issues", issue, { signature, body: tampered });
    expect(result.status).toBe(401);
  });

  it("a body over 1 MiB is 413", async () => {
    const big = edit(onIssue(opened1), (p) => {
      p.issue.body = "x".repeat(1024 * 1024 + 10);
    });
    const result = await postGithub("issues", big);
    expect(result.status).toBe(413);
  });

  it("a signed body that is not JSON is 400; a payload that is not an issue event is 400", async () => {
    expect((await postGithub("issues", null, { body: "not json" })).status).toBe(400);
    const result = await postGithub("issues", { action: "opened", issue: { number: "one" } });
    expect(result.status).toBe(400);
    expect(result.body.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: "issue.id" })]),
    );
  });

  it.each([
    ["ping.none.1", ping1],
    ["ping.none.2", ping2],
    ["ping.none.3", ping3],
    ["ping.none.4", ping4],
  ])("answers %s with 200", async (_name, payload) => {
    const result = await postGithub("ping", payload);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ ok: true, pong: true });
  });

  it("answers events it does not handle with 200 and ignores them", async () => {
    const before = await counts();
    const result = await postGithub("star", { action: "created" });
    expect(result.status).toBe(200);
    expect(result.body.ignored).toContain("star");
    expect(await counts()).toEqual(before);
  });
});

describe("issues.opened", () => {
  it.each([
    ["issues.opened.1", opened1],
    ["issues.opened.3 (organization)", opened3],
  ])(
    "%s opens a public GitHub ticket, labelled `support`, without an acknowledgement comment",
    async (_n, payload) => {
      const out = fakeOutbound();
      const before = Date.now();
      const { issue, key, result } = await openIssue(payload);
      expect(result.body).toMatchObject({ ok: true, created: true, replay: false, what: "opened" });
      const ticket = await getTicket(key);
      expect(ticket).toMatchObject({
        channel: "github",
        subject: "Spelling error in the README file",
        status: "open",
        priority: "normal",
        policy: "github",
        team: "support",
        visibility: "public",
        escalationLevel: 1,
        requester: { name: null, email: null, handle: "Codertocat" },
      });
      const due = Date.parse(ticket.responseDueAt as string) - before;
      expect(due).toBeGreaterThanOrEqual(24 * HOUR - 1000);
      expect(due).toBeLessThanOrEqual(24 * HOUR + 1000);
      expect(ticket.messages.map((m) => [m.kind, m.text])).toEqual([
        ["customer", "It looks like you accidently spelled 'commit' with two 't's."],
      ]);

      await flush(key);
      const calls = githubCalls(out, issue.repository.full_name);
      expect(calls.map((c) => [c.method, new URL(c.url).pathname, c.body])).toEqual([
        [
          "POST",
          `/repos/${issue.repository.full_name}/issues/${issue.issue.number}/labels`,
          { labels: ["support"] },
        ],
      ]);
      expect(calls[0]?.headers.get("authorization")).toBe("Bearer ghs-test-token");
      expect(calls[0]?.headers.get("user-agent")).toBeTruthy();
    },
  );

  it("issues.opened.2 (empty body) opens a ticket with the title and no text", async () => {
    const { key } = await openIssue(opened2);
    const ticket = await getTicket(key);
    expect(ticket.subject).toBe("Spelling error in the README file");
    expect(ticket.messages[0]?.text).toBe("");
  });

  it("routes by repository: acme/sdk goes to the sdk team", async () => {
    const { key } = await openIssue(opened1, { repo: "Acme/SDK", number: 4242 });
    expect((await getTicket(key)).team).toBe("sdk");
  });

  it("a redelivery (same X-GitHub-Delivery) answers 200 with the original ticket and writes nothing", async () => {
    const out = fakeOutbound();
    const issue = onIssue(opened1);
    const first = await postGithub("issues", issue);
    await flush(first.body.ticket as string);
    const before = await counts();
    const again = await postGithub("issues", issue, { delivery: first.delivery });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ticket: first.body.ticket, created: true, replay: true });
    expect(await counts()).toEqual(before);
    await flush(first.body.ticket as string);
    expect(githubCalls(out, issue.repository.full_name)).toHaveLength(1);
  });

  it("with `github.acknowledge` on, the acknowledgement is posted as a comment and recorded", async () => {
    await useConfig({ ...TEST_CONFIG, github: { acknowledge: true, supportLabel: null } });
    const out = fakeOutbound((call) =>
      call.host === "github.fake"
        ? Response.json({ id: 777001 }, { status: 201 })
        : new Response(null, { status: 204 }),
    );
    const { issue, key } = await openIssue();
    await flush(key);
    const calls = githubCalls(out, issue.repository.full_name);
    expect(calls).toHaveLength(1);
    expect(new URL(calls[0]?.url ?? "").pathname).toBe(
      `/repos/${issue.repository.full_name}/issues/${issue.issue.number}/comments`,
    );
    const body = (calls[0]?.body as { body?: string } | undefined)?.body ?? "";
    expect(body).toMatch(
      new RegExp(`^Thanks — we have your request as ${key}\\. We will reply by .*, within 24 hours\\.`),
    );
    const ticket = await getTicket(key);
    expect(ticket.messages[1]).toMatchObject({ kind: "system", delivery: { status: "sent", error: null } });
  });

  it("a security-looking issue is private, goes to the security team, and the team is told it is already public", async () => {
    const out = fakeOutbound();
    const payload = edit(opened1, (p) => {
      p.issue.title = "Remote code execution vulnerability in the parser";
    });
    const { issue, key } = await openIssue(payload);
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({ team: "security", visibility: "private" });
    await flush(key);
    const notice = out.slack().find((m) => m.channel === "C0SECURITY");
    expect(notice?.text).toContain(key);
    expect(notice?.text).toContain("public");
    expect(notice?.text).toContain("private security advisory");
    expect(notice?.text).toContain(`${issue.repository.full_name}#${issue.issue.number}`);
  });

  it("an issue opened by a bot is not a ticket", async () => {
    const before = await counts();
    const payload = edit(onIssue(opened1), (p) => {
      p.issue.user.type = "Bot";
      p.issue.user.login = "renovate[bot]";
    });
    const result = await postGithub("issues", payload);
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("opened by a bot");
    expect(await counts()).toEqual(before);
  });
});

describe("issues.opened after a transfer (issues.opened.4)", () => {
  it("an issue we track moves with its ticket: one ticket, replies go to the new repository", async () => {
    const out = fakeOutbound();
    const oldRepo = openedTransfer.changes.old_repository.full_name;
    const { key } = await openIssue(opened1, {
      repo: oldRepo,
      number: openedTransfer.changes.old_issue.number,
    });
    const moved = onIssue(openedTransfer, { repo: "acme/moved-here", number: 77 });
    const result = await postGithub("issues", moved);
    expect(result.status).toBe(202);
    expect(result.body).toMatchObject({ ticket: key, created: false, what: "transferred" });
    const ticket = await getTicket(key);
    expect(ticket.messages.at(-1)).toMatchObject({
      kind: "system",
      text: expect.stringContaining("acme/moved-here#77"),
    });

    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed in 1.2.3." } });
    await flush(key);
    const comment = githubCalls(out, "acme/moved-here").find((c) => c.url.endsWith("/comments"));
    expect(new URL(comment?.url ?? "").pathname).toBe("/repos/acme/moved-here/issues/77/comments");
  });

  it("a transferred issue we never saw opens a new ticket", async () => {
    const moved = edit(onIssue(openedTransfer), (p) => {
      p.changes.old_repository.full_name = "octo-org/never-seen";
    });
    const result = await postGithub("issues", moved);
    expect(result.status).toBe(202);
    expect(result.body).toMatchObject({ created: true, what: "opened" });
  });
});

describe("issues.edited", () => {
  it.each([
    ["issues.edited.1", issuesEdited1],
    ["issues.edited.2", issuesEdited2],
    ["issues.edited.3", issuesEdited3],
  ])("%s updates the ticket's subject and the opening message", async (_n, payload) => {
    const { issue, key } = await openIssue();
    const edited = edit(about(payload, issue), (p) => {
      p.issue.title = "Spelling error in README.md";
      p.issue.body = "It's 'commit', not 'committ'.";
    });
    const result = await postGithub("issues", edited);
    expect(result.status).toBe(202);
    const ticket = await getTicket(key);
    expect(ticket.subject).toBe("Spelling error in README.md");
    expect(ticket.messages[0]).toMatchObject({
      text: "It's 'commit', not 'committ'.",
      editedAt: expect.any(String),
    });
    // Redelivered: nothing changes.
    const again = await postGithub("issues", edited, { delivery: result.delivery });
    expect(again.status).toBe(200);
    expect(again.body.replay).toBe(true);
  });

  it("an edit of an issue that is not a ticket is ignored", async () => {
    const result = await postGithub("issues", onIssue(issuesEdited1));
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("the issue is not a ticket");
  });
});

describe("issues.closed / issues.reopened", () => {
  it("closing resolves the ticket; reopening opens it on a fresh clock; a redelivered close changes nothing", async () => {
    const { issue, key } = await openIssue();
    const close = await postGithub("issues", about(closed, issue));
    expect(close.status).toBe(202);
    expect(close.body).toMatchObject({ ticket: key, what: "resolved", replay: false });
    let ticket = await getTicket(key);
    expect(ticket).toMatchObject({ status: "resolved", responseDueAt: null });
    expect(ticket.resolvedAt).not.toBeNull();

    const reopen = await postGithub("issues", about(reopened1, issue));
    expect(reopen.status).toBe(202);
    ticket = await getTicket(key);
    expect(ticket).toMatchObject({ status: "open", resolvedAt: null });
    expect(ticket.responseDueAt).not.toBeNull();

    const before = await counts();
    const redelivered = await postGithub("issues", about(closed, issue), { delivery: close.delivery });
    expect(redelivered.status).toBe(200);
    expect(redelivered.body).toMatchObject({ ticket: key, replay: true });
    expect((await getTicket(key)).status).toBe("open");
    expect(await counts()).toEqual(before);
  });

  it("closing an issue that is not a ticket is ignored", async () => {
    const result = await postGithub("issues", onIssue(closed));
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("the issue is not a ticket");
  });

  it("closing a critical ticket resolves its PagerDuty incident", async () => {
    const out = fakeOutbound();
    const { issue, key } = await openIssue(
      edit(opened1, (p) => {
        p.issue.title = "Production down after upgrading";
      }),
    );
    const mine = () => out.pagerDuty().filter((e) => e.dedup_key === key);
    await flush(key);
    expect(mine().map((e) => e.event_action)).toEqual(["trigger"]);
    await postGithub("issues", about(closed, issue));
    await flush(key);
    expect(mine().map((e) => [e.event_action, e.dedup_key])).toEqual([
      ["trigger", key],
      ["resolve", key],
    ]);
  });
});

describe("issues.labeled", () => {
  it.each([
    ["issues.labeled.1", issuesLabeled1],
    ["issues.labeled.2", issuesLabeled2],
  ])("%s with `bug` is not a critical label and changes nothing", async (_n, payload) => {
    const { issue, key } = await openIssue();
    const before = await counts();
    const result = await postGithub("issues", about(payload, issue));
    expect(result.status).toBe(200);
    expect(result.body.ignored).toContain("bug");
    expect((await getTicket(key)).priority).toBe("normal");
    expect(await counts()).toEqual(before);
  });

  it.each(["P0", "critical", "SEV1"])(
    "a critical label (%s, any case) makes the ticket critical, re-times the clock and pages on-call once",
    async (label) => {
      const out = fakeOutbound();
      const { issue, key } = await openIssue();
      const created = Date.parse((await getTicket(key)).createdAt);
      const labeled = edit(about(issuesLabeled1, issue), (p) => {
        p.label.name = label;
      });
      const result = await postGithub("issues", labeled);
      expect(result.status).toBe(202);
      expect(result.body).toMatchObject({ what: "critical" });
      const ticket = await getTicket(key);
      expect(ticket).toMatchObject({ priority: "critical", policy: "critical" });
      expect(Date.parse(ticket.responseDueAt as string) - created).toBe(HOUR);
      const mine = () => out.pagerDuty().filter((e) => e.dedup_key === key);
      await flush(key);
      expect(mine()).toEqual([expect.objectContaining({ event_action: "trigger", dedup_key: key })]);

      const again = await postGithub("issues", labeled, { delivery: result.delivery });
      expect(again.body.replay).toBe(true);
      await flush(key);
      expect(mine()).toHaveLength(1);
    },
  );

  it("the critical labels are configurable", async () => {
    await useConfig({ ...TEST_CONFIG, criticalLabels: ["prio: urgent"] });
    const { issue, key } = await openIssue();
    const p0 = await postGithub(
      "issues",
      edit(about(issuesLabeled1, issue), (p) => {
        p.label.name = "P0";
      }),
    );
    expect(p0.body.ignored).toBeDefined();
    const urgent = await postGithub(
      "issues",
      edit(about(issuesLabeled1, issue), (p) => {
        p.label.name = "Prio: Urgent";
      }),
    );
    expect(urgent.status).toBe(202);
    expect((await getTicket(key)).priority).toBe("critical");
  });
});

describe("issue_comment", () => {
  it.each([
    ["issue_comment.created.1", commentCreated1],
    ["issue_comment.created.2", commentCreated2],
    ["issue_comment.created.3", commentCreated3],
    ["issue_comment.created.4 (installation)", commentCreated4],
    ["issue_comment.created.5 (organization)", commentCreated5],
  ])(
    "%s by the repository OWNER is a staff response: the clock stops, the ticket waits on the customer",
    async (_n, payload) => {
      const { issue, key } = await openIssue();
      const result = await postGithub("issue_comment", about(payload, issue));
      expect(result.status).toBe(202);
      const ticket = await getTicket(key);
      expect(ticket).toMatchObject({ status: "pending", responseDueAt: null });
      expect(ticket.firstResponseAt).not.toBeNull();
      expect(ticket.messages.at(-1)).toMatchObject({
        direction: "outbound",
        kind: "staff",
        author: "Codertocat",
        text: "You are totally right! I'll get this fixed right away.",
      });
    },
  );

  it.each(["MEMBER", "COLLABORATOR"])("a %s comment is a staff response", async (association) => {
    const { issue, key } = await openIssue();
    await postGithub(
      "issue_comment",
      edit(about(commentCreated1, issue), (p) => {
        p.comment.author_association = association;
      }),
    );
    expect((await getTicket(key)).status).toBe("pending");
  });

  it.each(["NONE", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR"])(
    "a comment by an outsider (%s) is a customer message: it reopens a pending ticket and starts a clock",
    async (association) => {
      const { issue, key } = await openIssue();
      await postGithub("issue_comment", about(commentCreated1, issue));
      expect((await getTicket(key)).status).toBe("pending");
      const outsider = edit(about(commentCreated1, issue), (p) => {
        p.comment.id = 555_000_001;
        p.comment.author_association = association;
        p.comment.user.login = "someone-else";
        p.comment.body = "Still broken for me on 2.0.";
      });
      const result = await postGithub("issue_comment", outsider);
      expect(result.status).toBe(202);
      const ticket = await getTicket(key);
      expect(ticket.status).toBe("open");
      expect(ticket.responseDueAt).not.toBeNull();
      expect(ticket.messages.at(-1)).toMatchObject({
        direction: "inbound",
        kind: "customer",
        author: "someone-else",
        text: "Still broken for me on 2.0.",
      });
    },
  );

  it("a duplicate comment delivery is stored once", async () => {
    const { issue, key } = await openIssue();
    const comment = about(commentCreated1, issue);
    const first = await postGithub("issue_comment", comment);
    const before = await counts();
    const again = await postGithub("issue_comment", comment, { delivery: first.delivery });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ ticket: key, replay: true });
    expect(await counts()).toEqual(before);
  });

  it("a comment on an issue that is not a ticket is ignored and stores nothing", async () => {
    const before = await counts();
    const result = await postGithub(
      "issue_comment",
      edit(onIssue(commentCreated1), (p) => {
        p.comment.author_association = "NONE";
      }),
    );
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("a comment on an issue that is not a ticket");
    expect(await counts()).toEqual(before);
  });

  it("a comment on a pull request is ignored (pull requests are not tickets)", async () => {
    const before = await counts();
    const onPr = edit(onIssue(commentCreated1), (p) => {
      p.comment.author_association = "NONE";
      (p.issue as Record<string, unknown>).pull_request = { url: "https://api.github.com/repos/a/b/pulls/1" };
    });
    const result = await postGithub("issue_comment", onPr);
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("a comment on a pull request that is not a ticket");
    expect(await counts()).toEqual(before);
  });

  it("our own GitHub App (a configured bot login) answers as staff; other bots are recorded and start no clock", async () => {
    await useConfig({ ...TEST_CONFIG, github: { botLogins: ["switchboard-desk[bot]"] } });
    const { issue, key } = await openIssue();
    const dependabot = edit(about(commentCreated1, issue), (p) => {
      p.comment.id = 555_000_010;
      p.comment.user.type = "Bot";
      p.comment.user.login = "dependabot[bot]";
      p.comment.author_association = "NONE";
      p.comment.body = "Bumps left-pad from 1.0 to 1.1.";
    });
    await postGithub("issue_comment", dependabot);
    let ticket = await getTicket(key);
    expect(ticket.status).toBe("open");
    expect(ticket.firstResponseAt).toBeNull();
    expect(ticket.messages.at(-1)).toMatchObject({ kind: "system", author: "dependabot[bot]" });

    const ours = edit(dependabot, (p) => {
      p.comment.id = 555_000_011;
      p.comment.user.login = "Switchboard-Desk[bot]";
      p.comment.body = "A fix is on its way.";
    });
    await postGithub("issue_comment", ours);
    ticket = await getTicket(key);
    expect(ticket.status).toBe("pending");
    expect(ticket.messages.at(-1)).toMatchObject({ kind: "staff", author: "Switchboard-Desk[bot]" });
  });

  it.each([
    ["issue_comment.edited.1", commentEdited1],
    ["issue_comment.edited.2", commentEdited2],
  ])("%s updates the stored comment", async (_n, payload) => {
    const { issue, key } = await openIssue();
    await postGithub("issue_comment", about(commentCreated1, issue));
    const result = await postGithub(
      "issue_comment",
      edit(about(payload, issue), (p) => {
        p.comment.body = "Fixed it myself, thanks!";
      }),
    );
    expect(result.status).toBe(202);
    expect((await getTicket(key)).messages.at(-1)).toMatchObject({
      text: "Fixed it myself, thanks!",
      editedAt: expect.any(String),
    });
  });

  it.each([
    ["issue_comment.deleted.1", commentDeleted1],
    ["issue_comment.deleted.2", commentDeleted2],
  ])("%s records the deletion and keeps the text for the record", async (_n, payload) => {
    const { issue, key } = await openIssue();
    await postGithub("issue_comment", about(commentCreated1, issue));
    const result = await postGithub("issue_comment", about(payload, issue));
    expect(result.status).toBe(202);
    expect((await getTicket(key)).messages.at(-1)).toMatchObject({
      text: "You are totally right! I'll get this fixed right away.",
      deletedAt: expect.any(String),
    });
  });
});

describe("agent replies on GitHub", () => {
  it("a public reply becomes an issue comment; GitHub's echo of it is not stored twice", async () => {
    const out = fakeOutbound((call) =>
      call.host === "github.fake" && call.url.endsWith("/comments")
        ? Response.json({ id: 888_000_001, body: (call.body as { body: string }).body }, { status: 201 })
        : new Response(null, { status: 204 }),
    );
    const { issue, key } = await openIssue(opened1, { repo: "acme/sdk", number: 5150 });
    const reply = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Thanks, fixed in main." },
    });
    expect(reply.status).toBe(201);
    await flush(key);
    const comment = githubCalls(out, "acme/sdk").find((c) => c.url.endsWith("/5150/comments"));
    expect(new URL(comment?.url ?? "").pathname).toBe("/repos/acme/sdk/issues/5150/comments");
    const body = (comment?.body as { body?: string } | undefined)?.body ?? "";
    expect(body.startsWith("Thanks, fixed in main.")).toBe(true);
    expect(body).toContain(`<!-- switchboard:${key} -->`);
    let ticket = await getTicket(key);
    expect(ticket.messages.at(-1)).toMatchObject({
      kind: "staff",
      delivery: { status: "sent", error: null },
    });

    // GitHub's echo comes from our own app's bot user, through the app (issue 13: a marker from
    // anyone else is a person writing, and is stored).
    const echo = edit(about(commentCreated1, issue), (p) => {
      p.comment.id = 888_000_001;
      p.comment.body = body;
      p.comment.user = { ...p.comment.user, login: "switchboard-desk[bot]", type: "Bot" };
      Object.assign(p.comment, { performed_via_github_app: { id: 1, slug: "switchboard-desk" } });
    });
    const result = await postGithub("issue_comment", echo);
    expect(result.status).toBe(200);
    expect(result.body.ignored).toBe("our own reply");
    ticket = await getTicket(key);
    expect(ticket.messages.filter((m) => m.kind === "staff")).toHaveLength(1);
  });

  it("a failing GitHub API is retried and the failure shows on the ticket", async () => {
    const out = fakeOutbound((call) =>
      call.host === "github.fake"
        ? new Response("Issue is locked", { status: 403 })
        : new Response(null, { status: 204 }),
    );
    const { issue, key } = await openIssue();
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Hello" } });
    await flush(key);
    // A plain 403 (locked issue, missing permission) is permanent: one attempt each, then failed.
    expect(githubCalls(out, issue.repository.full_name)).toHaveLength(2);
    const ticket = await getTicket(key);
    expect(ticket.messages.find((m) => m.text === "Hello")?.delivery).toMatchObject({ status: "failed" });
  });

  it("a rate-limited 403 is retried", async () => {
    let calls = 0;
    const out = fakeOutbound((call) => {
      if (!call.url.startsWith("https://github.fake/repos/acme/rate-limited/"))
        return new Response(null, { status: 204 });
      calls += 1;
      return calls === 1
        ? new Response("rate limited", {
            status: 403,
            headers: { "x-ratelimit-remaining": "0", "retry-after": "3" },
          })
        : new Response(null, { status: 200 });
    });
    const { issue, key } = await openIssue(opened1, { repo: "acme/rate-limited", number: 9001 });
    await flush(key);
    advanceTo(Date.now() + 3_001);
    await flush(key);
    expect(githubCalls(out, issue.repository.full_name)).toHaveLength(2);
  });
});
