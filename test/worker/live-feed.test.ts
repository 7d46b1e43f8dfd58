import { evictDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach, describe, expect, it } from "vitest";
import { feedStub } from "../../src/live/publish";
import { ConsoleBrowser } from "./console-helpers";
import { postMessage, request, unique } from "./helpers";

interface Socket {
  ws: WebSocket;
  messages: Record<string, unknown>[];
  /** Resolves with the first message (after `from`) that matches. */
  next(match: (m: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
}

const open: WebSocket[] = [];
afterEach(() => {
  for (const ws of open.splice(0)) {
    try {
      ws.close(1000, "test over");
    } catch {
      // already closed
    }
  }
});

async function upgrade(
  path: string,
  headers: Record<string, string>,
): Promise<{ response: Response; socket: Socket | null }> {
  const response = await exports.default.fetch(
    new Request(`https://desk.test${path}`, { headers: { upgrade: "websocket", ...headers } }),
  );
  const ws = response.webSocket;
  if (ws === null) return { response, socket: null };
  ws.accept();
  open.push(ws);
  const messages: Record<string, unknown>[] = [];
  const waiters: {
    match: (m: Record<string, unknown>) => boolean;
    from: number;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  ws.addEventListener("message", (event) => {
    const message = JSON.parse(String(event.data)) as Record<string, unknown>;
    messages.push(message);
    for (const w of [...waiters]) {
      if (messages.length - 1 >= w.from && w.match(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  });
  const socket: Socket = {
    ws,
    messages,
    next(match, from = 0) {
      const seen = messages.slice(from).find(match);
      if (seen !== undefined) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        waiters.push({ match, from, resolve });
        setTimeout(() => reject(new Error(`no matching message; got ${JSON.stringify(messages)}`)), 5000);
      });
    },
  };
  return { response, socket };
}

async function signedIn(token = "test-token-alice"): Promise<string> {
  const browser = new ConsoleBrowser();
  await browser.signIn(token);
  return [...browser.cookies].map(([n, v]) => `${n}=${v}`).join("; ");
}

const ORIGIN = { origin: "https://desk.test" };

async function newTicket(): Promise<string> {
  const { body } = await postMessage({ subject: unique("live") });
  return String(body.ticket);
}

describe("the live feed's socket (GET /live)", () => {
  it("is refused without a console session, with a forged cookie, and from another origin", async () => {
    const none = await upgrade("/live?view=queue", ORIGIN);
    expect(none.response.status).toBe(401);
    expect(none.socket).toBeNull();
    const forged = await upgrade("/live?view=queue", { ...ORIGIN, cookie: "__Host-sb_session=e30.AAAA" });
    expect(forged.response.status).toBe(401);
    // A bearer token is the API's credential, not the console's.
    const bearer = await upgrade("/live?view=queue", { ...ORIGIN, authorization: "Bearer test-token-alice" });
    expect(bearer.response.status).toBe(401);
    const cookie = await signedIn();
    const elsewhere = await upgrade("/live?view=queue", { origin: "https://evil.example", cookie });
    expect(elsewhere.response.status).toBe(403);
    const noOrigin = await upgrade("/live?view=queue", { cookie });
    expect(noOrigin.response.status).toBe(403);
    const badView = await upgrade("/live?view=everything", { ...ORIGIN, cookie });
    expect(badView.response.status).toBe(400);
  });

  it("tells a queue page and the ticket's page of intake, replies and notes — keys only, no text", async () => {
    const cookie = await signedIn();
    const queue = await upgrade("/live?view=queue", { ...ORIGIN, cookie });
    expect(queue.response.status).toBe(101);
    const key = await newTicket();
    const intake = await queue.socket?.next((m) => m.type === "changed" && m.ticket === key);
    expect(intake).toMatchObject({ type: "changed", ticket: key, what: "intake" });
    expect(Object.keys(intake ?? {}).sort()).toEqual(["at", "ticket", "type", "what"]);

    const page = await upgrade(`/live?view=ticket:${key}`, { ...ORIGIN, cookie });
    const from = page.socket?.messages.length ?? 0;
    await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "a secret note", internal: true },
    });
    const note = await page.socket?.next((m) => m.type === "changed" && m.what === "note", from);
    expect(note).toMatchObject({ ticket: key });
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "We are on it" } });
    await page.socket?.next((m) => m.type === "changed" && m.what === "staff-response", from);
    await request(`/v1/tickets/${key}`, { method: "PATCH", json: { priority: "high" } });
    await queue.socket?.next((m) => m.type === "changed" && m.ticket === key && m.what === "updated");
    const all = JSON.stringify([...(queue.socket?.messages ?? []), ...(page.socket?.messages ?? [])]);
    expect(all).not.toContain("secret");
    expect(all).not.toContain("on it");
  });

  it("keeps delivering after the object is evicted between messages (hibernation)", async () => {
    const cookie = await signedIn();
    const key = await newTicket();
    const alice = await upgrade(`/live?view=ticket:${key}`, { ...ORIGIN, cookie });
    const bob = await upgrade(`/live?view=ticket:${key}`, {
      ...ORIGIN,
      cookie: await signedIn("test-token-bob"),
    });
    await alice.socket?.next((m) => m.type === "presence" && JSON.stringify(m.viewers).includes('"bob"'));
    const stub = feedStub({ DESK_FEED: env.DESK_FEED });
    await evictDurableObject(stub);
    // Woken by a socket message: the typing signal, with the agent's name from the attachment.
    const from = alice.socket?.messages.length ?? 0;
    bob.socket?.ws.send(JSON.stringify({ type: "typing", composing: "reply" }));
    const typing = await alice.socket?.next((m) => m.type === "presence", from);
    expect(typing?.viewers).toEqual([
      { agent: "alice", composing: null },
      { agent: "bob", composing: "reply" },
    ]);
    await evictDurableObject(stub);
    // Woken by a publish: both sockets are still there and tagged with their ticket.
    const after = alice.socket?.messages.length ?? 0;
    const bobAfter = bob.socket?.messages.length ?? 0;
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Still here" } });
    await alice.socket?.next((m) => m.type === "changed" && m.what === "staff-response", after);
    await bob.socket?.next((m) => m.type === "changed" && m.what === "staff-response", bobAfter);
    expect((await stub.stats()).views[`ticket:${key}`]).toBe(2);
    // A page that closes leaves the others' presence list.
    const left = alice.socket?.messages.length ?? 0;
    bob.socket?.ws.close(1000, "tab closed");
    const presence = await alice.socket?.next(
      (m) => m.type === "presence" && !JSON.stringify(m.viewers).includes('"bob"'),
      left,
    );
    expect(presence?.viewers).toEqual([{ agent: "alice", composing: null }]);
  }, 20_000);

  it("fans one change out to 50 open consoles", async () => {
    const cookie = await signedIn();
    const key = await newTicket();
    const sockets: Socket[] = [];
    for (let i = 0; i < 50; i++) {
      const view = i % 2 === 0 ? "queue" : `ticket:${key}`;
      const { response, socket } = await upgrade(`/live?view=${view}`, { ...ORIGIN, cookie });
      expect(response.status).toBe(101);
      if (socket !== null) sockets.push(socket);
    }
    const marks = sockets.map((s) => s.messages.length);
    const delivered = await feedStub({ DESK_FEED: env.DESK_FEED }).publish({ ticket: key, what: "updated" });
    expect(delivered).toBeGreaterThanOrEqual(50);
    const got = await Promise.all(
      sockets.map((s, i) =>
        s.next((m) => m.type === "changed" && m.ticket === key && m.what === "updated", marks[i]),
      ),
    );
    expect(got).toHaveLength(50);
  });

  it("never fails intake when the feed is unreachable", async () => {
    const original = env.DESK_FEED.idFromName.bind(env.DESK_FEED);
    const spy = (await import("vitest")).vi.spyOn(env.DESK_FEED, "idFromName").mockImplementation(() => {
      throw new Error("feed down");
    });
    try {
      const { response, body } = await postMessage({ subject: unique("feed-down") });
      expect(response.status).toBe(202);
      expect(String(body.ticket)).toMatch(/^SUP-\d+$/);
    } finally {
      spy.mockRestore();
    }
    expect(original("desk")).toBeDefined();
  });
});
