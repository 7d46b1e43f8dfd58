import { DurableObject } from "cloudflare:workers";
import {
  clientMessageSchema,
  FEED_AGENT_HEADER,
  FEED_PING,
  FEED_PONG,
  type FeedEvent,
  feedEventSchema,
  feedEventsSchema,
  feedViewSchema,
  type ServerMessage,
  type SocketState,
  socketStateSchema,
  viewersOf,
} from "./feed";

/** A page's message is a tiny JSON object; anything bigger is not ours. */
const MAX_CLIENT_MESSAGE_CHARS = 512;

/**
 * The live console's hub (SPEC §15): every open queue or ticket page holds a WebSocket here.
 * WebSocket Hibernation: sockets are accepted with `ctx.acceptWebSocket` and tagged `queue` or
 * `ticket:SUP-12`; each socket's agent, view and typing signal live in its attachment, so the
 * object can be evicted from memory between messages and still knows every socket when it wakes.
 * It holds nothing durable: no storage, no alarm. Only the Worker reaches it (the `/live` route
 * checks the session and the Origin first and names the agent in FEED_AGENT_HEADER).
 */
export class DeskFeed extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Keep-alive pings are answered by the runtime without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(FEED_PING, FEED_PONG));
  }

  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("DeskFeed expects a WebSocket upgrade", { status: 426 });
    }
    const agent = request.headers.get(FEED_AGENT_HEADER) ?? "";
    const view = feedViewSchema.safeParse(new URL(request.url).searchParams.get("view"));
    if (agent === "" || !view.success) return new Response("bad feed request", { status: 400 });
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server, [view.data]);
    const now = Date.now();
    const state: SocketState = { agent, view: view.data, composing: null, composingAt: 0, connectedAt: now };
    server.serializeAttachment(state);
    send(server, { type: "hello", view: view.data, agent });
    if (view.data !== "queue") this.broadcastPresence(view.data, now);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** A ticket changed (after it was stored): tell the queue pages and that ticket's pages. */
  async publish(input: FeedEvent): Promise<number> {
    return this.deliver([feedEventSchema.parse(input)]);
  }

  /**
   * Several changes at once, in the order they happened (the Worker coalesces what one isolate
   * publishes within a few milliseconds, live/publish.ts): one object call instead of one each.
   */
  async publishMany(input: FeedEvent[]): Promise<number> {
    return this.deliver(feedEventsSchema.parse(input));
  }

  private deliver(events: readonly FeedEvent[]): number {
    const at = new Date().toISOString();
    const queue = this.ctx.getWebSockets("queue");
    let delivered = 0;
    for (const event of events) {
      const message: ServerMessage = { type: "changed", ticket: event.ticket, what: event.what, at };
      const data = JSON.stringify(message);
      for (const ws of [...queue, ...this.ctx.getWebSockets(`ticket:${event.ticket}`)]) {
        if (sendRaw(ws, data)) delivered++;
      }
    }
    return delivered;
  }

  /** Open sockets per view, for the console's status and the tests. */
  async stats(): Promise<{ sockets: number; views: Record<string, number> }> {
    const views: Record<string, number> = {};
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      const state = stateOf(ws);
      if (state !== null) views[state.view] = (views[state.view] ?? 0) + 1;
    }
    return { sockets: sockets.length, views };
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (typeof message !== "string" || message.length > MAX_CLIENT_MESSAGE_CHARS) return;
    let json: unknown;
    try {
      json = JSON.parse(message);
    } catch {
      return;
    }
    const parsed = clientMessageSchema.safeParse(json);
    const state = stateOf(ws);
    if (!parsed.success || state === null || state.view === "queue") return;
    const now = Date.now();
    const changed = state.composing !== parsed.data.composing;
    ws.serializeAttachment({ ...state, composing: parsed.data.composing, composingAt: now });
    if (changed) this.broadcastPresence(state.view, now);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
    this.left(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.left(ws);
  }

  private left(ws: WebSocket): void {
    const state = stateOf(ws);
    if (state !== null && state.view !== "queue") this.broadcastPresence(state.view, Date.now(), ws);
  }

  /** Every page of one ticket learns who else is on it and who is writing. */
  private broadcastPresence(view: string, now: number, gone?: WebSocket): void {
    const sockets = this.ctx
      .getWebSockets(view)
      .filter((ws) => ws !== gone && ws.readyState === WebSocket.OPEN);
    const states = sockets.map(stateOf).filter((s): s is SocketState => s !== null);
    const data = JSON.stringify({
      type: "presence",
      ticket: view.slice("ticket:".length),
      viewers: viewersOf(states, now),
    } satisfies ServerMessage);
    for (const ws of sockets) sendRaw(ws, data);
  }
}

function stateOf(ws: WebSocket): SocketState | null {
  const parsed = socketStateSchema.safeParse(ws.deserializeAttachment());
  return parsed.success ? parsed.data : null;
}

function send(ws: WebSocket, message: ServerMessage): boolean {
  return sendRaw(ws, JSON.stringify(message));
}

/** A socket that closed under us is skipped; its close handler tidies up. */
function sendRaw(ws: WebSocket, data: string): boolean {
  try {
    ws.send(data);
    return true;
  } catch {
    return false;
  }
}
