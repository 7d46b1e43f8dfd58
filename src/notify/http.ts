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

/** A provider's base URL: the `*_API_URL` override (tests point it at a local fake) or the real one. */
export function apiBase(override: string | undefined, real: string): string {
  return (setting(override) ?? real).replace(/\/+$/, "");
}

/**
 * POST a JSON body with the outbound timeout. A network failure or timeout is already an outcome
 * (retryable); an answer is returned for the caller to read.
 */
export async function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  init: { redirect?: "follow" | "manual"; method?: "POST" | "PATCH" } = {},
): Promise<{ ok: true; response: Response } | { ok: false; outcome: DeliveryOutcome }> {
  try {
    const response = await fetch(url, {
      headers: { "content-type": "application/json", ...headers },
      body,
      signal: AbortSignal.timeout(OUTBOUND_TIMEOUT_MS),
      ...init,
      method: init.method ?? "POST",
    });
    return { ok: true, response };
  } catch (error) {
    return { ok: false, outcome: networkOutcome(error) };
  }
}

/** Classify an HTTP answer the way every provider here wants: 429 and 5xx are worth another try. */
export async function httpOutcome(response: Response): Promise<DeliveryOutcome> {
  if (response.ok) return { ok: true };
  const body = await readPrefix(response, ERROR_BODY_BYTES);
  const retryable = response.status === 429 || response.status === 408 || response.status >= 500;
  const retryAfter = Number(response.headers.get("retry-after"));
  return {
    ok: false,
    retryable,
    error: `HTTP ${response.status}${body === "" ? "" : `: ${body}`}`,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}),
  };
}

/** How much of a failed answer's body is kept in the error (a provider may send megabytes). */
export const ERROR_BODY_BYTES = 300;

/** The first `limit` bytes of a body as text; the rest is never read (the stream is cancelled). */
export async function readPrefix(response: Response, limit: number): Promise<string> {
  const reader = response.body?.getReader();
  if (reader === undefined) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < limit) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } catch {
    // A body that breaks off is still an error worth reporting with what came.
  } finally {
    await reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(Math.min(size, limit));
  let at = 0;
  for (const chunk of chunks) {
    const take = chunk.subarray(0, bytes.length - at);
    bytes.set(take, at);
    at += take.byteLength;
    if (at >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes).replace(/\uFFFD$/, "");
}

export function networkOutcome(error: unknown): DeliveryOutcome {
  const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { ok: false, retryable: true, error: message.slice(0, 300) };
}

/** The `id` of the object a provider answered with (a created comment or message), if it has one. */
export async function createdId(response: Response): Promise<string | undefined> {
  const created: unknown = await response.json().catch(() => null);
  if (typeof created !== "object" || created === null || !("id" in created)) return undefined;
  const { id } = created;
  return typeof id === "number" || typeof id === "string" ? String(id) : undefined;
}
