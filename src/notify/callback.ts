import { type DeliveryOutcome, httpOutcome, networkOutcome, OUTBOUND_TIMEOUT_MS } from "./types";

/** `api` tickets: replies, the acknowledgement and the survey are POSTed to the integration's callbackUrl. */
export async function postCallback(
  url: string,
  body: { ticket: string; kind: string; text: string; url?: string },
): Promise<DeliveryOutcome> {
  try {
    const response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "Switchboard/1 (+callback)" },
      body: JSON.stringify(body),
      redirect: "manual",
      signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
    });
    return httpOutcome(response);
  } catch (error) {
    return networkOutcome(error);
  }
}
