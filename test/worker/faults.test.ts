import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { app } from "../../src/http/app";
import { intake } from "../../src/intake";
import { RETRY_AFTER_FAILURE_MS } from "../../src/timer/ticket-timer";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  fireAlarm,
  flush,
  getTicket,
  kinds,
  postMessage,
  TOKEN,
  timer,
  unique,
  useConfig,
} from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const TABLES = ["tickets", "messages", "idempotency_keys", "thread_keys", "attachments", "escalations"];

/** A D1 whose `batch()` fails: the store step of intake, after dedupe, threading and routing have read. */
function failingBatchD1(failure: Error): D1Database {
  return new Proxy(env.DB, {
    get(target, property, receiver) {
      if (property === "batch") return () => Promise.reject(failure);
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A D1 whose batches run for real, with one statement replaced by one that fails inside the transaction. */
function poisonedBatchD1(poisonIndex: number): D1Database {
  return new Proxy(env.DB, {
    get(target, property, receiver) {
      if (property === "batch") {
        return (statements: D1PreparedStatement[]) => {
          const poisoned = [...statements];
          const at = Math.min(poisonIndex, poisoned.length - 1);
          poisoned[at] = target.prepare("insert into no_such_table values (1)");
          return target.batch(poisoned);
        };
      }
      const value = Reflect.get(target, property, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("D1 failures during intake", () => {
  it("an outage at the store step answers a retryable 500 and stores nothing; the retry succeeds once", async () => {
    fakeOutbound();
    const body = { externalId: unique("ext"), from: { name: "Ann" }, text: "hello" };
    const before = await Promise.all(TABLES.map(countRows));
    const failed = await app.request(
      "https://desk.test/v1/messages",
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      },
      { ...env, DB: failingBatchD1(new Error("D1_ERROR: Network connection lost.")) },
    );
    expect(failed.status).toBe(500);
    expect(failed.headers.get("content-type")).toBe("application/problem+json");
    expect(((await failed.json()) as { detail: string }).detail).toContain("Retrying is safe");
    expect(await Promise.all(TABLES.map(countRows))).toEqual(before);

    const retried = await postMessage(body);
    expect(retried.response.status).toBe(202);
    const again = await postMessage(body);
    expect(again.response.status).toBe(200);
    expect(again.body.ticket).toBe(retried.body.ticket);
  });

  it.each([1, 2, 3, 4])(
    "a statement failing at position %i of the batch rolls back every other",
    async (position) => {
      const before = await Promise.all(TABLES.map(countRows));
      await expect(
        intake(
          { ...env, DB: poisonedBatchD1(position) },
          {
            channel: "api",
            idempotencyKey: unique("poison"),
            threadKeys: [unique("thread")],
            from: { name: "P" },
            text: "poisoned",
            receivedAt: Date.now(),
          },
        ),
      ).rejects.toThrow(/no such table/);
      expect(await Promise.all(TABLES.map(countRows))).toEqual(before);
    },
  );

  it("a failure while threading into an existing ticket leaves that ticket untouched", async () => {
    const threadId = unique("thread");
    const first = await postMessage({ threadId, text: "first" });
    const key = first.body.ticket as string;
    const ticketBefore = await getTicket(key);
    await expect(
      intake(
        { ...env, DB: poisonedBatchD1(2) },
        {
          channel: "api",
          idempotencyKey: unique("poison"),
          threadKeys: [threadId],
          from: { name: "P" },
          text: "second",
          receivedAt: Date.now(),
        },
      ),
    ).rejects.toThrow();
    expect(await getTicket(key)).toEqual(ticketBefore);
  });
});

describe("outbound failures", () => {
  it("a 429 waits at least as long as Retry-After asks", async () => {
    let calls = 0;
    const out = fakeOutbound((call) => {
      if (call.host !== "hooks.customer.test") return new Response(null, { status: 204 });
      calls += 1;
      return calls === 1
        ? new Response("slow down", { status: 429, headers: { "retry-after": "45" } })
        : new Response(null, { status: 204 });
    });
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    const key = body.ticket as string;
    await flush(key);
    const next = (await timer(key).status()).nextAlarm ?? 0;
    expect(next - Date.now()).toBeGreaterThan(40_000);
    advanceTo(next);
    await flush(key);
    const attempts = out.about(key);
    expect(attempts).toHaveLength(2);
    expect((attempts[1]?.at ?? 0) - (attempts[0]?.at ?? 0)).toBeGreaterThanOrEqual(45_000);
    expect((await getTicket(key)).messages[1]?.delivery).toEqual({ status: "sent", error: null });
  });

  it("a timeout is retried like any network failure", async () => {
    let calls = 0;
    const out = fakeOutbound((call) => {
      if (call.host !== "hooks.customer.test") return new Response(null, { status: 204 });
      calls += 1;
      if (calls === 1) throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      return new Response(null, { status: 204 });
    });
    const { body } = await postMessage({ callbackUrl: "https://hooks.customer.test/cb" });
    const key = body.ticket as string;
    await flush(key);
    advanceTo((await timer(key).status()).nextAlarm ?? 0);
    await flush(key);
    expect(out.about(key)).toHaveLength(2);
    expect((await getTicket(key)).messages[1]?.delivery?.status).toBe("sent");
  });
});

describe("a timer whose alarm throws", () => {
  it("is retried and escalates exactly once", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({});
    const key = body.ticket as string;
    const ticket = await getTicket(key);
    const start = Date.parse(ticket.createdAt);
    const due = Date.parse(ticket.responseDueAt as string);
    advanceTo(start + (due - start) * 0.8);
    // D1 loses the escalations table under the alarm: its write fails, the run throws.
    await env.DB.exec("ALTER TABLE escalations RENAME TO escalations_away");
    try {
      await expect(fireAlarm(key)).rejects.toThrow();
    } finally {
      await env.DB.exec("ALTER TABLE escalations_away RENAME TO escalations");
    }
    expect(kinds(await getTicket(key))).toEqual([]);
    const retryAt = (await timer(key).status()).nextAlarm;
    expect(retryAt).toBe(Date.now() + RETRY_AFTER_FAILURE_MS);
    advanceTo(retryAt ?? 0);
    await flush(key);
    await fireAlarm(key);
    expect(kinds(await getTicket(key))).toEqual(["warning"]);
    expect(out.slack(key)).toHaveLength(1);
  });
});

describe("a timer the first delivery never reached", () => {
  it("is stored with its debt, answered as stored, and armed by the sender's retry", async () => {
    fakeOutbound();
    const body = { externalId: unique("ext"), from: { name: "Ann" }, text: "hello" };
    // The ticket's timer refuses the first delivery's call: D1 has the ticket, the timer has nothing.
    const brokenTimers = new Proxy(env.TICKET_TIMER, {
      get(target, property, receiver) {
        if (property === "get") {
          return () => ({
            sync: () => Promise.reject(new Error("Durable Object reset because its code was updated")),
          });
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const failed = await app.request(
      "https://desk.test/v1/messages",
      {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      },
      { ...env, TICKET_TIMER: brokenTimers },
    );
    // The message is stored and what it owes its timer is recorded with it (timer_syncs): the
    // answer says so truthfully; the reconciler or a retry pays the debt.
    expect(failed.status).toBe(202);
    const first = (await failed.json()) as { ticket: string };
    const number = Number(first.ticket.replace("SUP-", ""));
    const owed = () =>
      env.DB.prepare("select count(*) as n from timer_syncs where ticket_number = ?")
        .bind(number)
        .first<{ n: number }>();
    expect((await owed())?.n).toBe(1);
    expect((await timer(first.ticket).status()).clock).toBeNull();
    const retried = await postMessage(body);
    expect(retried.response.status).toBe(200);
    const key = retried.body.ticket as string;
    const status = await timer(key).status();
    expect(status.clock?.dueAt).toBe(Date.parse(retried.body.responseDueAt as string));
    expect(status.nextAlarm).not.toBeNull();
    expect((await owed())?.n).toBe(0);
  });
});
