#!/usr/bin/env node
// A local fake of Discord's Gateway and the few REST calls the desk makes, speaking the real
// protocol (discord/discord-api-docs "Gateway"): GET /api/v10/gateway/bot, a WebSocket that sends
// HELLO, answers heartbeats with ACKs, takes IDENTIFY (READY) and RESUME (replay + RESUMED), and
// the REST calls for replies (POST /channels/{id}/messages, with nonce/enforce_nonce) and threads
// (POST /channels/{id}/messages/{id}/threads). A control API under /control lets a test or a demo
// dispatch events, force op 7 / op 9, drop the socket, stop ACKing, or exhaust session_start_limit.
//
// Used by the worker tests (test/worker/discord-gateway.global-setup.ts) and, on its own, against
// `npm start` (README, "Discord Gateway"):
//
//   node scripts/fake-discord-gateway.mjs [--port 8790] [--desk http://localhost:8787] [--agent-token T]
//
// With --desk it plays a forum post → ticket → community answer → staff answer → customer
// follow-up against the desk and prints the ticket.
import http from "node:http";
import { WebSocketServer } from "ws";

const DISCORD_EPOCH = 1420070400000n;
let snowflakeCounter = 0n;
/** A Discord snowflake for now (timestamp << 22 | counter). */
export function snowflake() {
  snowflakeCounter = (snowflakeCounter + 1n) & 0xfffn;
  return String(((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n) | snowflakeCounter);
}

export const FAKE_BOT_USER = {
  id: "1300000000000000001",
  username: "switchboard",
  bot: true,
  discriminator: "0",
};

function json(res, status, body) {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  try {
    return text === "" ? {} : JSON.parse(text);
  } catch {
    return { raw: text };
  }
}

/**
 * Start the fake on 127.0.0.1 (port 0: any free one). Resolves to
 * `{ port, origin, apiUrl, state, close() }`; `apiUrl` is what DISCORD_API_URL should be.
 */
export async function startFakeDiscord(options = {}) {
  const fresh = () => ({
    token: options.token ?? null,
    heartbeatInterval: 41_250,
    ack: true,
    remaining: 1000,
    resetAfter: 14_400_000,
    /** On RESUME, replay every event of the session (not only those after the client's seq). */
    replayAll: false,
    sessions: new Map(),
    current: null,
    connections: 0,
    identifies: [],
    resumes: [],
    heartbeats: 0,
    /** Every frame received from the client: { at, op, d } (token redacted). */
    received: [],
    /** Every REST call: { at, method, path, body }. */
    rest: [],
    nonces: new Map(),
    threads: new Set(),
    /** IDENTIFYs that came while session_start_limit.remaining was 0: must stay empty. */
    identifiesPastLimit: 0,
  });
  let state = fresh();

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const body = req.method === "POST" || req.method === "PUT" ? await readBody(req) : undefined;
    const path = url.pathname;
    // ---- Discord REST (the bits the desk calls) ----
    if (path.startsWith("/api/v10/")) {
      const route = path.slice("/api/v10".length);
      state.rest.push({
        at: Date.now(),
        method: req.method,
        path: route,
        body,
        authorization: req.headers.authorization ?? null,
      });
      if (state.token !== null && req.headers.authorization !== `Bot ${state.token}`) {
        return json(res, 401, { message: "401: Unauthorized", code: 0 });
      }
      if (req.method === "GET" && route === "/gateway/bot") {
        return json(res, 200, {
          url: `ws://127.0.0.1:${port}/gateway`,
          shards: 1,
          session_start_limit: {
            total: 1000,
            remaining: Math.max(0, state.remaining),
            reset_after: state.resetAfter,
            max_concurrency: 1,
          },
        });
      }
      const thread = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(route);
      if (req.method === "POST" && thread) {
        const [, parent, message] = thread;
        if (state.threads.has(message)) {
          return json(res, 400, {
            message: "A thread has already been created for this message",
            code: 160004,
          });
        }
        state.threads.add(message);
        return json(res, 201, { id: message, parent_id: parent, type: 11, name: body?.name ?? "" });
      }
      const post = /^\/channels\/(\d+)\/messages$/.exec(route);
      if (req.method === "POST" && post) {
        const nonce = body?.enforce_nonce === true && typeof body.nonce === "string" ? body.nonce : null;
        if (nonce !== null && state.nonces.has(nonce)) return json(res, 200, state.nonces.get(nonce));
        if (typeof body?.content === "string" && body.content.length > 2000) {
          return json(res, 400, { message: "Invalid Form Body", code: 50035 });
        }
        const message = {
          id: snowflake(),
          channel_id: post[1],
          content: body?.content ?? "",
          author: FAKE_BOT_USER,
          timestamp: new Date().toISOString(),
          type: 0,
        };
        if (nonce !== null) state.nonces.set(nonce, message);
        return json(res, 200, message);
      }
      return json(res, 404, { message: "404: Not Found", code: 0 });
    }
    // ---- Control API ----
    if (path === "/control/state" && req.method === "GET") {
      const current = state.current;
      return json(res, 200, {
        connections: state.connections,
        connected: current !== null,
        sessionId: current?.session?.id ?? null,
        seq: current?.session?.seq ?? null,
        identifies: state.identifies,
        resumes: state.resumes,
        heartbeats: state.heartbeats,
        received: state.received,
        rest: state.rest,
        identifiesPastLimit: state.identifiesPastLimit,
        remaining: state.remaining,
      });
    }
    if (path === "/control/reset" && req.method === "POST") {
      for (const client of wss.clients) client.terminate();
      state = fresh();
      Object.assign(state, pick(body));
      return json(res, 200, { ok: true });
    }
    if (path === "/control/configure" && req.method === "POST") {
      Object.assign(state, pick(body));
      return json(res, 200, { ok: true });
    }
    const current = state.current;
    if (path === "/control/dispatch" && req.method === "POST") {
      if (current === null || !current.ready) return json(res, 409, { error: "no ready session" });
      const events = Array.isArray(body?.events) ? body.events : [body];
      const seqs = events.map((e) => dispatch(current, e.t, e.d));
      return json(res, 200, { seqs });
    }
    if (path === "/control/send" && req.method === "POST") {
      // A raw frame, as the docs print it (op 7, op 9 …).
      if (current === null) return json(res, 409, { error: "no connection" });
      if (body?.op === 9 && body.d === false && current.session) state.sessions.delete(current.session.id);
      current.ws.send(JSON.stringify(body));
      return json(res, 200, { ok: true });
    }
    if (path === "/control/drop" && req.method === "POST") {
      if (current === null) return json(res, 409, { error: "no connection" });
      // No close frame: the TCP connection just ends, as when a network path dies.
      current.ws.terminate();
      return json(res, 200, { ok: true });
    }
    json(res, 404, { error: "not found" });
  });

  function pick(body) {
    const out = {};
    for (const key of ["token", "heartbeatInterval", "ack", "remaining", "resetAfter", "replayAll"]) {
      if (body && key in body) out[key] = body[key];
    }
    return out;
  }

  function dispatch(connection, t, d) {
    const session = connection.session;
    session.seq += 1;
    const frame = { op: 0, t, s: session.seq, d };
    session.events.push(frame);
    connection.ws.send(JSON.stringify(frame));
    return session.seq;
  }

  const wss = new WebSocketServer({ noServer: true });
  server.on("upgrade", (req, socket, head) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== "/gateway" && url.pathname !== "/resume") {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection = {
        ws,
        session: null,
        ready: false,
        query: Object.fromEntries(url.searchParams),
        path: url.pathname,
      };
      state.connections += 1;
      if (state.current !== null) state.current.ws.terminate();
      state.current = connection;
      ws.on("close", () => {
        if (state.current === connection) state.current = null;
      });
      ws.on("message", (raw) => {
        let frame;
        try {
          frame = JSON.parse(String(raw));
        } catch {
          ws.close(4002, "Decode error");
          return;
        }
        const d =
          frame.d && typeof frame.d === "object" && "token" in frame.d
            ? { ...frame.d, token: "[redacted]" }
            : frame.d;
        state.received.push({
          at: Date.now(),
          op: frame.op,
          d,
          path: connection.path,
          query: connection.query,
        });
        switch (frame.op) {
          case 1:
            state.heartbeats += 1;
            if (state.ack) ws.send(JSON.stringify({ op: 11 }));
            return;
          case 2: {
            if (state.token !== null && frame.d?.token !== state.token) {
              ws.close(4004, "Authentication failed");
              return;
            }
            if (state.remaining <= 0) {
              state.identifiesPastLimit += 1;
              ws.close(4000, "Unknown error");
              return;
            }
            state.remaining -= 1;
            state.identifies.push({
              at: Date.now(),
              intents: frame.d?.intents,
              properties: frame.d?.properties,
            });
            const session = {
              id: `fake-session-${state.identifies.length}-${Math.random().toString(36).slice(2, 8)}`,
              seq: 0,
              events: [],
            };
            state.sessions.set(session.id, session);
            connection.session = session;
            connection.ready = true;
            dispatch(connection, "READY", {
              v: 10,
              user: FAKE_BOT_USER,
              guilds: [],
              session_id: session.id,
              resume_gateway_url: `ws://127.0.0.1:${port}/resume`,
              application: { id: FAKE_BOT_USER.id, flags: 0 },
            });
            return;
          }
          case 6: {
            const session = state.sessions.get(frame.d?.session_id);
            state.resumes.push({
              at: Date.now(),
              sessionId: frame.d?.session_id,
              seq: frame.d?.seq,
              known: session !== undefined,
            });
            if (session === undefined) {
              ws.send(JSON.stringify({ op: 9, d: false }));
              return;
            }
            connection.session = session;
            const from = state.replayAll ? 0 : Number(frame.d?.seq ?? 0);
            for (const event of session.events) {
              if (event.s > from && event.t !== "READY") ws.send(JSON.stringify(event));
            }
            connection.ready = true;
            dispatch(connection, "RESUMED", null);
            return;
          }
          default:
            return;
        }
      });
      ws.send(JSON.stringify({ op: 10, d: { heartbeat_interval: state.heartbeatInterval } }));
    });
  });

  const port = await new Promise((resolve) => {
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve(server.address().port));
  });
  const origin = `http://127.0.0.1:${port}`;
  return {
    port,
    origin,
    apiUrl: `${origin}/api/v10`,
    get state() {
      return state;
    },
    close: () =>
      new Promise((resolve) => {
        for (const client of wss.clients) client.terminate();
        server.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// The demo against `npm start`

const GUILD = "1300000000000000100";
const FORUM = "1300000000000000200";
const STAFF_ROLE = "1300000000000000300";
const CUSTOMER = { id: "1300000000000000401", username: "ada", global_name: "Ada", discriminator: "0" };
const HELPER = { id: "1300000000000000402", username: "grace", global_name: "Grace", discriminator: "0" };
const AGENT = {
  id: "1300000000000000403",
  username: "linus",
  global_name: "Linus (Support)",
  discriminator: "0",
};

async function demo(fake, desk, agentToken) {
  const call = async (method, path, body) => {
    const response = await fetch(`${desk}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${agentToken}`,
        ...(body ? { "content-type": "application/json" } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text);
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const until = async (what, check, ms = 20_000) => {
    const end = Date.now() + ms;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await sleep(200);
    }
  };

  const config = await call("GET", "/v1/config");
  config.discord = {
    ...(config.discord ?? {}),
    forumChannelIds: [FORUM],
    supportChannelIds: [],
    staffRoleIds: [STAFF_ROLE],
    staffUserIds: [],
  };
  await call("PUT", "/v1/config", config);
  console.log(`config: forum ${FORUM}, staff role ${STAFF_ROLE}`);

  const status = await call("POST", "/v1/discord/gateway");
  console.log(`POST /v1/discord/gateway → ${status.state}`);
  await until("READY", () => fake.state.current?.ready === true);
  const ready = await until("the desk to report ready", async () => {
    const s = await call("GET", "/v1/discord/gateway");
    return s.state === "ready" ? s : null;
  });
  console.log(`gateway ready: session ${ready.sessionId}, seq ${ready.seq}, identifies ${ready.identifies}`);

  const message = (author, content, extra = {}) => ({
    id: snowflake(),
    channel_id: extra.channel_id,
    guild_id: GUILD,
    author,
    member: { roles: extra.roles ?? [], nick: null },
    content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    type: 0,
    ...extra,
  });
  const send = (t, d) => {
    const connection = fake.state.current;
    connection.session.seq += 1;
    const frame = { op: 0, t, s: connection.session.seq, d };
    connection.session.events.push(frame);
    connection.ws.send(JSON.stringify(frame));
  };

  const threadId = snowflake();
  send("THREAD_CREATE", {
    id: threadId,
    guild_id: GUILD,
    parent_id: FORUM,
    owner_id: CUSTOMER.id,
    name: "Webhook retries stop after a deploy",
    type: 11,
    newly_created: true,
    message_count: 0,
    member_count: 1,
    thread_metadata: {
      archived: false,
      auto_archive_duration: 1440,
      archive_timestamp: new Date().toISOString(),
      locked: false,
    },
  });
  send(
    "MESSAGE_CREATE",
    message(
      CUSTOMER,
      "Since yesterday's deploy our webhook retries stop after the first failure. Anyone else?",
      { id: threadId, channel_id: threadId },
    ),
  );
  console.log(`forum post ${threadId} dispatched (THREAD_CREATE + starter MESSAGE_CREATE)`);

  const ticket = await until("the ticket", async () => {
    const list = await call("GET", "/v1/tickets?channel=discord&limit=50");
    return list.tickets.find((t) => t.subject === "Webhook retries stop after a deploy") ?? null;
  });
  const show = async (label) => {
    const t = await call("GET", `/v1/tickets/${ticket.key}`);
    console.log(
      `\n— ${label}: ${t.key} status=${t.status} responseDueAt=${t.responseDueAt} firstResponseAt=${t.firstResponseAt}`,
    );
    for (const m of t.messages)
      console.log(`   ${m.kind.padEnd(9)} ${m.direction.padEnd(8)} ${m.author}: ${m.text.slice(0, 70)}`);
    return t;
  };
  await until("the acknowledgement in the thread", () =>
    fake.state.rest.some((r) => r.path === `/channels/${threadId}/messages`),
  );
  await show("forum post opened");

  send(
    "MESSAGE_CREATE",
    message(HELPER, "Same here — setting retry_policy explicitly works around it.", { channel_id: threadId }),
  );
  await sleep(1500);
  await show("community answer (no clock effect)");

  send(
    "MESSAGE_CREATE",
    message(AGENT, "Thanks! We found the regression and are rolling back now.", {
      channel_id: threadId,
      roles: [STAFF_ROLE],
    }),
  );
  await until(
    "the staff answer",
    async () => (await call("GET", `/v1/tickets/${ticket.key}`)).status === "pending",
  );
  await show("staff answer (clock stops, pending)");

  send(
    "MESSAGE_CREATE",
    message(CUSTOMER, "Rollback confirmed, retries work again. Will the fix ship this week?", {
      channel_id: threadId,
    }),
  );
  await until(
    "the follow-up",
    async () => (await call("GET", `/v1/tickets/${ticket.key}`)).status === "open",
  );
  const final = await show("customer follow-up (clock starts again, open)");
  console.log("\nticket JSON:");
  console.log(JSON.stringify(final, null, 2));
}

/**
 * `--bench N`: N messages dispatched back to back into one forum thread's ticket, then N/4 new
 * forum posts (each a new ticket); events per second into intake, from the first dispatch until the
 * object reports every event taken. Then op 7 and a dropped socket, each timed from the loss to
 * RESUMED (the fake's clock and the object's own `lastReconnectMs`).
 */
async function bench(fake, desk, agentToken, n) {
  const call = async (method, path, body) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${desk}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${agentToken}`,
            ...(body ? { "content-type": "application/json" } : {}),
          },
          body: body ? JSON.stringify(body) : undefined,
          signal: AbortSignal.timeout(30_000),
        });
        if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
        return await response.json();
      } catch (error) {
        // A loaded local runtime sometimes drops a request: reads are safe to repeat.
        if (attempt >= 5 || method !== "GET") throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  };
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const config = await call("GET", "/v1/config");
  config.discord = { ...(config.discord ?? {}), forumChannelIds: [FORUM], staffRoleIds: [STAFF_ROLE] };
  await call("PUT", "/v1/config", config);
  await call("POST", "/v1/discord/gateway");
  for (let i = 0; i < 200 && !(fake.state.current?.ready === true); i++) await sleep(100);
  for (let i = 0; i < 200 && (await call("GET", "/v1/discord/gateway")).state !== "ready"; i++)
    await sleep(100);
  console.error(`bench: session ready (${fake.state.current?.session?.id})`);
  const send = (t, d) => {
    const connection = fake.state.current;
    connection.session.seq += 1;
    const frame = { op: 0, t, s: connection.session.seq, d };
    connection.session.events.push(frame);
    connection.ws.send(JSON.stringify(frame));
  };
  const msg = (author, content, channelId, id = snowflake()) => ({
    id,
    channel_id: channelId,
    guild_id: GUILD,
    author,
    member: { roles: [], nick: null },
    content,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    mentions: [],
    mention_roles: [],
    attachments: [],
    embeds: [],
    pinned: false,
    tts: false,
    mention_everyone: false,
    type: 0,
  });
  const thread = (id, name) => ({
    id,
    guild_id: GUILD,
    parent_id: FORUM,
    owner_id: CUSTOMER.id,
    name,
    type: 11,
    newly_created: true,
    thread_metadata: {
      archived: false,
      auto_archive_duration: 1440,
      archive_timestamp: new Date().toISOString(),
      locked: false,
    },
  });
  const results = {};
  const run = Date.now().toString(36);
  const until = async (what, check) => {
    const end = Date.now() + 300_000;
    for (;;) {
      const value = await check();
      if (value) return value;
      if (Date.now() > end) throw new Error(`timed out: ${what}`);
      await sleep(100);
    }
  };
  const ticketBySubject = async (subject) => {
    const list = await call(
      "GET",
      `/v1/tickets?channel=discord&status=all&limit=100&q=${encodeURIComponent(subject)}`,
    );
    return list.tickets.find((t) => t.subject === subject) ?? null;
  };
  // One ticket's thread, many messages (the append path), timed until the last one is on the ticket.
  const threadId = snowflake();
  const subject = `bench thread ${run}`;
  send("THREAD_CREATE", thread(threadId, subject));
  send("MESSAGE_CREATE", msg(CUSTOMER, "bench starter", threadId, threadId));
  const ticket = await until("the bench ticket", () => ticketBySubject(subject));
  console.error(`bench: ${n} thread messages into ${ticket.key}`);
  let started = Date.now();
  for (let i = 0; i < n; i++)
    send("MESSAGE_CREATE", msg(i % 2 === 0 ? HELPER : CUSTOMER, `bench message ${i}`, threadId));
  await until("every message on the ticket", async () => {
    const t = await call("GET", `/v1/tickets/${ticket.key}`);
    return t.messages.filter((m) => m.text.startsWith("bench message ")).length >= n;
  });
  let seconds = (Date.now() - started) / 1000;
  results.threadMessages = { events: n, seconds, perSecond: Math.round((n / seconds) * 10) / 10 };
  // New forum posts (THREAD_CREATE + starter each: two events, one new ticket).
  const posts = Math.max(1, Math.floor(n / 4));
  console.error(`bench: ${JSON.stringify(results.threadMessages)}; ${posts} new posts`);
  started = Date.now();
  for (let i = 0; i < posts; i++) {
    const id = snowflake();
    send("THREAD_CREATE", thread(id, `bench post ${run} ${i}`));
    send("MESSAGE_CREATE", msg(CUSTOMER, `bench post body ${i}`, id, id));
  }
  await until("the last post's ticket", () => ticketBySubject(`bench post ${run} ${posts - 1}`));
  await until("nothing pending", async () => (await call("GET", "/v1/discord/gateway")).pendingEvents === 0);
  seconds = (Date.now() - started) / 1000;
  results.newPosts = {
    tickets: posts,
    events: 2 * posts,
    seconds,
    eventsPerSecond: Math.round(((2 * posts) / seconds) * 10) / 10,
  };
  // Reconnects: op 7, then a dropped socket, each until RESUMED.
  for (const kind of ["op7", "drop", "op7", "drop", "op7", "drop", "op7", "drop", "op7", "drop"]) {
    await sleep(300);
    const before = (await call("GET", "/v1/discord/gateway")).resumes;
    const lostAt = Date.now();
    if (kind === "op7") fake.state.current.ws.send(JSON.stringify({ op: 7, d: null }));
    else fake.state.current.ws.terminate();
    let status;
    for (;;) {
      status = await call("GET", "/v1/discord/gateway");
      if (status.resumes > before && status.state === "ready") break;
      await sleep(10);
    }
    const resumed = fake.state.resumes.at(-1);
    results[kind] ??= [];
    results[kind].push({
      fakeSawResumeAfterMs: resumed.at - lostAt,
      objectReportedMs: status.lastReconnectMs,
    });
  }
  for (const kind of ["op7", "drop"]) {
    const sorted = results[kind].map((r) => r.objectReportedMs).sort((a, b) => a - b);
    results[`${kind}MedianMs`] = sorted[Math.floor(sorted.length / 2)];
  }
  console.log(JSON.stringify(results, null, 2));
  return results;
}

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : fallback;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const fake = await startFakeDiscord({ port: Number(arg("port", "8790")), token: arg("token", null) });
  console.log(`fake Discord on ${fake.origin}: DISCORD_API_URL=${fake.apiUrl}`);
  const desk = arg("desk", null);
  if (desk !== null) {
    try {
      const run =
        arg("bench", null) === null ? demo : (f, d, t) => bench(f, d, t, Number(arg("bench", "200")));
      await run(fake, desk.replace(/\/+$/, ""), arg("agent-token", "dev-token-alice"));
    } catch (error) {
      console.error(String(error));
      process.exitCode = 1;
    }
    await fake.close();
  }
}
