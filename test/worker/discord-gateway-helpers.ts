import { env } from "cloudflare:workers";
import { inject, vi } from "vitest";
import messageSample from "../fixtures/discord-gateway/message.example.docs.json";
import threadSample from "../fixtures/discord-gateway/thread-channel.example.docs.json";
import { fakeOutbound, TEST_CONFIG, useConfig } from "./helpers";

/** The fake Gateway (scripts/fake-discord-gateway.mjs), started by discord-gateway.global-setup.ts. */
export const FAKE_ORIGIN = inject("fakeDiscordOrigin");
const realFetch = globalThis.fetch.bind(globalThis);

export const GUILD = "1300000000000000100";
export const FORUM = "1300000000000000200";
export const SUPPORT_CHANNEL = "1300000000000000250";
export const STAFF_ROLE = "1300000000000000300";
export const STAFF_USER = "1300000000000000404";
export const BOT_USER = "1300000000000000001";
export const CUSTOMER = { id: "1300000000000000401", username: "ada", global_name: "Ada" };
export const HELPER = { id: "1300000000000000402", username: "grace", global_name: "Grace" };
export const AGENT = { id: "1300000000000000403", username: "linus", global_name: "Linus" };

export interface FakeState {
  connections: number;
  connected: boolean;
  sessionId: string | null;
  seq: number | null;
  identifies: { at: number; intents: number }[];
  resumes: { at: number; sessionId: string; seq: number; known: boolean }[];
  heartbeats: number;
  received: { at: number; op: number; d: unknown; path: string; query: Record<string, string> }[];
  rest: { at: number; method: string; path: string; body: unknown; authorization: string | null }[];
  identifiesPastLimit: number;
}

export async function control(path: string, body?: unknown): Promise<unknown> {
  const response = await realFetch(`${FAKE_ORIGIN}/control/${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
  });
  if (!response.ok) throw new Error(`fake ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}

export const fakeState = () => control("state") as Promise<FakeState>;

/** Discord's REST and Gateway (DISCORD_API_URL is https://discord.fake/api/v10 in the tests) → the fake. */
export function routeDiscordToFake() {
  return fakeOutbound(async (call) => {
    const url = new URL(call.url);
    if (url.host === "discord.fake") {
      const body = call.method === "GET" ? undefined : JSON.stringify(call.body);
      return realFetch(`${FAKE_ORIGIN}${url.pathname}${url.search}`, {
        method: call.method,
        headers: call.headers,
        ...(body === undefined ? {} : { body }),
      });
    }
    if (url.hostname === "127.0.0.1")
      return realFetch(call.url, { method: call.method, headers: call.headers });
    if (url.host === "slack.fake") return Response.json({ ok: true, ts: `${Date.now() / 1000}` });
    return new Response(null, { status: 204 });
  });
}

export async function useDiscordConfig(): Promise<void> {
  await useConfig({
    ...TEST_CONFIG,
    discord: {
      forumChannelIds: [FORUM],
      supportChannelIds: [SUPPORT_CHANNEL],
      staffRoleIds: [STAFF_ROLE],
      staffUserIds: [STAFF_USER],
    },
  });
}

let counter = 0;
/** A fresh snowflake (unique per call across the run). */
export function snowflake(): string {
  counter += 1;
  return String(((BigInt(Date.now()) - 1420070400000n) << 22n) | (2n << 17n) | BigInt(counter % 4096));
}

/** THREAD_CREATE of a new forum post: the docs' Example Thread Channel with our ids. */
export function threadCreate(id: string, name: string, parentId = FORUM) {
  return {
    t: "THREAD_CREATE",
    d: {
      ...threadSample,
      id,
      guild_id: GUILD,
      parent_id: parentId,
      owner_id: CUSTOMER.id,
      name,
      newly_created: true,
    },
  };
}

/** MESSAGE_CREATE: the docs' Example Message with our ids, author, member roles and text. */
export function messageCreate(
  author: { id: string; username: string; global_name?: string },
  content: string,
  where: { id?: string; channelId: string; roles?: string[] },
) {
  return {
    t: "MESSAGE_CREATE",
    d: {
      ...messageSample,
      reactions: [],
      id: where.id ?? snowflake(),
      channel_id: where.channelId,
      guild_id: GUILD,
      author: { ...messageSample.author, ...author },
      member: { roles: where.roles ?? [], nick: null, joined_at: "2021-04-12T23:40:39.855793+00:00" },
      content,
      timestamp: new Date().toISOString(),
    },
  };
}

export function messageUpdate(id: string, channelId: string, content: string) {
  return {
    t: "MESSAGE_UPDATE",
    d: {
      ...messageSample,
      reactions: [],
      id,
      channel_id: channelId,
      guild_id: GUILD,
      author: { ...messageSample.author, ...CUSTOMER },
      content,
      edited_timestamp: new Date().toISOString(),
    },
  };
}

export function messageDelete(id: string, channelId: string) {
  return { t: "MESSAGE_DELETE", d: { id, channel_id: channelId, guild_id: GUILD } };
}

/** Dispatch events on the live session; answers their seqs. */
export async function dispatch(...events: { t: string; d: unknown }[]): Promise<number[]> {
  const answer = (await control("dispatch", { events })) as { seqs: number[] };
  return answer.seqs;
}

/** A Gateway object of its own for one test (the desk's singleton is `discordGateway(env)`). */
export function gatewayObject(name: string) {
  return env.DISCORD_GATEWAY.get(env.DISCORD_GATEWAY.idFromName(name));
}

export async function waitFor<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
  timeout = 10_000,
) {
  return vi.waitFor(
    async () => {
      const value = await check();
      if (value === null || value === undefined || value === false)
        throw new Error(`still waiting for ${what}`);
      return value;
    },
    { timeout, interval: 50 },
  );
}
