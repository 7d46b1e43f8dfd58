import {
  type DeliveryOutcome,
  httpOutcome,
  networkOutcome,
  OUTBOUND_TIMEOUT_MS,
  type OutboundEnv,
  setting,
} from "./types";

const PAGERDUTY_EVENTS = "https://events.pagerduty.com";

export interface PagerDutyEvent {
  routingKey: string | null;
  action: "trigger" | "acknowledge" | "resolve";
  dedupKey: string;
  summary?: string;
  severity?: "critical" | "error" | "warning" | "info";
  link?: string;
}

/** Events API v2: one incident per ticket, keyed by the ticket key. */
export async function sendPagerDutyEvent(env: OutboundEnv, event: PagerDutyEvent): Promise<DeliveryOutcome> {
  const routingKey = event.routingKey ?? setting(env.PAGERDUTY_ROUTING_KEY);
  if (routingKey === undefined) return { ok: "skipped", reason: "PAGERDUTY_ROUTING_KEY is not set" };
  const base = setting(env.PAGERDUTY_EVENTS_URL) ?? PAGERDUTY_EVENTS;
  const body: Record<string, unknown> = {
    routing_key: routingKey,
    event_action: event.action,
    dedup_key: event.dedupKey,
  };
  if (event.action === "trigger") {
    body.payload = {
      summary: event.summary ?? event.dedupKey,
      source: "switchboard",
      severity: event.severity ?? "critical",
    };
    if (event.link !== undefined) body.links = [{ href: event.link, text: `Open ${event.dedupKey}` }];
  }
  try {
    const response = await fetch(`${base.replace(/\/+$/, "")}/v2/enqueue`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
    });
    return httpOutcome(response);
  } catch (error) {
    return networkOutcome(error);
  }
}
