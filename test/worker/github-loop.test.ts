import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import opened1 from "../fixtures/corpus/github/issues.opened.1.json";
import reopened1 from "../fixtures/corpus/github/issues.reopened.1.json";
// octokit/webhooks' `pull_request` `closed` example, byte for byte (test/fixtures/github/SOURCES.md).
import prClosed from "../fixtures/github/pull_request.closed.json";
import { edit, onIssue, postGithub } from "./github-helpers";
import { fakeOutbound, flush, getTicket, request, TEST_CONFIG, unique, useConfig } from "./helpers";

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** The desk trusts merged pull requests of the repository the example comes from (it routes it). */
const LOOP_CONFIG = {
  ...TEST_CONFIG,
  routes: [...TEST_CONFIG.routes, { team: "sdk", when: { githubRepo: "Codertocat/Hello-World" } }],
};

beforeEach(async () => {
  await useConfig(LOOP_CONFIG);
});

async function openIssueTicket() {
  const payload = onIssue(opened1);
  const opened = await postGithub("issues", payload);
  expect(opened.status).toBe(202);
  const key = opened.body.ticket as string;
  await flush(key);
  return { key, repo: payload.repository.full_name, number: payload.issue.number, payload };
}

/** The example, merged, its body naming `text` (no `closed` example octokit publishes is merged). */
function mergedPr(text: string, change: (pr: typeof prClosed) => void = () => {}) {
  return edit(prClosed, (p) => {
    p.pull_request.merged = true;
    (p.pull_request as { merged_at: string | null }).merged_at = "2026-12-01T10:00:00Z";
    p.pull_request.body = `${p.pull_request.body}\n\n${text}`;
    change(p);
  });
}

describe("GitHub: merged pull requests ship improvements", () => {
  it("a merged pull request naming a ticket ships a bug improvement on it and reopens it for the news", async () => {
    fakeOutbound();
    const { key } = await openIssueTicket();
    const reply = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Confirmed, a fix is on its way." },
    });
    expect(reply.status).toBe(201);
    expect((await getTicket(key)).status).toBe("pending");

    // Closed without a merge: nothing ships (the example exactly as octokit publishes it, naming the ticket).
    const unmerged = edit(prClosed, (p) => {
      p.pull_request.body = `Fixes ${key}`;
    });
    const ignored = await postGithub("pull_request", unmerged);
    expect(ignored.status).toBe(200);
    expect(ignored.body.ignored).toMatch(/without being merged/);
    expect((await getTicket(key)).improvements).toEqual([]);

    const merged = await postGithub("pull_request", mergedPr(`Fixes ${key.toLowerCase()}.`));
    expect(merged.status).toBe(202);
    const t = await getTicket(key);
    expect(t.improvements).toEqual([
      expect.objectContaining({
        kind: "bug",
        source: "github",
        ref: "Codertocat/Hello-World#2",
        url: "https://github.com/Codertocat/Hello-World/pull/2",
        state: "shipped",
        shippedAt: "2026-12-01T10:00:00.000Z",
      }),
    ]);
    expect(t.status).toBe("open");
    expect(t.responseDueAt).not.toBeNull();
    expect(t.messages.filter((m) => m.kind === "system" && m.text.includes("has shipped"))).toHaveLength(1);

    // Redelivered: nothing twice.
    const again = await postGithub("pull_request", mergedPr(`Fixes ${key.toLowerCase()}.`), {
      delivery: merged.delivery,
    });
    expect(again.status).toBe(200);
    const after = await getTicket(key);
    expect(after.improvements).toHaveLength(1);
    expect(after.messages.filter((m) => m.kind === "system" && m.text.includes("has shipped"))).toHaveLength(
      1,
    );
    await flush(key);
  });

  it("ignores a merged pull request from a repository the desk does not route", async () => {
    fakeOutbound();
    const { key } = await openIssueTicket();
    const fork = mergedPr(`Fixes ${key}`, (p) => {
      p.repository.full_name = `evil/${unique("fork")}`;
    });
    const answer = await postGithub("pull_request", fork);
    expect(answer.status).toBe(200);
    expect(answer.body.ignored).toMatch(/not a repository the desk routes/);
    expect((await getTicket(key)).improvements).toEqual([]);
  });
});

describe("GitHub: the issue follows the ticket", () => {
  it("resolving on the desk closes the issue as completed; reopening reopens it; critical adds the label", async () => {
    const out = fakeOutbound(async () => Response.json({ id: 1 }));
    const { key, repo, number } = await openIssueTicket();
    const issuePath = `/repos/${repo}/issues/${number}`;
    const patches = () =>
      out
        .to("github.fake")
        .filter((c) => c.method === "PATCH" && new URL(c.url).pathname === issuePath)
        .map((c) => c.body);

    expect(
      (await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } })).status,
    ).toBe(200);
    await flush(key);
    expect(patches()).toEqual([{ state: "closed", state_reason: "completed" }]);

    expect((await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "open" } })).status).toBe(
      200,
    );
    await flush(key);
    expect(patches()).toEqual([
      { state: "closed", state_reason: "completed" },
      { state: "open", state_reason: "reopened" },
    ]);

    expect(
      (await request(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "critical" } })).status,
    ).toBe(200);
    await flush(key);
    const labels = out
      .to("github.fake")
      .filter((c) => c.method === "POST" && new URL(c.url).pathname === `${issuePath}/labels`)
      .map((c) => c.body);
    expect(labels).toContainEqual({ labels: ["critical"] });
  });

  it("a reopen that came from GitHub is not sent back, and github.closeOnResolve false leaves the issue open", async () => {
    const out = fakeOutbound(async () => Response.json({ id: 1 }));
    const { key, repo, number, payload } = await openIssueTicket();
    const issuePath = `/repos/${repo}/issues/${number}`;
    const patches = () =>
      out.to("github.fake").filter((c) => c.method === "PATCH" && new URL(c.url).pathname === issuePath);

    await useConfig({ ...LOOP_CONFIG, github: { closeOnResolve: false } });
    expect(
      (await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } })).status,
    ).toBe(200);
    await flush(key);
    expect(patches()).toEqual([]);

    await useConfig(LOOP_CONFIG);
    const reopened = edit(reopened1, (p) => {
      p.repository.full_name = repo;
      p.issue.number = number;
      p.issue.id = payload.issue.id;
    });
    expect((await postGithub("issues", reopened)).status).toBe(202);
    await flush(key);
    expect((await getTicket(key)).status).toBe("open");
    expect(patches()).toEqual([]);
  });
});
