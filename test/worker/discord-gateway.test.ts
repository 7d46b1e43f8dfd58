import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { DiscordGateway } from "../../src/channels/discord/gateway";
import hello from "../fixtures/discord-gateway/hello.example.docs.json";
import invalidSession from "../fixtures/discord-gateway/invalid-session.example.docs.json";
import reconnect from "../fixtures/discord-gateway/reconnect.example.docs.json";
import threadSample from "../fixtures/discord-gateway/thread-channel.example.docs.json";
import {
  AGENT,
  BOT_USER,
  CUSTOMER,
  control,
  dispatch,
  FORUM,
  fakeState,
  gatewayObject,
  HELPER,
  messageCreate,
  messageDelete,
  messageUpdate,
  routeDiscordToFake,
  STAFF_ROLE,
  STAFF_USER,
  SUPPORT_CHANNEL,
  snowflake,
  threadCreate,
  useDiscordConfig,
  waitFor,
} from "./discord-gateway-helpers";
import { countRows, getTicket, request, type TicketJson, unique } from "./helpers";

/** The test heartbeat: short, so beats, ACKs and zombies show within a test. */
const HEARTBEAT_MS = 250;

let gateway: ReturnType<typeof gatewayObject>;

beforeEach(async () => {
  await control("reset", { token: "discord-bot-test-token", heartbeatInterval: HEARTBEAT_MS });
  routeDiscordToFake();
  await useDiscordConfig();
  gateway = gatewayObject(unique("gateway"));
});

afterEach(async () => {
  await gateway.disconnect().catch(() => {});
  vi.useRealTimers();
  vi.restoreAllMocks();
});

async function ready() {
  await gateway.ensure();
  return waitFor("READY", async () => {
    const status = await gateway.status();
    return status.state === "ready" ? status : null;
  });
}

/** The tickets list, newest first, filtered to the Discord channel. */
async function ticketWithSubject(subject: string): Promise<TicketJson> {
  const key = await waitFor(`a ticket “${subject}”`, async () => {
    const response = await request("/v1/tickets?channel=discord&status=open,pending,resolved&limit=100");
    const body = (await response.json()) as { tickets: { key: string; subject: string }[] };
    return body.tickets.find((t) => t.subject === subject)?.key;
  });
  return getTicket(key);
}

async function ticketWhen(key: string, check: (t: TicketJson) => boolean, what: string): Promise<TicketJson> {
  return waitFor(what, async () => {
    const ticket = await getTicket(key);
    return check(ticket) ? ticket : null;
  });
}

async function drained() {
  return waitFor("intake to take every event", async () => {
    const status = await gateway.status();
    return status.pendingEvents === 0 ? status : null;
  });
}

describe("the Gateway session against a fake Gateway", { timeout: 20_000 }, () => {
  it("GET /gateway/bot, connects with v=10&encoding=json, HELLO → IDENTIFY with GUILDS|GUILD_MESSAGES|MESSAGE_CONTENT → READY", async () => {
    const status = await ready();
    const fake = await fakeState();
    expect(fake.rest.filter((r) => r.path === "/gateway/bot")).toHaveLength(1);
    expect(fake.rest[0]?.authorization).toBe("Bot discord-bot-test-token");
    const identify = fake.received.find((f) => f.op === 2);
    expect(identify?.query).toEqual({ v: "10", encoding: "json" });
    expect(identify?.d).toMatchObject({ token: "[redacted]", intents: (1 << 0) | (1 << 9) | (1 << 15) });
    expect(fake.identifies).toHaveLength(1);
    expect(status).toMatchObject({
      state: "ready",
      sessionId: fake.sessionId,
      seq: 1,
      identifies: 1,
      reconnects: 0,
    });
  });

  it("heartbeats as HELLO says (first after interval × jitter) with the last seq, and records the ACKs", async () => {
    await ready();
    const connectedAt = Date.now();
    const status = await waitFor("two ACKed heartbeats", async () => {
      const s = await gateway.status();
      const fake = await fakeState();
      return fake.heartbeats >= 2 && s.lastHeartbeatAckAt !== null ? { s, fake } : null;
    });
    const beats = status.fake.received.filter((f) => f.op === 1);
    // The first beat came within one interval of HELLO (jitter ∈ [0, 1)), then one per interval.
    expect((beats[0]?.at ?? Infinity) - connectedAt).toBeLessThan(HEARTBEAT_MS + 200);
    // Each beat carries the last seq (null only for a beat before READY's seq 1 arrived).
    expect(beats.at(-1)?.d).toBe(1);
    expect(beats.every((b) => b.d === null || b.d === 1)).toBe(true);
    expect(Date.parse(status.s.lastHeartbeatAckAt ?? "")).toBeGreaterThanOrEqual(connectedAt - 1000);
    expect(hello.op).toBe(10);
  });

  it("op 7 RECONNECT: RESUMEs at resume_gateway_url with the last seq; events replayed are stored once", async () => {
    await ready();
    const threadId = snowflake();
    const [, starterSeq] = await dispatch(
      threadCreate(threadId, "Resume keeps my post"),
      messageCreate(CUSTOMER, "Posted before the reconnect", { id: threadId, channelId: threadId }),
    );
    const ticket = await ticketWithSubject("Resume keeps my post");
    await drained();
    await control("configure", { replayAll: true });
    await control("send", reconnect);
    const resumed = await waitFor("RESUMED", async () => {
      const fake = await fakeState();
      const s = await gateway.status();
      return fake.resumes.length === 1 && s.state === "ready" && s.resumes === 1 ? { fake, s } : null;
    });
    expect(resumed.fake.resumes[0]).toMatchObject({ seq: starterSeq, known: true });
    const resume = resumed.fake.received.find((f) => f.op === 6);
    expect(resume?.path).toBe("/resume");
    expect(resume?.query).toEqual({ v: "10", encoding: "json" });
    expect(resumed.fake.identifies).toHaveLength(1);
    await drained();
    const after = await getTicket(ticket.key);
    expect(after.messages.filter((m) => m.kind === "customer")).toHaveLength(1);
    expect(resumed.s.reconnects).toBe(1);
  });

  it("a dropped socket (no close frame): RESUMEs with the right seq, and a replay is stored once", async () => {
    await ready();
    const threadId = snowflake();
    await dispatch(threadCreate(threadId, "Dropped socket post"));
    await dispatch(messageCreate(CUSTOMER, "first", { id: threadId, channelId: threadId }));
    const [lastSeq] = await dispatch(messageCreate(HELPER, "a community note", { channelId: threadId }));
    const ticket = await ticketWithSubject("Dropped socket post");
    await drained();
    await control("configure", { replayAll: true });
    await control("drop", {});
    const fake = await waitFor("RESUME", async () => {
      const f = await fakeState();
      return f.resumes.length === 1 ? f : null;
    });
    expect(fake.resumes[0]).toMatchObject({ seq: lastSeq, known: true });
    await waitFor("ready again", async () => ((await gateway.status()).state === "ready" ? true : null));
    // A new message after the resume still arrives.
    await dispatch(messageCreate(CUSTOMER, "after the resume", { channelId: threadId }));
    const after = await ticketWhen(
      ticket.key,
      (t) => t.messages.some((m) => m.text === "after the resume"),
      "the new message",
    );
    expect(after.messages.filter((m) => m.text === "first")).toHaveLength(1);
    expect(after.messages.filter((m) => m.text === "a community note")).toHaveLength(1);
  });

  it("op 9 d:false: waits 1–5 s, then IDENTIFYs a new session", async () => {
    await ready();
    const sent = Date.now();
    await control("send", invalidSession);
    const fake = await waitFor(
      "a second IDENTIFY",
      async () => {
        const f = await fakeState();
        return f.identifies.length === 2 ? f : null;
      },
      8_000,
    );
    const waited = (fake.identifies[1]?.at ?? 0) - sent;
    expect(waited).toBeGreaterThanOrEqual(1_000);
    expect(waited).toBeLessThan(5_500);
    expect(fake.resumes).toHaveLength(0);
    const status = await waitFor("ready", async () => {
      const s = await gateway.status();
      return s.state === "ready" && s.sessionId === fake.sessionId ? s : null;
    });
    expect(status.identifies).toBe(2);
  });

  it("a Gateway that stops ACKing is a zombie: the object drops it and RESUMEs", async () => {
    const first = await ready();
    await control("configure", { ack: false });
    const fake = await waitFor(
      "a RESUME after missed ACKs",
      async () => {
        const f = await fakeState();
        return f.resumes.length >= 1 ? f : null;
      },
      5_000,
    );
    expect(fake.resumes[0]).toMatchObject({ sessionId: first.sessionId, seq: 1, known: true });
    expect(fake.connections).toBeGreaterThanOrEqual(2);
    await control("configure", { ack: true });
    const status = await waitFor("ready", async () => {
      const s = await gateway.status();
      return s.state === "ready" ? s : null;
    });
    expect(status.reconnects).toBeGreaterThanOrEqual(1);
    expect(status.lastError).toBeNull();
    expect(fake.identifies).toHaveLength(1);
  });

  it("session_start_limit.remaining 0: no IDENTIFY until reset_after has passed", async () => {
    await control("configure", { remaining: 0, resetAfter: 1_500 });
    const before = Date.now();
    const status = await gateway.ensure();
    expect(status.state).toBe("waiting");
    expect(Date.parse(status.identifyNotBefore ?? "")).toBeGreaterThanOrEqual(before + 1_500);
    // The watchdog firing early changes nothing: still no IDENTIFY, and none was tried.
    await runDurableObjectAlarm(gateway);
    let fake = await fakeState();
    expect(fake.connections).toBe(0);
    expect(fake.identifiesPastLimit).toBe(0);
    expect((await gateway.status()).state).toBe("waiting");
    // After the reset Discord gives new sessions again; the alarm (set for the reset) identifies.
    await control("configure", { remaining: 5 });
    await new Promise((r) => setTimeout(r, Math.max(0, before + 1_600 - Date.now())));
    await runDurableObjectAlarm(gateway);
    fake = await waitFor("IDENTIFY after the reset", async () => {
      const f = await fakeState();
      return f.identifies.length === 1 ? f : null;
    });
    expect(fake.identifies[0]?.at).toBeGreaterThanOrEqual(before + 1_500);
    expect(fake.identifiesPastLimit).toBe(0);
  });

  it("the watchdog alarm brings the session back after the object is reset (nothing in memory), by RESUME", async () => {
    const first = await ready();
    const alarm = await runInDurableObject(gateway, (_: DiscordGateway, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect((alarm ?? 0) - Date.now()).toBeLessThanOrEqual(30_000);
    // What survives a reset (a deploy, an eviction) is storage: a fresh object holding only that.
    const kept = await runInDurableObject(gateway, async (_: DiscordGateway, state) => ({
      session: await state.storage.get("session"),
      stats: await state.storage.get("stats"),
    }));
    await gateway.disconnect();
    const after = gatewayObject(unique("gateway-after-reset"));
    await runInDurableObject(after, async (_: DiscordGateway, state) => {
      await state.storage.put({ enabled: true, session: kept.session, stats: kept.stats });
      await state.storage.setAlarm(Date.now() + 30_000);
    });
    gateway = after;
    expect((await after.status()).state).toBe("reconnecting");
    await runDurableObjectAlarm(after);
    const fake = await waitFor("a RESUME from the new instance", async () => {
      const f = await fakeState();
      return f.resumes.length === 1 ? f : null;
    });
    expect(fake.resumes[0]).toMatchObject({ sessionId: first.sessionId, seq: first.seq, known: true });
    expect(fake.identifies).toHaveLength(1);
    await waitFor("ready", async () => ((await after.status()).state === "ready" ? true : null));
  });
});

describe("Gateway events into intake (SPEC §12)", { timeout: 20_000 }, () => {
  // Heartbeats are not what these tests are about: a slow machine must not make them zombies.
  beforeEach(async () => {
    await control("configure", { heartbeatInterval: 10_000 });
  });

  it("a forum post opens a public Discord ticket; community, staff and customer messages have their own kinds and clock effects", async () => {
    await ready();
    const threadId = snowflake();
    await dispatch(
      threadCreate(threadId, "Webhooks stop retrying"),
      messageCreate(CUSTOMER, "Since the deploy our webhook retries stop after one failure.", {
        id: threadId,
        channelId: threadId,
      }),
    );
    const opened = await ticketWithSubject("Webhooks stop retrying");
    expect(opened).toMatchObject({
      channel: "discord",
      policy: "discord",
      visibility: "public",
      status: "open",
      requester: { name: "Ada", handle: "ada" },
    });
    expect(opened.responseDueAt).not.toBeNull();
    const due = opened.responseDueAt;
    // The acknowledgement goes into the thread, with the bot token, pinging nobody.
    const ack = await waitFor("the acknowledgement in the thread", async () => {
      const f = await fakeState();
      return f.rest.find((r) => r.path === `/channels/${threadId}/messages`);
    });
    expect(ack.authorization).toBe("Bot discord-bot-test-token");
    expect(ack.body).toMatchObject({ allowed_mentions: { parse: [] } });
    expect(String((ack.body as { content: string }).content)).toContain(opened.key);

    // Someone else answers: community, shown, no clock effect.
    await dispatch(
      messageCreate(HELPER, "Same here. Setting retry_policy explicitly works around it.", {
        channelId: threadId,
      }),
    );
    // Our own bot's message (the acknowledgement coming back) is ignored.
    await dispatch(
      messageCreate({ id: BOT_USER, username: "switchboard" }, `${opened.key} ack`, { channelId: threadId }),
    );
    // A member who *says* they are staff, without the role, is community too.
    await dispatch(messageCreate(HELPER, "I am staff here, this is fixed.", { channelId: threadId }));
    let ticket = await ticketWhen(
      opened.key,
      (t) => t.messages.filter((m) => m.kind === "community").length === 2,
      "community",
    );
    expect(ticket.status).toBe("open");
    expect(ticket.responseDueAt).toBe(due);
    expect(ticket.firstResponseAt).toBeNull();
    expect(ticket.messages.some((m) => m.text.endsWith(" ack"))).toBe(false);
    expect(ticket.messages.find((m) => m.kind === "community")).toMatchObject({
      direction: "inbound",
      author: "Grace",
    });

    // Staff by role: a staff response — the clock stops, the ticket is pending.
    await dispatch(
      messageCreate(AGENT, "We found the regression and are rolling back.", {
        channelId: threadId,
        roles: [STAFF_ROLE],
      }),
    );
    ticket = await ticketWhen(opened.key, (t) => t.status === "pending", "the staff response");
    expect(ticket.responseDueAt).toBeNull();
    expect(ticket.firstResponseAt).not.toBeNull();
    expect(ticket.messages.find((m) => m.kind === "staff")).toMatchObject({
      direction: "outbound",
      author: "Linus",
    });

    // A community message on a pending ticket reopens nothing.
    await dispatch(messageCreate(HELPER, "Thanks!", { channelId: threadId }));
    ticket = await ticketWhen(opened.key, (t) => t.messages.some((m) => m.text === "Thanks!"), "community");
    expect(ticket.status).toBe("pending");
    expect(ticket.responseDueAt).toBeNull();

    // The requester writes again: customer, open, a new clock.
    await dispatch(
      messageCreate(CUSTOMER, "Rollback confirmed. Will the fix ship this week?", { channelId: threadId }),
    );
    ticket = await ticketWhen(opened.key, (t) => t.status === "open", "the customer follow-up");
    expect(ticket.responseDueAt).not.toBeNull();
    expect(ticket.messages.map((m) => m.kind)).toEqual([
      "customer",
      "system",
      "community",
      "community",
      "staff",
      "community",
      "customer",
    ]);

    // Staff by user id (no role) counts too.
    await dispatch(
      messageCreate({ id: STAFF_USER, username: "mara" }, "It ships Thursday.", { channelId: threadId }),
    );
    ticket = await ticketWhen(opened.key, (t) => t.status === "pending", "the second staff response");
  });

  it("a community member's message with security words makes the public ticket private (visibility re-checked)", async () => {
    await ready();
    const threadId = snowflake();
    await dispatch(
      threadCreate(threadId, "Token leaks into logs"),
      messageCreate(CUSTOMER, "Our bearer token shows up in the request log.", {
        id: threadId,
        channelId: threadId,
      }),
    );
    const opened = await ticketWithSubject("Token leaks into logs");
    expect(opened.visibility).toBe("public");
    await dispatch(
      messageCreate(HELPER, "That is a known vulnerability, here is how to exploit it.", {
        channelId: threadId,
      }),
    );
    const ticket = await ticketWhen(opened.key, (t) => t.visibility === "private", "the security re-check");
    expect(ticket.status).toBe("open");
    expect(ticket.messages.find((m) => m.kind === "community")?.author).toBe("Grace");
    expect(
      ticket.messages.some(
        (m) => m.kind === "note" && m.text.includes("a community member's follow-up mentions"),
      ),
    ).toBe(true);
  });

  it("MESSAGE_UPDATE edits, MESSAGE_DELETE marks deleted; a thread that is no ticket's changes nothing", async () => {
    await ready();
    const threadId = snowflake();
    const followId = snowflake();
    await dispatch(
      threadCreate(threadId, "Edits and deletions"),
      messageCreate(CUSTOMER, "original post", { id: threadId, channelId: threadId }),
      messageCreate(CUSTOMER, "a typo'd follow-up", { id: followId, channelId: threadId }),
    );
    const opened = await ticketWithSubject("Edits and deletions");
    await ticketWhen(opened.key, (t) => t.messages.length >= 3, "the follow-up");
    await dispatch(
      messageUpdate(followId, threadId, "a corrected follow-up"),
      messageDelete(threadId, threadId),
    );
    const ticket = await ticketWhen(
      opened.key,
      (t) => t.messages.some((m) => m.text === "a corrected follow-up"),
      "the edit",
    );
    const byText = (text: string) =>
      ticket.messages.find((m) => m.text === text) as unknown as {
        editedAt: string | null;
        deletedAt: string | null;
      };
    // The starter post and the follow-up can share a millisecond, so find the starter by its text.
    await ticketWhen(
      opened.key,
      (t) =>
        (
          t.messages.find((m) => m.text === "original post") as unknown as
            | { deletedAt: string | null }
            | undefined
        )?.deletedAt != null,
      "the deletion",
    );
    expect(byText("a corrected follow-up").editedAt).not.toBeNull();
    // Archiving the thread changes nothing on the ticket.
    const beforeArchive = await getTicket(opened.key);
    await dispatch({
      t: "THREAD_UPDATE",
      d: {
        ...threadSample,
        id: threadId,
        parent_id: FORUM,
        thread_metadata: { ...threadSample.thread_metadata, archived: true },
      },
    });
    await drained();
    const archived = await getTicket(opened.key);
    expect({ status: archived.status, due: archived.responseDueAt, n: archived.messages.length }).toEqual({
      status: beforeArchive.status,
      due: beforeArchive.responseDueAt,
      n: beforeArchive.messages.length,
    });
    const before = await countRows("messages");
    // Messages in a thread nobody filed and in an unlisted forum open nothing.
    const stray = snowflake();
    await dispatch(
      threadCreate(stray, "Not a support forum", "1300000000000000999"),
      messageCreate(CUSTOMER, "chit-chat", { id: stray, channelId: stray }),
      messageCreate(HELPER, "more chit-chat", { channelId: stray }),
    );
    await drained();
    expect(await countRows("messages")).toBe(before);
  });

  it("a top-level message in a support channel opens a ticket; the bot starts a thread on it and answers there", async () => {
    await ready();
    const messageId = snowflake();
    await dispatch(
      messageCreate(CUSTOMER, "Billing page shows the wrong currency", {
        id: messageId,
        channelId: SUPPORT_CHANNEL,
      }),
    );
    const opened = await ticketWithSubject("Billing page shows the wrong currency");
    expect(opened).toMatchObject({ visibility: "public", policy: "discord", status: "open" });
    const fake = await waitFor("the thread and the acknowledgement", async () => {
      const f = await fakeState();
      return f.rest.some((r) => r.path === `/channels/${messageId}/messages`) ? f : null;
    });
    const calls = fake.rest.filter((r) => r.method === "POST").map((r) => r.path);
    const start = calls.indexOf(`/channels/${SUPPORT_CHANNEL}/messages/${messageId}/threads`);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(calls.indexOf(`/channels/${messageId}/messages`)).toBeGreaterThan(start);
    // The thread (id = the message's id) is the ticket's: a reply in it threads as the customer's.
    await dispatch(messageCreate(CUSTOMER, "It is EUR, should be USD.", { channelId: messageId }));
    const ticket = await ticketWhen(
      opened.key,
      (t) => t.messages.some((m) => m.text.startsWith("It is EUR")),
      "the follow-up",
    );
    expect(ticket.messages.find((m) => m.text.startsWith("It is EUR"))?.kind).toBe("customer");
    // A desk reply goes into the thread, split at 2,000 characters, pinging nobody.
    const long = `${"Here is what happened. ".repeat(120)}@everyone`;
    const reply = await request(`/v1/tickets/${opened.key}/replies`, {
      method: "POST",
      json: { text: long },
    });
    expect(reply.status).toBe(201);
    const parts = await waitFor("the reply in parts", async () => {
      const f = await fakeState();
      const posts = f.rest.filter(
        (r) =>
          r.path === `/channels/${messageId}/messages` &&
          String((r.body as { content: string }).content).includes("Here is what happened"),
      );
      return posts.length >= 2 ? posts : null;
    });
    for (const part of parts) {
      const body = part.body as {
        content: string;
        allowed_mentions: unknown;
        nonce: string;
        enforce_nonce: boolean;
      };
      expect(body.content.length).toBeLessThanOrEqual(2000);
      expect(body.allowed_mentions).toEqual({ parse: [] });
      expect(body.enforce_nonce).toBe(true);
    }
    expect(parts.map((p) => (p.body as { content: string }).content).join(" ")).toContain("@everyone");
  });

  it("/support inside a Gateway ticket's thread joins that ticket", async () => {
    await ready();
    const threadId = snowflake();
    await dispatch(
      threadCreate(threadId, "Slash support in a thread"),
      messageCreate(CUSTOMER, "the post", { id: threadId, channelId: threadId }),
    );
    const opened = await ticketWithSubject("Slash support in a thread");
    const { postDiscord } = await import("./discord-helpers");
    const answer = await postDiscord({
      id: snowflake(),
      type: 2,
      application_id: "775799577604522054",
      token: "interaction-token",
      guild_id: "1300000000000000100",
      channel_id: threadId,
      channel: { id: threadId, type: 11, parent_id: FORUM },
      member: { user: { id: CUSTOMER.id, username: CUSTOMER.username } },
      data: {
        name: "support",
        type: 1,
        options: [{ name: "text", type: 3, value: "more detail via /support" }],
      },
    });
    expect(answer.status).toBe(200);
    expect(JSON.stringify(answer.body)).toContain(opened.key);
    const ticket = await getTicket(opened.key);
    expect(ticket.messages.some((m) => m.text === "more detail via /support")).toBe(true);
  });

  it("an event intake cannot store is kept by the object and retried by its alarm: nothing is lost", async () => {
    await ready();
    const threadId = snowflake();
    await dispatch(threadCreate(threadId, "Survives a D1 outage"));
    await drained();
    const batch = vi.spyOn(env.DB, "batch").mockRejectedValue(new Error("D1 is unavailable"));
    await dispatch(
      messageCreate(CUSTOMER, "posted during the outage", { id: threadId, channelId: threadId }),
    );
    const stuck = await waitFor("the event kept", async () => {
      const s = await gateway.status();
      return s.pendingEvents === 1 && s.lastError !== null ? s : null;
    });
    expect(stuck.lastError).toContain("D1 is unavailable");
    batch.mockRestore();
    await runDurableObjectAlarm(gateway);
    await drained();
    const ticket = await ticketWithSubject("Survives a D1 outage");
    expect(ticket.messages[0]?.text).toBe("posted during the outage");
  });
});

describe("GET / POST /v1/discord/gateway", () => {
  it("POST makes sure the desk's session is up; GET answers its status", async () => {
    const posted = await request("/v1/discord/gateway", { method: "POST" });
    expect(posted.status).toBe(200);
    const status = await waitFor("ready", async () => {
      const response = await request("/v1/discord/gateway");
      const body = (await response.json()) as Record<string, unknown>;
      return body.state === "ready" ? body : null;
    });
    expect(Object.keys(status)).toEqual(
      expect.arrayContaining(["state", "sessionId", "seq", "lastHeartbeatAckAt", "reconnects", "identifies"]),
    );
    const { discordGateway } = await import("../../src/channels/discord/gateway-client");
    await discordGateway(env).disconnect();
  });

  it("needs an agent token", async () => {
    expect((await request("/v1/discord/gateway", { token: null })).status).toBe(401);
    expect((await request("/v1/discord/gateway", { method: "POST", token: "test-token-acme" })).status).toBe(
      403,
    );
  });

  it("without DISCORD_BOT_TOKEN the state is disabled and nothing connects", async () => {
    const status = await runInDurableObject(gateway, async (instance: DiscordGateway) => {
      Reflect.set(instance, "env", { ...Reflect.get(instance, "env"), DISCORD_BOT_TOKEN: "" });
      return instance.ensure();
    });
    expect(status.state).toBe("disabled");
    const fake = await fakeState();
    expect(fake.connections).toBe(0);
    expect(fake.rest).toHaveLength(0);
  });
});
