import { waitUntil } from "cloudflare:workers";
import { ticketKey } from "../domain/ticket";
import type { DeskFeed } from "./desk-feed";
import { type ChangeKind, FEED_OBJECT_NAME } from "./feed";

export interface FeedEnv {
  /** Absent in tools and tests that pass a partial environment: nothing is published then. */
  DESK_FEED?: DurableObjectNamespace<DeskFeed> | undefined;
}

export function feedStub(env: Required<FeedEnv>): DurableObjectStub<DeskFeed> {
  return env.DESK_FEED.get(env.DESK_FEED.idFromName(FEED_OBJECT_NAME));
}

/**
 * Tell the live console that a ticket changed. Call it only after the change is stored. It never
 * waits and never throws: the call runs in `waitUntil` and a failure is logged, so a slow or
 * unreachable feed cannot slow or fail intake, a reply or a timer. A lost event costs a console
 * page only freshness — the database is the truth and pages re-fetch on reconnect.
 */
export function publishChange(env: FeedEnv, number: number, what: ChangeKind): void {
  const namespace = env.DESK_FEED;
  if (namespace === undefined) return;
  try {
    const ticket = ticketKey(number);
    const sent = feedStub({ DESK_FEED: namespace })
      .publish({ ticket, what })
      .then(
        () => undefined,
        (error: unknown) => console.warn(`live feed: ${ticket} ${what} not published`, error),
      );
    waitUntil(sent);
  } catch (error) {
    console.warn("live feed: not published", error);
  }
}
