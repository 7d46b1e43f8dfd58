import { describe, expect, it } from "vitest";
import { ERROR_BODY_BYTES, httpOutcome, readPrefix } from "../../src/notify/http";

/** A body of `chunks` × 64 KiB that counts how much of it was pulled. */
function hugeBody(chunks: number) {
  const pulled = { chunks: 0 };
  let sent = 0;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent === chunks) {
        controller.close();
        return;
      }
      sent++;
      pulled.chunks++;
      controller.enqueue(new TextEncoder().encode("x".repeat(64 * 1024)));
    },
  });
  return { stream, pulled };
}

describe("an outbound service's error body", () => {
  it("is read only as far as the error needs: a 5 MiB body is not read whole", async () => {
    const { stream, pulled } = hugeBody(80);
    const outcome = await httpOutcome(new Response(stream, { status: 502 }));
    expect(outcome.ok).toBe(false);
    if (outcome.ok !== false) return;
    expect(outcome.retryable).toBe(true);
    expect(outcome.error).toBe(`HTTP 502: ${"x".repeat(ERROR_BODY_BYTES)}`);
    // The reader stops after the first chunk and cancels the rest (a few chunks may be buffered ahead).
    expect(pulled.chunks).toBeLessThan(5);
  });

  it("keeps a short body whole and does not cut a character in half", async () => {
    expect(await readPrefix(new Response("channel_not_found"), 300)).toBe("channel_not_found");
    const text = `${"a".repeat(299)}é`;
    expect(await readPrefix(new Response(text), 300)).toBe("a".repeat(299));
    expect(await readPrefix(new Response(null, { status: 500 }), 300)).toBe("");
  });

  it.each([
    [429, true],
    [408, true],
    [503, true],
    [400, false],
    [404, false],
  ])("HTTP %i is retryable: %s", async (status, retryable) => {
    const outcome = await httpOutcome(new Response("no", { status }));
    expect(outcome.ok === false && outcome.retryable).toBe(retryable);
  });
});
