import { describe, expect, it } from "vitest";
import { fakeOutbound, flush, getTicket, postMessage, request, unique } from "./helpers";

/** SPEC §7: `ifLastMessageId` on POST /v1/tickets/:key/replies (collision detection). */
describe("a reply written against an older conversation (ifLastMessageId)", () => {
  async function ticketWithFollowUp() {
    const threadId = unique("thread");
    const first = await postMessage({
      threadId,
      text: "It is broken",
      callbackUrl: "https://hooks.customer.test/cb",
    });
    const key = String(first.body.ticket);
    const seen = (await getTicket(key)).messages.at(-1)?.id ?? "";
    // The customer writes again, and a colleague answers, after the page was loaded.
    await postMessage({ threadId, text: "Still broken, and now worse" });
    const colleague = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      token: "test-token-bob",
      json: {
        text: "Bob here: looking at it now",
        ifLastMessageId: (await getTicket(key)).messages.at(-1)?.id,
      },
    });
    expect(colleague.status).toBe(201);
    return { key, seen };
  }

  it("is refused with 409 listing the newer messages and who wrote them; nothing is stored or sent", async () => {
    const out = fakeOutbound();
    const { key, seen } = await ticketWithFollowUp();
    await flush(key);
    const before = await getTicket(key);
    const response = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Alice's stale answer", ifLastMessageId: seen },
    });
    expect(response.status).toBe(409);
    expect(response.headers.get("content-type")).toContain("application/problem+json");
    const problem = (await response.json()) as {
      status: number;
      detail: string;
      lastMessageId: string;
      messages: { kind: string; author: string; text: string }[];
    };
    expect(problem.status).toBe(409);
    expect(problem.messages.map((m) => [m.kind, m.author, m.text])).toEqual([
      ["customer", "Ann", "Still broken, and now worse"],
      ["staff", "bob", "Bob here: looking at it now"],
    ]);
    expect(problem.detail).toContain("bob");
    expect(problem.lastMessageId).toBe(before.messages.at(-1)?.id);
    await flush(key);
    const after = await getTicket(key);
    expect(after.messages).toHaveLength(before.messages.length);
    expect(out.to("hooks.customer.test").map((c) => (c.body as { text: string }).text)).not.toContain(
      "Alice's stale answer",
    );

    // Sent again with the newest id (a deliberate "send anyway"), it goes out once.
    const anyway = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Alice's stale answer", ifLastMessageId: problem.lastMessageId },
    });
    expect(anyway.status).toBe(201);
    await flush(key);
    expect(
      out
        .to("hooks.customer.test")
        .filter((c) => (c.body as { text: string }).text === "Alice's stale answer"),
    ).toHaveLength(1);
  });

  it("passes when the writer saw the newest message, and system messages never count as news", async () => {
    const { body } = await postMessage({ text: "Hi" });
    const key = String(body.ticket);
    const messages = (await getTicket(key)).messages;
    // The acknowledgement (a system message) came after the customer's message.
    expect(messages.map((m) => m.kind)).toEqual(["customer", "system"]);
    const customer = messages[0]?.id ?? "";
    const response = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Hello!", ifLastMessageId: customer },
    });
    expect(response.status).toBe(201);
  });

  it("an internal note counts as news for a later reply", async () => {
    const { body } = await postMessage({ text: "Hi" });
    const key = String(body.ticket);
    const seen = (await getTicket(key)).messages.at(-1)?.id ?? "";
    await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      token: "test-token-bob",
      json: { text: "Do not promise a date", internal: true },
    });
    const response = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Fixed by Friday", ifLastMessageId: seen },
    });
    expect(response.status).toBe(409);
    const problem = (await response.json()) as { messages: { kind: string; author: string }[] };
    expect(problem.messages).toEqual([expect.objectContaining({ kind: "note", author: "bob" })]);
  });

  it("an id that is not a message of this ticket is a 400 naming the field", async () => {
    const { body } = await postMessage({ text: "Hi" });
    const other = await postMessage({ text: "Other" });
    const foreign = (await getTicket(String(other.body.ticket))).messages[0]?.id ?? "";
    for (const id of ["no-such-message", foreign]) {
      const response = await request(`/v1/tickets/${body.ticket}/replies`, {
        method: "POST",
        json: { text: "Hello", ifLastMessageId: id },
      });
      expect(response.status).toBe(400);
      expect(JSON.stringify(await response.json())).toContain("ifLastMessageId");
    }
  });

  it("with an Idempotency-Key, a retry of a sent reply answers the first reply (not a conflict) and sends nothing again", async () => {
    const out = fakeOutbound();
    const { body } = await postMessage({ text: "Hi", callbackUrl: "https://hooks.customer.test/cb" });
    const key = String(body.ticket);
    const seen = (await getTicket(key)).messages.at(-1)?.id ?? "";
    const send = () =>
      request(`/v1/tickets/${key}/replies`, {
        method: "POST",
        headers: { "idempotency-key": `retry-${key}` },
        json: { text: "Once only", ifLastMessageId: seen },
      });
    const first = await send();
    expect(first.status).toBe(201);
    const again = await send();
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(((await again.json()) as { message: { id: string } }).message.id).toBe(
      ((await first.json()) as { message: { id: string } }).message.id,
    );
    // A refused reply records nothing: its key can be used for the deliberate send.
    const stale = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      headers: { "idempotency-key": `stale-${key}` },
      json: { text: "Second thought", ifLastMessageId: seen },
    });
    expect(stale.status).toBe(409);
    const deliberate = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      headers: { "idempotency-key": `stale-${key}` },
      json: { text: "Second thought" },
    });
    expect(deliberate.status).toBe(201);
    expect(deliberate.headers.get("idempotent-replayed")).toBeNull();
    await flush(key);
    const texts = out.to("hooks.customer.test").map((c) => (c.body as { text: string }).text);
    expect(texts.filter((t) => t === "Once only")).toHaveLength(1);
    expect(texts.filter((t) => t === "Second thought")).toHaveLength(1);
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await (await request("/openapi.json", { token: null })).json()) as {
      paths: Record<string, { post?: { responses: Record<string, unknown> } }>;
      components: { schemas: Record<string, { properties?: Record<string, unknown> }> };
    };
    expect(doc.paths["/v1/tickets/{key}/replies"]?.post?.responses["409"]).toBeDefined();
    expect(doc.components.schemas.Reply?.properties?.ifLastMessageId).toBeDefined();
  });
});
