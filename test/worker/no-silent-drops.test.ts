import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { DELIVERY_MAX_ATTEMPTS, type TicketTimer } from "../../src/timer/ticket-timer";
import { fakeOutbound, fireAlarm, getTicket, postMessage, timer, unique, useConfig } from "./helpers";
import { envelope, freshChannel, freshTs, plain, postEvent } from "./slack-fixtures";

/** Issue 12: no silent drops on any path. */

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("the outbox counts an attempt before the call", () => {
  async function failingCallbackTicket() {
    const callbackUrl = `https://hooks.drops.test/${unique("cb")}`;
    const out = fakeOutbound((call) =>
      call.url === callbackUrl ? new Response("down", { status: 503 }) : new Response(null, { status: 204 }),
    );
    const { body } = await postMessage({ callbackUrl, text: "Exports fail" });
    const key = body.ticket as string;
    await fireAlarm(key);
    return { key, callbackUrl, out };
  }

  /** What the timer's outbox holds for the acknowledgement. */
  function ackRow(key: string) {
    return runInDurableObject(timer(key), async (_instance: TicketTimer, state) => {
      const rows = state.storage.sql
        .exec<{ id: string; attempts: number; status: string }>("SELECT id, attempts, status FROM outbox")
        .toArray();
      return rows[0];
    });
  }

  it("a call that is under way has already been counted", async () => {
    const { key, callbackUrl, out } = await failingCallbackTicket();
    expect(out.calls.filter((c) => c.url === callbackUrl)).toHaveLength(1);
    expect(await ackRow(key)).toMatchObject({ attempts: 1, status: "pending" });
  });

  it("a call that killed the object every time is given up, not retried forever", async () => {
    const { key, callbackUrl, out } = await failingCallbackTicket();
    // The object died mid-call on its last allowed attempt: the claim (and its count) is all that is left.
    await runInDurableObject(timer(key), async (_instance: TicketTimer, state) => {
      state.storage.sql.exec(
        "UPDATE outbox SET attempts = ?, status = 'sending', next_at = ?",
        DELIVERY_MAX_ATTEMPTS,
        Date.now() - 1,
      );
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    const before = out.calls.filter((c) => c.url === callbackUrl).length;
    await fireAlarm(key);
    expect(out.calls.filter((c) => c.url === callbackUrl)).toHaveLength(before);
    const ticket = await getTicket(key);
    const ack = ticket.messages.find((m) => m.kind === "system" && m.text.includes("we have your request"));
    expect(ack?.delivery?.status).toBe("failed");
    expect(
      ticket.messages.some((m) => m.text.startsWith("Delivery failed:") && m.text.includes("never returned")),
    ).toBe(true);
  });
});

describe("Slack inline mode: an intake that fails after the 2 s answer", () => {
  it("is retried from the intake queue, not logged and forgotten", { timeout: 30_000 }, async () => {
    fakeOutbound();
    const db = env.DB;
    const realBatch = db.batch.bind(db);
    let slowFailures = 1;
    vi.spyOn(db, "batch").mockImplementation(async (statements) => {
      if (slowFailures > 0) {
        slowFailures--;
        await new Promise((resolve) => setTimeout(resolve, 2_300));
        throw new Error("D1_ERROR: Network connection lost.");
      }
      return realBatch(statements);
    });
    const channel = freshChannel();
    const ts = freshTs();
    const logged = vi.spyOn(console, "error").mockImplementation(() => {});
    const { response, json } = await postEvent(
      envelope(plain, { channel, ts, thread_ts: undefined, team: "T0CUSTOMER", user_team: "T0CUSTOMER" }),
    );
    expect(response.status).toBe(200);
    expect(json).toEqual({ ok: true, pending: true });
    const ticketNumber = await vi.waitFor(
      async () => {
        const row = await env.DB.prepare(
          "select ticket_number as n from thread_keys where channel = 'slack' and key = ?",
        )
          .bind(`${channel}:${ts}`)
          .first<{ n: number }>();
        expect(row?.n).toBeGreaterThan(0);
        return row?.n ?? 0;
      },
      { timeout: 20_000, interval: 200 },
    );
    expect(logged.mock.calls.some((c) => String(c[0]).includes("retrying it from the queue"))).toBe(true);
    const stored = await env.DB.prepare(
      "select count(*) as n from messages where ticket_number = ? and kind = 'customer'",
    )
      .bind(ticketNumber)
      .first<{ n: number }>();
    expect(stored?.n).toBe(1);
  });
});
