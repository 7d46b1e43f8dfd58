import { z } from "zod";
import { type DeliveryOutcome, httpOutcome, networkOutcome, OUTBOUND_TIMEOUT_MS, setting } from "./http";
import type { OutboundEnv } from "./types";

export const pagerDutyDeliverySchema = z.object({
  service: z.literal("pagerduty"),
  /** Team override; null means the desk's `PAGERDUTY_ROUTING_KEY`. */
  routingKey: z.string().nullable(),
  action: z.enum(["trigger", "acknowledge", "resolve"]),
  dedupKey: z.string().max(255),
  summary: z.string().optional(),
  severity: z.enum(["critical", "error", "warning", "info"]).optional(),
  link: z.string().optional(),
});

const PAGERDUTY_EVENTS = "https://events.pagerduty.com";

export type PagerDutyEvent = z.infer<typeof pagerDutyDeliverySchema>;

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
