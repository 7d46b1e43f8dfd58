import { z } from "zod";

/**
 * The live console's wire format (SPEC §15), shared by the DeskFeed object, the Worker route that
 * upgrades to it and the page script. Events carry a ticket key and what kind of change happened,
 * never a subject, a name of a customer or any text: a page that hears one fetches the fresh page
 * over the authenticated console routes. The database stays the truth; an event lost on the way
 * costs a page nothing but freshness (it re-fetches on reconnect).
 */

/** The one DeskFeed object of a desk (one per deployment: the console's agents fit in one). */
export const FEED_OBJECT_NAME = "desk";

/** Set by the Worker route on the request it forwards to DeskFeed: who the console signed in. */
export const FEED_AGENT_HEADER = "x-switchboard-feed-agent";

/** Hibernation keep-alive: the runtime answers this text itself, without waking the object. */
export const FEED_PING = "ping";
export const FEED_PONG = "pong";

export const CHANGE_KINDS = [
  "intake",
  "customer-message",
  "staff-response",
  "retimed",
  "resolved",
  "updated",
  "note",
  "escalation",
  "delivery",
  "improvement",
  "edited",
  "survey",
] as const;
export type ChangeKind = (typeof CHANGE_KINDS)[number];

export const feedEventSchema = z.object({
  ticket: z.string().regex(/^[A-Z]+-\d{1,12}$/),
  what: z.enum(CHANGE_KINDS),
});
export type FeedEvent = z.infer<typeof feedEventSchema>;

/** A coalesced publish (live/publish.ts): at most this many changes in one object call. */
export const MAX_EVENTS_PER_PUBLISH = 200;
export const feedEventsSchema = z.array(feedEventSchema).min(1).max(MAX_EVENTS_PER_PUBLISH);

/** What a page subscribes to: the queue (every ticket) or one ticket (its changes and its presence). */
export const feedViewSchema = z.union([z.literal("queue"), z.string().regex(/^ticket:[A-Z]+-\d{1,12}$/)]);
export type FeedView = z.infer<typeof feedViewSchema>;

/** A page's messages to the feed: only the typing signal (pings are answered by the runtime). */
export const clientMessageSchema = z.object({
  type: z.literal("typing"),
  /** What the agent is writing now, or null when they stopped. */
  composing: z.enum(["reply", "note"]).nullable(),
});

/** Per-socket state, kept with the socket (serializeAttachment) so it survives hibernation. */
export const socketStateSchema = z.object({
  agent: z.string().min(1).max(320),
  view: feedViewSchema,
  composing: z.enum(["reply", "note"]).nullable(),
  /** When the typing signal was last refreshed (ms); a signal older than TYPING_STALE_MS is dropped. */
  composingAt: z.number(),
  connectedAt: z.number(),
});
export type SocketState = z.infer<typeof socketStateSchema>;

/** The page repeats its typing signal every few seconds while the agent types. */
export const TYPING_STALE_MS = 10_000;

export interface Viewer {
  agent: string;
  composing: "reply" | "note" | null;
}

export type ServerMessage =
  | { type: "changed"; ticket: string; what: ChangeKind; at: string }
  | { type: "presence"; ticket: string; viewers: Viewer[] }
  | { type: "hello"; view: FeedView; agent: string };

/** Who is on one ticket page, one entry per agent (several tabs of one agent are one viewer). */
export function viewersOf(states: readonly SocketState[], now: number): Viewer[] {
  const byAgent = new Map<string, Viewer>();
  for (const s of states) {
    const composing = s.composing !== null && now - s.composingAt <= TYPING_STALE_MS ? s.composing : null;
    const seen = byAgent.get(s.agent);
    if (seen === undefined) byAgent.set(s.agent, { agent: s.agent, composing });
    else if (seen.composing === null && composing !== null) seen.composing = composing;
  }
  return [...byAgent.values()].sort((a, b) => a.agent.localeCompare(b.agent));
}
