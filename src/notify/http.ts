/** Shared by every outbound call: how its HTTP answer or network failure becomes a `DeliveryOutcome`. */

export type DeliveryOutcome =
  | { ok: true; externalId?: string }
  | { ok: false; retryable: boolean; error: string; retryAfterMs?: number }
  | { ok: "skipped"; reason: string };

export function setting(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? undefined : trimmed;
}

export const OUTBOUND_TIMEOUT_MS = 10_000;

/** Classify an HTTP answer the way every provider here wants: 429 and 5xx are worth another try. */
export async function httpOutcome(response: Response): Promise<DeliveryOutcome> {
  if (response.ok) return { ok: true };
  const body = (await response.text().catch(() => "")).slice(0, 300);
  const retryable = response.status === 429 || response.status === 408 || response.status >= 500;
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    ok: false,
    retryable,
    error: `HTTP ${response.status}${body === "" ? "" : `: ${body}`}`,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  };
}

export function networkOutcome(error: unknown): DeliveryOutcome {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, retryable: true, error: message.slice(0, 300) };
}
