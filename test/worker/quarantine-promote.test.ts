import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConsoleBrowser, cspNonce, parseHtml, scriptSurfaces } from "./console-helpers";
import { deliverEmail, mail } from "./email-helpers";
import { advanceTo, countRows, fakeOutbound, flush, getTicket, HOUR, request, useConfig } from "./helpers";

/**
 * SPEC §7 `POST /v1/quarantine/:id/promote`: an agent opens a ticket from any quarantined mail.
 * Its clock starts at the mail's arrival, nothing is sent to the sender, and it happens once.
 */

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

let counter = 0;

/** An auto-reply with text, HTML and an attachment, quarantined `ago` ms in the past. */
async function quarantined(options: { ago?: number; subject?: string; text?: string } = {}) {
  counter += 1;
  const from = `auto${counter}.${Date.now()}@vacation.example`;
  const messageId = `q${counter}.${Date.now()}@vacation.example`;
  const text = options.text ?? "I am out of the office until Monday. About the export: it still fails.";
  const raw = [
    `From: Dana <${from}>`,
    "To: support@example.com",
    `Subject: ${options.subject ?? "Automatic reply: exports"}`,
    `Message-ID: <${messageId}>`,
    "Auto-Submitted: auto-replied",
    "MIME-Version: 1.0",
    'Content-Type: multipart/mixed; boundary="mix"',
    "",
    "--mix",
    'Content-Type: multipart/alternative; boundary="alt"',
    "",
    "--alt",
    "Content-Type: text/plain; charset=utf-8",
    "",
    text,
    "--alt",
    "Content-Type: text/html; charset=utf-8",
    "",
    "<p>I am <b>out of the office</b>.</p><script>alert(1)</script>",
    "--alt--",
    "--mix",
    "Content-Type: text/csv",
    'Content-Disposition: attachment; filename="export.csv"',
    "",
    "a,b\r\n1,2",
    "--mix--",
    "",
  ].join("\r\n");
  const arrival = Date.now() - (options.ago ?? 0);
  if (options.ago !== undefined) advanceTo(arrival);
  await deliverEmail(raw, { from });
  vi.useRealTimers();
  const row = await env.DB.prepare("select * from quarantine where external_id = ?")
    .bind(messageId)
    .first<{ id: string; received_at: number; storage_key: string; text: string }>();
  if (row === null) throw new Error("the mail was not quarantined");
  return { id: row.id, receivedAt: row.received_at, storageKey: row.storage_key, from, messageId, text };
}

function promote(id: string, token?: string | null) {
  return request(`/v1/quarantine/${encodeURIComponent(id)}/promote`, {
    method: "POST",
    ...(token === undefined ? {} : { token }),
  });
}

/** Mail the desk sent (it keeps a copy of each in R2) to `address`. */
async function mailTo(address: string): Promise<string[]> {
  const sent: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await env.ATTACHMENTS.list({ prefix: "mail/out/", ...(cursor ? { cursor } : {}) });
    for (const object of page.objects) {
      const text = (await (await env.ATTACHMENTS.get(object.key))?.text()) ?? "";
      if (text.includes(`To: <${address}>`)) sent.push(object.key);
    }
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor !== undefined);
  return sent;
}

interface Listed {
  id: string;
  promotedTicket: string | null;
  reason: string;
}

async function listed(id: string): Promise<Listed | undefined> {
  const body = (await (await request("/v1/quarantine?limit=100")).json()) as { messages: Listed[] };
  return body.messages.find((m) => m.id === id);
}

describe("POST /v1/quarantine/:id/promote", () => {
  it("opens a ticket from the raw mail, its clock from the mail's arrival, with nothing sent", async () => {
    fakeOutbound();
    const q = await quarantined({ ago: 3 * HOUR });
    expect(await listed(q.id)).toMatchObject({ reason: "auto-submitted", promotedTicket: null });

    const response = await promote(q.id);
    expect(response.status).toBe(201);
    const { ticket: key } = (await response.json()) as { ticket: string };
    expect(key).toMatch(/^SUP-\d+$/);
    await flush(key);

    const ticket = (await getTicket(key)) as Awaited<ReturnType<typeof getTicket>> & {
      messages: {
        html: string | null;
        attachments: { filename: string; url: string }[];
        createdAt: string;
      }[];
    };
    expect(ticket).toMatchObject({ channel: "email", status: "open", policy: "email", breached: false });
    expect(ticket.createdAt).toBe(new Date(q.receivedAt).toISOString());
    // The email target is 24 hours, counted from when the mail arrived, not from the promotion.
    expect(ticket.responseDueAt).toBe(new Date(q.receivedAt + 24 * HOUR).toISOString());
    expect(ticket.messages).toHaveLength(1);
    const [message] = ticket.messages;
    expect(message).toMatchObject({ direction: "inbound", kind: "customer" });
    expect(message?.text.trimEnd()).toBe(q.text);
    expect(message?.createdAt).toBe(new Date(q.receivedAt).toISOString());
    // Read again from R2: the HTML (sanitised) and the attachment came back too.
    expect(message?.html).toContain("<b>out of the office</b>");
    expect(message?.html).not.toContain("script");
    expect(message?.attachments.map((a) => a.filename)).toEqual(["export.csv"]);
    const csv = await request(new URL(message?.attachments[0]?.url ?? "").pathname);
    expect((await csv.text()).replace(/\r\n/g, "\n").trim()).toBe("a,b\n1,2");
    // No acknowledgement: none recorded, none sent.
    expect(ticket.messages.filter((m) => m.direction === "outbound")).toEqual([]);
    expect(await mailTo(q.from)).toEqual([]);

    expect((await listed(q.id))?.promotedTicket).toBe(key);
    const row = await env.DB.prepare("select promoted_ticket from quarantine where id = ?")
      .bind(q.id)
      .first<{ promoted_ticket: number }>();
    expect(`SUP-${row?.promoted_ticket}`).toBe(key);
  });

  it("a second call answers the same ticket with 200 and changes nothing", async () => {
    fakeOutbound();
    const q = await quarantined();
    const first = await promote(q.id);
    expect(first.status).toBe(201);
    const { ticket } = (await first.json()) as { ticket: string };
    const counts = await Promise.all(["tickets", "messages", "attachments", "thread_keys"].map(countRows));
    const second = await promote(q.id);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ ticket });
    expect(await Promise.all(["tickets", "messages", "attachments", "thread_keys"].map(countRows))).toEqual(
      counts,
    );
  });

  it("concurrent calls open one ticket", async () => {
    fakeOutbound();
    const q = await quarantined();
    const before = await countRows("tickets");
    const responses = await Promise.all(Array.from({ length: 5 }, () => promote(q.id)));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as { ticket: string }[];
    expect(new Set(bodies.map((b) => b.ticket)).size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(4);
    expect(await countRows("tickets")).toBe(before + 1);
    const ticket = await getTicket(bodies[0]?.ticket ?? "");
    expect(ticket.messages).toHaveLength(1);
  });

  it("a reply to the promoted mail threads into its ticket", async () => {
    fakeOutbound();
    const q = await quarantined();
    const { ticket: key } = (await (await promote(q.id)).json()) as { ticket: string };
    const reply = mail({ from: `Dana <${q.from}>`, subject: "Back now", inReplyTo: q.messageId });
    await deliverEmail(reply.raw, { from: q.from });
    const messages = (await getTicket(key)).messages;
    expect(messages.map((m) => m.kind)).toEqual(["customer", "customer"]);
  });

  it("gives the whole text when the quarantine kept only its first 64 KiB", async () => {
    fakeOutbound();
    const text = "The export log follows.\n".repeat(5000);
    const q = await quarantined({ text });
    expect(q.text.length).toBeGreaterThan(64 * 1024);
    const row = await env.DB.prepare("select length(text) as n from quarantine where id = ?")
      .bind(q.id)
      .first<{ n: number }>();
    expect(row?.n).toBe(64 * 1024);
    const { ticket: key } = (await (await promote(q.id)).json()) as { ticket: string };
    expect((await getTicket(key)).messages[0]?.text.trimEnd()).toBe(text.trimEnd());
  });

  it("uses the stored text when the raw mail is gone", async () => {
    fakeOutbound();
    const q = await quarantined({ subject: "Automatic reply: gone" });
    await env.ATTACHMENTS.delete(q.storageKey);
    const response = await promote(q.id);
    expect(response.status).toBe(201);
    const ticket = await getTicket(((await response.json()) as { ticket: string }).ticket);
    expect(ticket).toMatchObject({
      subject: "Automatic reply: gone",
      requester: { email: q.from },
    });
    expect(ticket.messages.map((m) => [m.kind, m.text.trimEnd()])).toEqual([["customer", q.text]]);
  });

  it("answers 404 for an unknown id and 401 without a token", async () => {
    const unknown = await promote("no-such-id");
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toContain("application/problem+json");
    const q = await quarantined();
    const before = await countRows("tickets");
    const anonymous = await promote(q.id, null);
    expect(anonymous.status).toBe(401);
    expect((await promote(q.id, "wrong-token")).status).toBe(401);
    expect(await countRows("tickets")).toBe(before);
    expect((await listed(q.id))?.promotedTicket).toBeNull();
  });

  it("is in the OpenAPI document", async () => {
    const doc = (await (await request("/openapi.json", { token: null })).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    const promoteOp = doc.paths["/v1/quarantine/{id}/promote"]?.post;
    expect(Object.keys(promoteOp?.responses ?? {}).sort()).toEqual(["200", "201", "401", "404"]);
    expect(Object.keys(doc.components.schemas.QuarantinedMessage?.properties ?? {})).toContain(
      "promotedTicket",
    );
  });
});

describe("the console's quarantine page", () => {
  it("lists quarantined mail escaped, and its button opens a ticket (CSRF-checked)", async () => {
    fakeOutbound();
    const q = await quarantined({
      subject: `Automatic reply: <img src=x onerror=alert(1)> ${Date.now()}`,
      text: `Away.</p><script>alert(2)</script><a href="javascript:alert(3)">x</a>`,
    });
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();

    const page = await browser.get("/quarantine");
    expect(page.response.status).toBe(200);
    expect(page.html).not.toContain("<img src=x");
    expect(page.html).toContain("&lt;img src=x onerror=alert(1)&gt;");
    expect(page.html).toContain("&lt;script&gt;alert(2)&lt;/script&gt;");
    for (const script of (await parseHtml(page.html)).all("script"))
      expect(script.text).not.toContain("alert");
    expect(await scriptSurfaces(page.html, cspNonce(page.response))).toEqual([]);
    const parsed = await parseHtml(page.html);
    const action = `/quarantine/${q.id}/promote`;
    expect(parsed.all("form").map((f) => f.attrs.action)).toContain(action);
    expect(parsed.all("a").find((a) => a.attrs.href === "/quarantine")?.attrs["aria-current"]).toBe("page");

    for (const token of [undefined, "", "forged"]) {
      const refused = await browser.post(action, token === undefined ? {} : { _csrf: token });
      expect(refused.status).toBe(403);
    }
    expect((await listed(q.id))?.promotedTicket).toBeNull();

    const done = await browser.post(action, { _csrf: csrf });
    expect(done.status).toBe(303);
    const location = done.headers.get("location") ?? "";
    expect(location).toMatch(/^\/tickets\/SUP-\d+\?done=promoted$/);
    const key = location.slice("/tickets/".length, location.indexOf("?"));
    expect((await listed(q.id))?.promotedTicket).toBe(key);
    const ticketPage = await browser.get(location);
    expect(ticketPage.html).toContain("Ticket opened from the quarantined mail");

    // Once promoted, the page links the ticket instead of offering the button; a repeat post goes there.
    const after = await parseHtml((await browser.get("/quarantine")).html);
    expect(after.all("form").map((f) => f.attrs.action)).not.toContain(action);
    expect(after.all("a").map((a) => a.attrs.href)).toContain(`/tickets/${key}`);
    const again = await browser.post(action, { _csrf: csrf });
    expect(again.headers.get("location")).toBe(`/tickets/${key}?done=promoted`);
    expect((await browser.post("/quarantine/nope/promote", { _csrf: csrf })).headers.get("location")).toBe(
      "/quarantine?error=not_found",
    );
  });

  it("sends a signed-out visitor to sign in", async () => {
    const response = await new ConsoleBrowser().fetch("/quarantine");
    expect(response.status).toBe(303);
    expect(response.headers.get("location")).toBe("/login?next=%2Fquarantine");
  });
});
