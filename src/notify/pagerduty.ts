import { z } from "zod";
import { apiBase, type DeliveryOutcome, httpOutcome, postJson, setting } from "./http";
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
  const sent = await postJson(
    `${apiBase(env.PAGERDUTY_EVENTS_URL, PAGERDUTY_EVENTS)}/v2/enqueue`,
    {},
    JSON.stringify(body),
  );
  return sent.ok ? httpOutcome(sent.response) : sent.outcome;
}
