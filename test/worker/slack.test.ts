import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import worker from "../../src/index";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  flush,
  getTicket,
  HOUR,
  request,
  type TicketJson,
  useConfig,
} from "./helpers";
import {
  appMention,
  blockActions,
  blockActionsForm,
  botIdNewStyle,
  botMessage,
  DESK_TEAM,
  envelope,
  extSharedOwnBot,
  fileShare,
  fileShareInThread,
  freshChannel,
  freshTs,
  inThread,
  jsonLogsMessage,
  messageChanged,
  plain,
  postEvent,
  postInteraction,
  reactionAdded,
  signedHeaders,
  threadBroadcast,
  urlVerification,
} from "./slack-fixtures";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

type Attachment = { filename: string; contentType: string; size: number; url: string };
type FullTicket = Omit<TicketJson, "messages"> & {
  channel: string;
  requester: { name: string | null; handle: string | null };
  messages: (TicketJson["messages"][number] & {
    attachments: Attachment[];
    editedAt: string | null;
    deletedAt: string | null;
  })[];
};

async function ticket(key: string): Promise<FullTicket> {
  return (await getTicket(key)) as FullTicket;
}

async function stored() {
  return {
    tickets: await countRows("tickets"),
    messages: await countRows("messages"),
    keys: await countRows("idempotency_keys"),
  };
}

/**
 * A customer's top-level message in a fresh channel: opens a ticket. Its acknowledgement is sent
 * before the test goes on, so no call of this ticket is left to land in a later test.
 */
async function openSlackTicket(event: Record<string, unknown> = {}) {
  const channel = freshChannel();
  const ts = freshTs();
  const body = envelope(plain, { channel, ts, event_ts: ts, ...event });
  const { response, json } = await postEvent(body);
  expect(response.status).toBe(200);
  expect(json).toMatchObject({ ok: true, created: true, replay: false });
  const key = json.ticket as string;
  await flush(key);
  return { key, channel, ts, body };
}

/** The calls made to Slack's API, optionally only those to some channels (tests use fresh ones). */
function slackCalls(out: ReturnType<typeof fakeOutbound>, ...channels: string[]): Record<string, unknown>[] {
  const calls: Record<string, unknown>[] = out.to("slack.fake").map((c) => ({
    method: new URL(c.url).pathname.split("/").pop(),
    ...(c.body as Record<string, unknown>),
  }));
  return calls.filter((c) => channels.length === 0 || channels.includes(String(c.channel)));
}

describe("POST /webhooks/slack/events: verification", () => {
  it("answers url_verification with its challenge", async () => {
    const { response, json } = await postEvent(urlVerification);
    expect(response.status).toBe(200);
    expect(json).toEqual({ challenge: "valid_challenge_token" });
  });

  it("refuses a bad signature with 401 and stores nothing", async () => {
    const before = await stored();
    const body = envelope(plain, { channel: freshChannel(), ts: freshTs() });
    const { response, json } = await postEvent(body, { secret: "not-the-signing-secret" });
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    expect(json.detail).toMatch(/X-Slack-Signature/);
    expect(await stored()).toEqual(before);
  });

  it("refuses a body changed after signing", async () => {
    const before = await stored();
    const body = envelope(plain, { channel: freshChannel(), ts: freshTs() });
    const signedFor = await signedHeaders(JSON.stringify(body));
    const tampered = JSON.stringify({ ...body, team_id: "T0ACME" });
    const { response } = await postEvent(tampered, { headers: signedFor });
    expect(response.status).toBe(401);
    expect(await stored()).toEqual(before);
  });

  it.each([
    ["6 minutes old", -360],
    ["6 minutes ahead", 360],
  ])("refuses a correctly signed request whose timestamp is %s", async (_label, offset) => {
    const before = await stored();
    const body = envelope(plain, { channel: freshChannel(), ts: freshTs() });
    const { response, json } = await postEvent(body, { timestamp: Math.floor(Date.now() / 1000) + offset });
    expect(response.status).toBe(401);
    expect(json.detail).toMatch(/5 minutes/);
    expect(await stored()).toEqual(before);
  });

  it("accepts a timestamp 4 minutes old (inside the window)", async () => {
    fakeOutbound();
    const body = envelope(plain, { channel: freshChannel(), ts: freshTs() });
    const { response, json } = await postEvent(body, { timestamp: Math.floor(Date.now() / 1000) - 240 });
    expect(response.status).toBe(200);
    await flush(json.ticket as string);
  });

  it("refuses a request without the signature headers", async () => {
    const response = await exports.default.fetch(
      new Request("https://desk.test/webhooks/slack/events", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(urlVerification),
      }),
    );
    expect(response.status).toBe(401);
  });

  it("without SLACK_SIGNING_SECRET every Slack request is refused (503, no retry) and nothing is stored", async () => {
    const before = await stored();
    const raw = JSON.stringify(envelope(plain, { channel: freshChannel(), ts: freshTs() }));
    const ctx = createExecutionContext();
    const response = await worker.fetch(
      new Request("https://desk.test/webhooks/slack/events", {
        method: "POST",
        headers: { "content-type": "application/json", ...(await signedHeaders(raw)) },
        body: raw,
      }),
      { ...env, SLACK_SIGNING_SECRET: "" },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(response.status).toBe(503);
    expect(response.headers.get("x-slack-no-retry")).toBe("1");
    expect(await stored()).toEqual(before);
  });

  it("answers a body over 1 MiB with 413", async () => {
    const big = JSON.stringify({ type: "event_callback", padding: "x".repeat(1024 * 1024) });
    const { response } = await postEvent(big);
    expect(response.status).toBe(413);
  });
});

describe("POST /webhooks/slack/events: messages", () => {
  it("a top-level message opens a private ticket, answered at once, and is acknowledged in its thread", async () => {
    const out = fakeOutbound();
    const started = Date.now();
    const { key, channel, ts } = await openSlackTicket();
    expect(Date.now() - started).toBeLessThan(3000);

    const opened = await ticket(key);
    expect(opened).toMatchObject({
      channel: "slack",
      subject: "Hello World!",
      status: "open",
      policy: "slack",
      customer: null,
      assignee: null,
      visibility: "private",
      escalationLevel: 2,
      requester: { name: "W111", handle: "W111" },
    });
    expect(Date.parse(opened.responseDueAt as string) - Date.parse(opened.createdAt)).toBe(24 * HOUR);

    expect(slackCalls(out, channel)).toEqual([
      {
        method: "chat.postMessage",
        unfurl_links: false,
        channel,
        thread_ts: ts,
        text: expect.stringMatching(
          new RegExp(`^Thanks — we have your request as ${key}\\. We will reply by .*, within 24 hours\\.$`),
        ),
      },
    ]);
    const acknowledged = await ticket(key);
    expect(acknowledged.messages.map((m) => [m.direction, m.kind, m.delivery?.status ?? null])).toEqual([
      ["inbound", "customer", null],
      ["outbound", "system", "sent"],
    ]);
  });

  it("a retry of the same event (X-Slack-Retry-Num) changes nothing and is not acknowledged twice", async () => {
    const out = fakeOutbound();
    const { key, channel, body } = await openSlackTicket();
    const before = await stored();
    const retry = await postEvent(body, {
      headers: { "x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout" },
    });
    expect(retry.response.status).toBe(200);
    expect(retry.json).toMatchObject({ ok: true, ticket: key, created: true, replay: true });
    expect(await stored()).toEqual(before);
    await flush(key);
    expect(slackCalls(out, channel)).toHaveLength(1);
  });

  it("a reply in the ticket's thread (thread_ts) threads into it", async () => {
    fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const replyTs = freshTs();
    const { json } = await postEvent(
      envelope(inThread, { channel, channel_type: "channel", thread_ts: ts, ts: replyTs, event_ts: replyTs }),
    );
    expect(json).toMatchObject({ ok: true, ticket: key, created: false, replay: false });
    const after = await ticket(key);
    expect(after.messages.filter((m) => m.kind === "customer").map((m) => m.text)).toEqual([
      "Hello World!",
      "When Slack was released?",
    ]);
    expect(after.status).toBe("open");
  });

  it("a thread_broadcast reply threads in too", async () => {
    fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const replyTs = freshTs();
    const { json } = await postEvent(envelope(threadBroadcast, { channel, thread_ts: ts, ts: replyTs }));
    expect(json).toMatchObject({ ticket: key, created: false });
  });

  it("a member of SLACK_TEAM_ID replying in the thread is a staff response: it stops the clock", async () => {
    const out = fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const replyTs = freshTs();
    const { json } = await postEvent(
      envelope(inThread, {
        channel,
        channel_type: "channel",
        user: "U0ALICE",
        team: DESK_TEAM,
        user_team: DESK_TEAM,
        thread_ts: ts,
        ts: replyTs,
        text: "Looking at it now",
      }),
    );
    expect(json).toMatchObject({ ticket: key, created: false });
    const after = await ticket(key);
    expect(after).toMatchObject({ status: "pending", responseDueAt: null });
    expect(after.firstResponseAt).not.toBeNull();
    expect(after.messages.at(-1)).toMatchObject({
      direction: "outbound",
      kind: "staff",
      author: "U0ALICE",
      text: "Looking at it now",
    });
    await flush(key);
    // Only the acknowledgement went to Slack: the staff reply is already there.
    expect(slackCalls(out, channel)).toHaveLength(1);
  });

  it("a staff member's message outside any ticket thread opens nothing", async () => {
    const before = await stored();
    const ts = freshTs();
    const { json } = await postEvent(
      envelope(plain, {
        channel: freshChannel(),
        ts,
        team: DESK_TEAM,
        user_team: DESK_TEAM,
        user: "U0ALICE",
      }),
    );
    expect(json).toEqual({ ok: true, ignored: "not_threaded" });
    expect(await stored()).toEqual(before);
  });

  it("an enterprise customer's workspace gets the 4-hour policy and its account engineer, who is DMed at once", async () => {
    const out = fakeOutbound();
    const { key, channel, ts } = await openSlackTicket({
      team: "T0ACME",
      user_team: "T0ACME",
      user: "U0ACMEBOB",
      user_profile: { real_name: "Bob Acme", display_name: "bob" },
      text: "Webhooks are delayed since 09:00",
    });
    const opened = await ticket(key);
    expect(opened).toMatchObject({
      policy: "enterprise-slack",
      customer: "acme",
      assignee: "erin",
      requester: { name: "Bob Acme", handle: "U0ACMEBOB" },
    });
    expect(Date.parse(opened.responseDueAt as string) - Date.parse(opened.createdAt)).toBe(4 * HOUR);

    expect(slackCalls(out, channel, "U0ERIN")).toEqual([
      expect.objectContaining({ channel, thread_ts: ts, text: expect.stringContaining("within 4 hours") }),
      {
        method: "chat.postMessage",
        unfurl_links: false,
        channel: "U0ERIN",
        text: expect.stringMatching(
          new RegExp(
            `New Acme ticket assigned to you: <https://desk\\.test/tickets/${key}\\|${key}> “Webhooks are delayed since 09:00” via slack · reply due `,
          ),
        ),
      },
    ]);
  });

  describe.each([
    ["a classic bot_message", botMessage, "bot_message"],
    ["a bot with bot_id and no subtype", botIdNewStyle, "bot_message"],
    ["our own app's message in a Slack Connect channel", extSharedOwnBot, "own_bot"],
  ])("%s", (_label, fixture, reason) => {
    it("never opens a ticket", async () => {
      const before = await stored();
      const ts = freshTs();
      const { response, json } = await postEvent(
        envelope(fixture, { channel: freshChannel(), ts, event_ts: ts }),
      );
      expect(response.status).toBe(200);
      expect(json).toEqual({ ok: true, ignored: reason });
      expect(await stored()).toEqual(before);
    });

    it("is not added to a ticket when posted in its thread", async () => {
      fakeOutbound();
      const { key, channel, ts } = await openSlackTicket();
      const before = await stored();
      const { json } = await postEvent(envelope(fixture, { channel, thread_ts: ts, ts: freshTs() }));
      expect(json).toEqual({ ok: true, ignored: reason });
      expect(await stored()).toEqual(before);
      expect((await ticket(key)).messages).toHaveLength(2);
    });
  });

  it("message_changed edits the stored message, once", async () => {
    fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const previous = { ...(messageChanged.event.previous_message as Record<string, unknown>), ts };
    const edit = envelope(messageChanged, { channel, previous_message: previous, ts: freshTs() });
    const { json } = await postEvent(edit);
    expect(json).toEqual({ ok: true, ticket: key, changed: 1, replay: false });
    const after = await ticket(key);
    expect(after.messages[0]).toMatchObject({ text: "updated message", editedAt: expect.any(String) });

    const again = await postEvent(edit, { headers: { "x-slack-retry-num": "2" } });
    expect(again.json).toMatchObject({ ticket: key, changed: 0, replay: true });
  });

  it("message_deleted is recorded and the text kept for the record", async () => {
    fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    // Slack's documented message_deleted event (the corpus has none).
    const deleted = {
      ...envelope(plain, {}),
      event: {
        type: "message",
        subtype: "message_deleted",
        hidden: true,
        channel,
        ts: freshTs(),
        deleted_ts: ts,
        event_ts: freshTs(),
        previous_message: { type: "message", user: "W111", text: "Hello World!", ts },
      },
    };
    const { json } = await postEvent(deleted);
    expect(json).toMatchObject({ ticket: key, changed: 1 });
    expect((await ticket(key)).messages[0]).toMatchObject({
      text: "Hello World!",
      deletedAt: expect.any(String),
    });
  });

  it("a file share keeps the file's metadata; the attachment link leads to Slack, nothing is downloaded", async () => {
    const out = fakeOutbound();
    const channel = freshChannel();
    const ts = freshTs();
    const { json } = await postEvent(envelope(fileShare, { channel, ts, event_ts: ts }));
    const key = json.ticket as string;
    await flush(key);
    const opened = await ticket(key);
    const [attachment] = opened.messages[0]?.attachments ?? [];
    expect(attachment).toMatchObject({ filename: "file.png", contentType: "image/png", size: 92582 });

    const response = await request(new URL(attachment?.url ?? "").pathname, { redirect: "manual" });
    expect(response.status, await response.clone().text()).toBe(302);
    expect(response.headers.get("location")).toBe("https://files.slack.com/files-pri/T111-F111/file.png");
    const placeholder = await env.ATTACHMENTS.head("slack/T111/F111");
    expect(placeholder?.size).toBe(0);
    expect(out.to("files.slack.com")).toEqual([]);
  });

  it("a snippet shared inside a ticket's thread is added with its metadata", async () => {
    fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const { json } = await postEvent({
      ...envelope(plain, {}),
      event: { ...fileShareInThread, channel, thread_ts: ts, ts: freshTs() },
    });
    expect(json).toMatchObject({ ticket: key, created: false });
    const last = (await ticket(key)).messages.at(-1);
    expect(last?.text).toBe("This is the text in the message");
    expect(last?.attachments).toEqual([
      expect.objectContaining({ filename: "sample.txt", contentType: "text/plain", size: 4 }),
    ]);
  });

  it.each([
    ["app_mention", appMention],
    ["reaction_added (old envelope, no event_id)", reactionAdded],
    ["a payload of blank fields", jsonLogsMessage],
  ])("%s is answered 200 and ignored", async (_label, fixture) => {
    const before = await stored();
    const { response, json } = await postEvent(fixture as Record<string, unknown>);
    expect(response.status).toBe(200);
    expect(json).toMatchObject({ ok: true, ignored: "unsupported_event" });
    expect(await stored()).toEqual(before);
  });
});

describe("replies from the desk", () => {
  it("an agent's public reply goes to the ticket's Slack thread; an internal note never does", async () => {
    const out = fakeOutbound();
    const { key, channel, ts } = await openSlackTicket();
    const reply = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Fixed in <v2.3> & later" },
    });
    expect(reply.status).toBe(201);
    const note = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Root cause: consumer OOM", internal: true },
    });
    expect(note.status).toBe(201);
    await flush(key);
    expect(slackCalls(out, channel).slice(1)).toEqual([
      {
        method: "chat.postMessage",
        unfurl_links: false,
        channel,
        thread_ts: ts,
        text: "Fixed in &lt;v2.3&gt; &amp; later",
      },
    ]);
    const after = await ticket(key);
    expect(after.messages.find((m) => m.kind === "staff")?.delivery).toEqual({ status: "sent", error: null });
  });
});

describe("the Claim button on escalation notices", () => {
  async function warnedTicket(out: ReturnType<typeof fakeOutbound>) {
    const { key } = await openSlackTicket();
    const opened = await ticket(key);
    const start = Date.parse(opened.createdAt);
    const due = Date.parse(opened.responseDueAt as string);
    advanceTo(start + 0.75 * (due - start) + 1000);
    await flush(key);
    const notice = slackCalls(out, "C0SUPPORT").find((c) => String(c.text).includes(`|${key}>`));
    if (notice === undefined) throw new Error("no warning notice was sent");
    return { key, notice, noticeText: String(notice.text) };
  }

  function clickClaim(key: string, noticeText: string, user: { id: string; team_id: string }) {
    const payload = structuredClone(blockActions) as Record<string, unknown>;
    const [action] = blockActions.actions;
    return postInteraction({
      ...payload,
      user: { ...blockActions.user, ...user },
      team: { ...blockActions.team, id: user.team_id },
      container: {
        type: "message",
        message_ts: "1700000000.000100",
        channel_id: "C0SUPPORT",
        is_ephemeral: false,
      },
      channel: { id: "C0SUPPORT", name: "support" },
      message: { type: "message", ts: "1700000000.000100", text: noticeText },
      actions: [{ ...action, action_id: "claim", block_id: `claim:${key}`, value: key }],
    });
  }

  it("the team channel's notice carries the ticket key, a link and a Claim button", async () => {
    const out = fakeOutbound();
    const { key, notice, noticeText } = await warnedTicket(out);
    expect(noticeText).toContain(`<https://desk.test/tickets/${key}|${key}>`);
    expect(notice.blocks).toEqual([
      { type: "section", text: { type: "mrkdwn", text: noticeText } },
      {
        type: "actions",
        block_id: `claim:${key}`,
        elements: [expect.objectContaining({ type: "button", action_id: "claim", value: key })],
      },
    ]);
  });

  it("Claim assigns the ticket to the agent with that Slack user id and updates the notice", async () => {
    const out = fakeOutbound();
    const { key, noticeText } = await warnedTicket(out);
    const { response, json } = await clickClaim(key, noticeText, {
      id: "U0ALICE",
      team_id: DESK_TEAM,
    });
    expect(response.status).toBe(200);
    expect(json).toEqual({ ok: true, ticket: key, assignee: "alice" });
    expect((await ticket(key)).assignee).toBe("alice");

    await flush(key);
    expect(slackCalls(out, "C0SUPPORT").filter((c) => c.method === "chat.update")).toEqual([
      {
        method: "chat.update",
        channel: "C0SUPPORT",
        ts: "1700000000.000100",
        text: `${noticeText} — claimed by <@U0ALICE>`,
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: noticeText } },
          {
            type: "context",
            elements: [{ type: "mrkdwn", text: ":white_check_mark: Claimed by <@U0ALICE>" }],
          },
        ],
      },
    ]);
  });

  it("someone the config does not know is recorded by their Slack user id", async () => {
    const out = fakeOutbound();
    const { key, noticeText } = await warnedTicket(out);
    const { json } = await clickClaim(key, noticeText, { id: "U0NEWHIRE", team_id: DESK_TEAM });
    expect(json).toMatchObject({ ok: true, assignee: "U0NEWHIRE" });
    expect((await ticket(key)).assignee).toBe("U0NEWHIRE");
  });

  it("someone outside our workspace cannot claim; they are told so privately", async () => {
    const out = fakeOutbound();
    const { key, noticeText } = await warnedTicket(out);
    const { json } = await clickClaim(key, noticeText, { id: "U0ACMEBOB", team_id: "T0ACME" });
    expect(json).toEqual({ ok: false, reason: "not_staff", ticket: key });
    expect((await ticket(key)).assignee).toBeNull();
    await vi.waitFor(() =>
      expect(slackCalls(out, "C0SUPPORT").filter((c) => c.method === "chat.postEphemeral")).toEqual([
        expect.objectContaining({
          user: "U0ACMEBOB",
          text: `Only members of the support workspace can claim ${key}.`,
        }),
      ]),
    );
  });

  it("the corpus block_actions form body (another app's button) is answered 200 and changes nothing", async () => {
    const before = await stored();
    const { response, json } = await postInteraction(blockActionsForm);
    expect(response.status).toBe(200);
    expect(json).toEqual({ ok: true, ignored: "not_a_claim" });
    expect(await stored()).toEqual(before);
  });

  it("an interaction with a bad signature is refused", async () => {
    const { response } = await postInteraction(blockActionsForm, { secret: "wrong" });
    expect(response.status).toBe(401);
  });
});
