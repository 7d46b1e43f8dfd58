import { waitUntil } from "cloudflare:workers";
import { ticketKey } from "../domain/ticket";
import type { DeskFeed } from "./desk-feed";
import { type ChangeKind, FEED_OBJECT_NAME, type FeedEvent, MAX_EVENTS_PER_PUBLISH } from "./feed";

export interface FeedEnv {
  /** Absent in tools and tests that pass a partial environment: nothing is published then. */
  DESK_FEED?: DurableObjectNamespace<DeskFeed> | undefined;
}

export function feedStub(env: Required<FeedEnv>): DurableObjectStub<DeskFeed> {
  return env.DESK_FEED.get(env.DESK_FEED.idFromName(FEED_OBJECT_NAME));
}

/**
 * How long a change waits for others from this isolate before they travel to the feed together.
 * Under load (sixteen senders, or an escalation burst) one object call carries a dozen changes
 * instead of one each; a console page hears of a change this much later, which nobody can see.
 */
export const PUBLISH_COALESCE_MS = 15;

/** A flush older than this did not run (its context went away): the next change schedules another. */
const FLUSH_LOST_AFTER_MS = 2_000;

/** Changes this isolate has not sent yet, oldest first, and when their flush was scheduled. */
let pending: FeedEvent[] = [];
let flushScheduledAt: number | null = null;

/**
 * Tell the live console that a ticket changed. Call it only after the change is stored. It never
 * waits and never throws: the changes of the next `PUBLISH_COALESCE_MS` go to the feed in one call
 * inside `waitUntil`, and a failure is logged, so a slow or unreachable feed cannot slow or fail
 * intake, a reply or a timer. A lost event costs a console page only freshness — the database is
 * the truth and pages re-fetch on reconnect.
 */
export function publishChange(env: FeedEnv, number: number, what: ChangeKind): void {
  const namespace = env.DESK_FEED;
  if (namespace === undefined) return;
  pending.push({ ticket: ticketKey(number), what });
  const now = Date.now();
  if (flushScheduledAt !== null && now - flushScheduledAt < FLUSH_LOST_AFTER_MS) return;
  flushScheduledAt = now;
  try {
    waitUntil(flush(namespace));
  } catch (error) {
    flushScheduledAt = null;
    console.warn("live feed: not published", error);
  }
}

async function flush(namespace: NonNullable<FeedEnv["DESK_FEED"]>): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, PUBLISH_COALESCE_MS));
  const events = pending;
  pending = [];
  flushScheduledAt = null;
  const stub = feedStub({ DESK_FEED: namespace });
  for (let i = 0; i < events.length; i += MAX_EVENTS_PER_PUBLISH) {
    const chunk = events.slice(i, i + MAX_EVENTS_PER_PUBLISH);
    try {
      await stub.publishMany(chunk);
    } catch (error) {
      console.warn(`live feed: ${chunk.length} changes not published`, error);
    }
  }
}
