import { DurableObject } from "cloudflare:workers";
import type {
  GatewayHeartbeat,
  GatewayIdentify,
  GatewayIntentBits,
  GatewayOpcodes,
  GatewayResume,
} from "discord-api-types/v10";
import { z } from "zod";
import { apiBase, setting } from "../../notify/http";
import { GATEWAY_EVENTS, type GatewayEvent, handleGatewayEvent, type ThreadMeta } from "./gateway-events";

/**
 * SPEC §12: the bot's Gateway session, one per desk (`DISCORD_GATEWAY.idFromName("desk")`).
 *
 * Protocol (discord/discord-api-docs, "Gateway"): `GET /gateway/bot` → connect `?v=10&encoding=json`
 * → HELLO → first heartbeat after `heartbeat_interval × jitter`, then every interval → IDENTIFY
 * (GUILDS | GUILD_MESSAGES | MESSAGE_CONTENT) → READY, whose `session_id`, `resume_gateway_url` and
 * every dispatch's `s` are kept in storage. Any drop, op 7 or a heartbeat without ACK → RESUME (op
 * 6) at `resume_gateway_url` with the last `seq`; op 9 `d: false` → wait 1–5 s and IDENTIFY again;
 * no IDENTIFY while `session_start_limit.remaining` is 0 (wait `reset_after`).
 *
 * No event is lost: a dispatch the desk cares about is written to this object's storage together
 * with its `seq` in one atomic put *before* the seq advances, then handed to intake; it leaves
 * storage only when intake has stored it (or decided it is nothing). Until then the alarm retries it
 * (with backoff, in order, forever). A crash before the put leaves the seq behind, so the RESUME
 * replays the event; the Discord message id is the idempotency key, so a replay is stored once.
 *
 * An outbound WebSocket cannot hibernate: while connected the object stays resident (README,
 * "Discord Gateway"). The alarm is the watchdog: every 30 s while enabled it drains what intake has
 * not taken yet, reconnects a lost session and kills a zombie connection.
 */

export const GATEWAY_OBJECT_NAME = "desk";

/*
 * discord-api-types is used for its types only: its enums are CommonJS, which the Workers test
 * runner cannot load, so the values are written here and checked against the library's types.
 */
const Op = {
  Dispatch: 0,
  Heartbeat: 1,
  Identify: 2,
  Resume: 6,
  Reconnect: 7,
  InvalidSession: 9,
  Hello: 10,
  HeartbeatAck: 11,
} as const satisfies Record<string, GatewayOpcodes>;

const Intent = {
  Guilds: 1 << 0,
  GuildMessages: 1 << 9,
  MessageContent: 1 << 15,
} as const satisfies Record<string, GatewayIntentBits>;

/** GUILDS (1<<0) | GUILD_MESSAGES (1<<9) | MESSAGE_CONTENT (1<<15). */
export const GATEWAY_INTENTS = Intent.Guilds | Intent.GuildMessages | Intent.MessageContent;

/** The watchdog's period: a loss of any kind is repaired within this (SPEC: within a minute). */
export const WATCHDOG_MS = 30_000;
/** Reconnect backoff after consecutive failures: 0.5 s, 1 s, 2 s … capped here. */
const MAX_BACKOFF_MS = 30_000;
/** Retry backoff for an event intake could not take: 1 s, 2 s … capped here. */
const MAX_RETRY_MS = 60_000;
/** Close codes after which reconnecting cannot help (bad token, bad shard, intents not allowed). */
const FATAL_CLOSE_CODES = new Set([4004, 4010, 4011, 4012, 4013, 4014]);
/** Close codes after which the session cannot be resumed: IDENTIFY again. */
const NEW_SESSION_CLOSE_CODES = new Set([4007, 4009]);
/** Our own close code for a connection we drop to RESUME (not 1000/1001, which end the session). */
const RESUME_CLOSE_CODE = 4000;
/** Forum threads remembered for their starter message are forgotten after this. */
const THREAD_MEMORY_MS = 24 * 60 * 60_000;
const EVENT_KEY_PREFIX = "ev:";
const THREAD_KEY_PREFIX = "thread:";

export type GatewayState =
  | "disabled"
  | "idle"
  | "connecting"
  | "identifying"
  | "resuming"
  | "ready"
  | "waiting"
  | "reconnecting"
  | "failed";

export interface GatewayStatus {
  state: GatewayState;
  sessionId: string | null;
  seq: number | null;
  lastHeartbeatAckAt: string | null;
  reconnects: number;
  identifies: number;
  resumes: number;
  /** Events stored here that intake has not taken yet (retried by the alarm). */
  pendingEvents: number;
  /** Events handed to intake since the object started (not persisted). */
  eventsProcessed: number;
  /** No IDENTIFY before this (session_start_limit exhausted). */
  identifyNotBefore: string | null;
  lastError: string | null;
  /** How long the last reconnect took, from the loss to RESUMED (or READY). */
  lastReconnectMs: number | null;
}

interface Session {
  sessionId: string;
  resumeUrl: string;
  seq: number | null;
}

interface Stats {
  reconnects: number;
  identifies: number;
  resumes: number;
  lastHeartbeatAckAt: number | null;
  identifyNotBefore: number | null;
  lastError: string | null;
  botUserId: string | null;
  lastReconnectMs: number | null;
}

const EMPTY_STATS: Stats = {
  reconnects: 0,
  identifies: 0,
  resumes: 0,
  lastHeartbeatAckAt: null,
  identifyNotBefore: null,
  lastError: null,
  botUserId: null,
  lastReconnectMs: null,
};

const gatewayBotSchema = z.object({
  url: z.string().min(1),
  session_start_limit: z
    .object({ remaining: z.number(), reset_after: z.number(), max_concurrency: z.number().optional() })
    .optional(),
});

const frameSchema = z.object({
  op: z.number().int(),
  d: z.unknown().optional(),
  s: z.number().int().nullish(),
  t: z.string().nullish(),
});

const helloSchema = z.object({ heartbeat_interval: z.number().positive() });
const readySchema = z.object({
  session_id: z.string().min(1),
  resume_gateway_url: z.string().min(1),
  user: z.object({ id: z.string() }).optional(),
});

/** `wss://gateway.discord.gg` → `https://gateway.discord.gg/?v=10&encoding=json` (workerd opens WebSockets with fetch). */
export function gatewayConnectUrl(base: string): string {
  const url = new URL(base.replace(/^wss:/i, "https:").replace(/^ws:/i, "http:"));
  url.searchParams.set("v", "10");
  url.searchParams.set("encoding", "json");
  return url.toString();
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function eventKey(n: number): string {
  return `${EVENT_KEY_PREFIX}${String(n).padStart(16, "0")}`;
}

export class DiscordGateway extends DurableObject<Env> {
  private socket: WebSocket | null = null;
  /** Incremented for every connection; handlers of an older one do nothing. */
  private connection = 0;
  private state: GatewayState = "idle";
  private mode: "identify" | "resume" = "identify";
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null;
  private reconnectTimer: ReturnType<typeof setTimeout> | null = null;
  private heartbeatIntervalMs: number | null = null;
  private acked = true;
  private lastFrameAt = 0;
  private seq: number | null = null;
  private failures = 0;
  private lostAt: number | null = null;
  private connecting: Promise<void> | null = null;
  /** Frames are handled one at a time, in the order they came. */
  private frames: Promise<void> = Promise.resolve();
  private draining: Promise<void> | null = null;
  private retryAttempts = 0;
  private retryAt: number | null = null;
  private eventsProcessed = 0;
  private nextEvent: number | null = null;
  private pending: number | null = null;

  // ------------------------------------------------------------------------------------------
  // RPC

  /** Make sure the session is up (POST /v1/discord/gateway, the hourly cron); answers the status. */
  async ensure(): Promise<GatewayStatus> {
    if (this.token() === undefined) return this.status();
    await this.ctx.storage.put("enabled", true);
    if (this.state === "failed") {
      // An agent (or the hourly cron) asks again after a fatal close: try once more.
      this.state = "idle";
    }
    if (this.socket === null) await this.connectGateway();
    await this.scheduleWatchdog();
    return this.status();
  }

  async status(): Promise<GatewayStatus> {
    const [session, stats, pending] = await Promise.all([
      this.ctx.storage.get<Session>("session"),
      this.stats(),
      this.pendingCount(),
    ]);
    let state = this.state;
    if (this.token() === undefined) state = "disabled";
    else if (state === "idle" && (await this.ctx.storage.get<boolean>("enabled")) === true)
      state = "reconnecting";
    return {
      state,
      sessionId: session?.sessionId ?? null,
      seq: this.seq ?? session?.seq ?? null,
      lastHeartbeatAckAt: iso(stats.lastHeartbeatAckAt),
      reconnects: stats.reconnects,
      identifies: stats.identifies,
      resumes: stats.resumes,
      pendingEvents: pending,
      eventsProcessed: this.eventsProcessed,
      identifyNotBefore: iso(stats.identifyNotBefore),
      lastError: stats.lastError,
      lastReconnectMs: stats.lastReconnectMs,
    };
  }

  /** Stop and forget the session (tests, and an operator turning the Gateway off). */
  async disconnect(): Promise<void> {
    await this.ctx.storage.put("enabled", false);
    this.teardown(1000, "disabled");
    this.state = "idle";
    await this.ctx.storage.deleteAlarm();
  }

  // ------------------------------------------------------------------------------------------
  // The watchdog

  override async alarm(): Promise<void> {
    if (this.token() === undefined) {
      this.state = "disabled";
      return;
    }
    if ((await this.ctx.storage.get<boolean>("enabled")) !== true) return;
    await this.drain();
    const now = Date.now();
    if (this.socket !== null && this.heartbeatIntervalMs !== null) {
      // A connection that has said nothing (not even an ACK) for two intervals is a zombie.
      if (now - this.lastFrameAt > 2 * this.heartbeatIntervalMs + 5_000) {
        await this.drop("no frame from the Gateway for two heartbeat intervals");
      }
    } else if (this.socket !== null && now - this.lastFrameAt > WATCHDOG_MS) {
      // Connected but no HELLO for half a minute: try again.
      await this.drop("no HELLO from the Gateway");
    } else if (this.socket === null && this.state !== "failed" && this.connecting === null) {
      await this.connectGateway();
    }
    await this.scheduleWatchdog();
  }

  private async scheduleWatchdog(): Promise<void> {
    if (this.token() === undefined) return;
    // A failed session waits for an agent or the hourly cron, but kept events are still retried.
    if (this.state === "failed" && (await this.pendingCount()) === 0) return;
    const stats = await this.stats();
    let next = Date.now() + WATCHDOG_MS;
    if (stats.identifyNotBefore !== null && stats.identifyNotBefore > Date.now())
      next = Math.min(next, stats.identifyNotBefore);
    if (this.retryAt !== null) next = Math.min(next, this.retryAt);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > next || current < Date.now()) await this.ctx.storage.setAlarm(next);
  }

  // ------------------------------------------------------------------------------------------
  // Connecting

  private token(): string | undefined {
    return setting(this.env.DISCORD_BOT_TOKEN);
  }

  private async stats(): Promise<Stats> {
    return { ...EMPTY_STATS, ...((await this.ctx.storage.get<Stats>("stats")) ?? {}) };
  }

  private async updateStats(change: (stats: Stats) => Partial<Stats>): Promise<void> {
    const stats = await this.stats();
    await this.ctx.storage.put("stats", { ...stats, ...change(stats) });
  }

  private connectGateway(): Promise<void> {
    this.connecting ??= this.openConnection().finally(() => {
      this.connecting = null;
    });
    return this.connecting;
  }

  private async openConnection(): Promise<void> {
    const token = this.token();
    if (token === undefined) {
      this.state = "disabled";
      return;
    }
    if (this.socket !== null) return;
    this.state = "connecting";
    const session = await this.ctx.storage.get<Session>("session");
    let url: string;
    if (session !== undefined) {
      url = session.resumeUrl;
      this.mode = "resume";
      this.seq = session.seq;
    } else {
      const stats = await this.stats();
      if (stats.identifyNotBefore !== null && Date.now() < stats.identifyNotBefore) {
        this.state = "waiting";
        await this.scheduleWatchdog();
        return;
      }
      const info = await this.gatewayBot(token);
      if (info === null) return;
      const limit = info.session_start_limit;
      if (limit !== undefined && limit.remaining <= 0) {
        // Never IDENTIFY past the limit: Discord would reset the token. Wait for the reset.
        const notBefore = Date.now() + Math.max(limit.reset_after, 1_000);
        await this.updateStats(() => ({
          identifyNotBefore: notBefore,
          lastError: `session_start_limit exhausted: no IDENTIFY before ${new Date(notBefore).toISOString()}`,
        }));
        this.state = "waiting";
        await this.scheduleWatchdog();
        return;
      }
      url = info.url;
      this.mode = "identify";
      this.seq = null;
    }
    let response: Response;
    try {
      response = await fetch(gatewayConnectUrl(url), { headers: { Upgrade: "websocket" } });
    } catch (error) {
      await this.connectFailed(`could not reach the Gateway: ${String(error)}`);
      return;
    }
    const ws = response.webSocket;
    if (ws === null || ws === undefined) {
      await this.connectFailed(`the Gateway answered HTTP ${response.status}, not a WebSocket`);
      if (this.mode === "resume" && response.status >= 400 && response.status < 500) {
        // The resume URL itself is refused: start a new session.
        await this.ctx.storage.delete("session");
      }
      return;
    }
    ws.accept();
    const id = ++this.connection;
    this.socket = ws;
    this.lastFrameAt = Date.now();
    this.state = this.mode === "resume" ? "resuming" : "identifying";
    ws.addEventListener("message", (event) => {
      const data = typeof event.data === "string" ? event.data : new TextDecoder().decode(event.data);
      this.frames = this.frames
        .then(() => this.onFrame(id, data))
        .catch((error) => console.error(`discord gateway: frame failed: ${String(error)}`));
    });
    ws.addEventListener("close", (event) => {
      this.frames = this.frames.then(() => this.onClose(id, event.code, event.reason));
    });
    ws.addEventListener("error", () => {
      this.frames = this.frames.then(() => this.onClose(id, 1006, "socket error"));
    });
  }

  private async gatewayBot(token: string): Promise<z.infer<typeof gatewayBotSchema> | null> {
    const base = apiBase(this.env.DISCORD_API_URL, "https://discord.com/api/v10");
    let response: Response;
    try {
      response = await fetch(`${base}/gateway/bot`, {
        headers: {
          authorization: `Bot ${token}`,
          "user-agent": "DiscordBot (https://switchboard.dev, 1)",
        },
        signal: AbortSignal.timeout(10_000),
      });
    } catch (error) {
      await this.connectFailed(`GET /gateway/bot failed: ${String(error)}`);
      return null;
    }
    if (response.status === 401) {
      await this.fail("GET /gateway/bot answered 401: DISCORD_BOT_TOKEN is refused");
      return null;
    }
    const parsed = gatewayBotSchema.safeParse(await response.json().catch(() => null));
    if (!response.ok || !parsed.success) {
      await this.connectFailed(`GET /gateway/bot answered HTTP ${response.status}`);
      return null;
    }
    return parsed.data;
  }

  private async connectFailed(error: string): Promise<void> {
    this.state = "reconnecting";
    this.lostAt ??= Date.now();
    await this.updateStats(() => ({ lastError: error }));
    this.scheduleReconnect();
  }

  private async fail(error: string): Promise<void> {
    this.state = "failed";
    console.error(`discord gateway: ${error}`);
    await this.updateStats(() => ({ lastError: error }));
  }

  private scheduleReconnect(immediate = false): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    const delay = immediate ? 0 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** this.failures);
    this.failures += 1;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.socket === null && this.state !== "failed") void this.connectGateway();
    }, delay);
  }

  private send(payload: GatewayHeartbeat | GatewayIdentify | GatewayResume): void {
    try {
      this.socket?.send(JSON.stringify(payload));
    } catch (error) {
      console.error(`discord gateway: send failed: ${String(error)}`);
    }
  }

  /** Close the current socket (if any) without letting its close event do anything. */
  private teardown(code: number, reason: string): void {
    this.connection += 1;
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.heartbeatIntervalMs = null;
    const ws = this.socket;
    this.socket = null;
    try {
      ws?.close(code, reason);
    } catch {
      // already closed
    }
  }

  /** The connection is lost or unhealthy: drop it and come back (RESUME when a session is kept). */
  private async drop(reason: string, options: { newSession?: boolean; delayMs?: number } = {}) {
    this.teardown(RESUME_CLOSE_CODE, reason.slice(0, 120));
    this.state = "reconnecting";
    this.lostAt ??= Date.now();
    if (options.newSession === true) {
      await this.ctx.storage.delete("session");
      this.seq = null;
    } else await this.saveSeq();
    await this.updateStats((s) => ({ reconnects: s.reconnects + 1, lastError: reason }));
    if (options.delayMs !== undefined) {
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = setTimeout(() => {
        this.reconnectTimer = null;
        if (this.socket === null) void this.connectGateway();
      }, options.delayMs);
    } else this.scheduleReconnect(this.failures === 0);
    await this.scheduleWatchdog();
  }

  private async saveSeq(): Promise<void> {
    const session = await this.ctx.storage.get<Session>("session");
    if (session !== undefined && this.seq !== null && session.seq !== this.seq) {
      await this.ctx.storage.put("session", { ...session, seq: this.seq });
    }
  }

  // ------------------------------------------------------------------------------------------
  // The protocol

  private async onClose(id: number, code: number, reason: string): Promise<void> {
    if (id !== this.connection) return;
    this.teardown(1000, "closed");
    if (FATAL_CLOSE_CODES.has(code)) {
      const hint =
        code === 4014
          ? " (enable the MESSAGE_CONTENT privileged intent in the Developer Portal)"
          : code === 4004
            ? " (DISCORD_BOT_TOKEN is wrong)"
            : "";
      await this.fail(`the Gateway closed with ${code} ${reason}${hint}`);
      return;
    }
    await this.drop(`the Gateway closed the connection (${code}${reason === "" ? "" : ` ${reason}`})`, {
      newSession: NEW_SESSION_CLOSE_CODES.has(code),
    });
  }

  private async onFrame(id: number, data: string): Promise<void> {
    if (id !== this.connection) return;
    this.lastFrameAt = Date.now();
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const frame = frameSchema.safeParse(json);
    if (!frame.success) return;
    const { op, d, s, t } = frame.data;
    switch (op) {
      case Op.Hello: {
        const hello = helloSchema.safeParse(d);
        if (!hello.success) return;
        this.startHeartbeat(id, hello.data.heartbeat_interval);
        await this.identifyOrResume();
        return;
      }
      case Op.HeartbeatAck:
        this.acked = true;
        await this.updateStats(() => ({ lastHeartbeatAckAt: Date.now() }));
        return;
      case Op.Heartbeat:
        this.send({ op: Op.Heartbeat, d: this.seq });
        return;
      case Op.Reconnect:
        await this.drop("the Gateway asked to reconnect (op 7)");
        return;
      case Op.InvalidSession:
        if (d === true) await this.drop("invalid session (op 9), resumable");
        else {
          // Discord: wait a random 1–5 s, then IDENTIFY with a new session.
          await this.drop("invalid session (op 9), not resumable", {
            newSession: true,
            delayMs: 1_000 + Math.floor(Math.random() * 4_000),
          });
        }
        return;
      case Op.Dispatch:
        await this.onDispatch(t ?? "", s ?? null, d);
        return;
      default:
        return;
    }
  }

  private startHeartbeat(id: number, intervalMs: number): void {
    if (this.heartbeatTimer !== null) clearTimeout(this.heartbeatTimer);
    this.heartbeatIntervalMs = intervalMs;
    this.acked = true;
    const beat = () => {
      if (id !== this.connection) return;
      if (!this.acked) {
        // No ACK since the last beat: a zombie connection. Drop it and RESUME.
        this.frames = this.frames.then(() => this.drop("no heartbeat ACK (zombie connection)"));
        return;
      }
      this.acked = false;
      this.send({ op: Op.Heartbeat, d: this.seq });
      this.heartbeatTimer = setTimeout(beat, intervalMs);
    };
    // The first beat after interval × jitter, so a fleet of clients does not beat in step.
    this.heartbeatTimer = setTimeout(beat, Math.floor(intervalMs * Math.random()));
  }

  private async identifyOrResume(): Promise<void> {
    const token = this.token();
    if (token === undefined) return;
    const session = await this.ctx.storage.get<Session>("session");
    if (this.mode === "resume" && session !== undefined) {
      this.state = "resuming";
      this.send({
        op: Op.Resume,
        d: { token, session_id: session.sessionId, seq: this.seq ?? session.seq ?? 0 },
      });
      return;
    }
    const stats = await this.stats();
    if (stats.identifyNotBefore !== null && Date.now() < stats.identifyNotBefore) {
      this.teardown(1000, "waiting for session_start_limit");
      this.state = "waiting";
      await this.scheduleWatchdog();
      return;
    }
    this.state = "identifying";
    await this.updateStats((s) => ({ identifies: s.identifies + 1, identifyNotBefore: null }));
    this.send({
      op: Op.Identify,
      d: {
        token,
        intents: GATEWAY_INTENTS,
        properties: { os: "workerd", browser: "switchboard", device: "switchboard" },
      },
    });
  }

  private async onDispatch(type: string, s: number | null, d: unknown): Promise<void> {
    if (type === "READY") {
      const ready = readySchema.safeParse(d);
      if (!ready.success) return;
      this.seq = s;
      await this.ctx.storage.put("session", {
        sessionId: ready.data.session_id,
        resumeUrl: ready.data.resume_gateway_url,
        seq: s,
      } satisfies Session);
      await this.connected({ botUserId: ready.data.user?.id ?? null });
      return;
    }
    if (type === "RESUMED") {
      if (s !== null) this.seq = s;
      await this.connected({ resumed: true });
      return;
    }
    const relevant = (GATEWAY_EVENTS as readonly string[]).includes(type);
    const seq = s ?? this.seq;
    if (!relevant) {
      // Nothing to keep: the seq is saved with the next event that matters (or on a drop). A
      // reset before that resumes a little earlier and is replayed events the desk ignores again.
      this.seq = seq;
      return;
    }
    // The event and the seq that covers it are written together: once the seq moves past an
    // event, the event is in storage.
    const n = await this.takeEventNumber();
    const session = await this.ctx.storage.get<Session>("session");
    const event: GatewayEvent = { t: type, d, receivedAt: Date.now() };
    await this.ctx.storage.put({
      [eventKey(n)]: event,
      nextEvent: n + 1,
      ...(session === undefined ? {} : { session: { ...session, seq } }),
    });
    this.seq = seq;
    if (this.pending !== null) this.pending += 1;
    void this.drain();
  }

  /** Events in storage not yet taken by intake: counted once per instance, then kept in memory. */
  private async pendingCount(): Promise<number> {
    if (this.pending === null) {
      const listed = await this.ctx.storage.list({ prefix: EVENT_KEY_PREFIX });
      this.pending ??= listed.size;
    }
    return this.pending;
  }

  private async takeEventNumber(): Promise<number> {
    if (this.nextEvent === null) this.nextEvent = (await this.ctx.storage.get<number>("nextEvent")) ?? 1;
    const n = this.nextEvent;
    this.nextEvent = n + 1;
    return n;
  }

  private async connected(how: { botUserId?: string | null; resumed?: boolean }): Promise<void> {
    this.state = "ready";
    this.failures = 0;
    const tookMs = this.lostAt === null ? null : Date.now() - this.lostAt;
    this.lostAt = null;
    await this.updateStats((s) => ({
      ...(how.resumed === true ? { resumes: s.resumes + 1 } : {}),
      ...(how.botUserId === undefined || how.botUserId === null ? {} : { botUserId: how.botUserId }),
      ...(tookMs === null ? {} : { lastReconnectMs: tookMs }),
      lastError: null,
    }));
    await this.scheduleWatchdog();
  }

  // ------------------------------------------------------------------------------------------
  // Into intake

  private drain(): Promise<void> {
    this.draining ??= this.drainOnce().finally(() => {
      this.draining = null;
    });
    return this.draining;
  }

  private async drainOnce(): Promise<void> {
    if (this.retryAt !== null && Date.now() < this.retryAt) return;
    this.retryAt = null;
    const botUserId = (await this.stats()).botUserId;
    for (;;) {
      const batch = await this.ctx.storage.list<GatewayEvent>({ prefix: EVENT_KEY_PREFIX, limit: 100 });
      if (batch.size === 0) {
        this.retryAttempts = 0;
        return;
      }
      for (const [key, event] of batch) {
        try {
          await handleGatewayEvent(this.env, event, {
            botUserId,
            applicationId: setting(this.env.DISCORD_APPLICATION_ID) ?? null,
            threads: this.threads,
          });
        } catch (error) {
          // Intake could not take it (D1 unreachable, a bug): keep it, in order, and try again.
          const delay = Math.min(MAX_RETRY_MS, 1_000 * 2 ** this.retryAttempts);
          this.retryAttempts += 1;
          this.retryAt = Date.now() + delay;
          console.error(
            `discord gateway: intake of ${event.t} failed, retrying in ${delay} ms: ${String(error)}`,
          );
          await this.updateStats(() => ({ lastError: `intake of ${event.t} failed: ${String(error)}` }));
          await this.scheduleWatchdog();
          return;
        }
        await this.ctx.storage.delete(key);
        if (this.pending !== null) this.pending = Math.max(0, this.pending - 1);
        this.eventsProcessed += 1;
        this.retryAttempts = 0;
      }
    }
  }

  /** Forum threads seen in THREAD_CREATE, until their starter message comes. */
  private readonly threads = {
    remember: async (thread: ThreadMeta): Promise<void> => {
      await this.ctx.storage.put(`${THREAD_KEY_PREFIX}${thread.id}`, thread);
      await this.forgetOldThreads();
    },
    recall: (id: string): Promise<ThreadMeta | undefined> =>
      this.ctx.storage.get<ThreadMeta>(`${THREAD_KEY_PREFIX}${id}`),
    forget: async (id: string): Promise<void> => {
      await this.ctx.storage.delete(`${THREAD_KEY_PREFIX}${id}`);
    },
  };

  private async forgetOldThreads(): Promise<void> {
    const threads = await this.ctx.storage.list<ThreadMeta>({ prefix: THREAD_KEY_PREFIX, limit: 200 });
    const old = [...threads].filter(([, t]) => Date.now() - t.seenAt > THREAD_MEMORY_MS).map(([key]) => key);
    if (old.length > 0) await this.ctx.storage.delete(old);
  }
}
