import { env } from "cloudflare:workers";
import PostalMime from "postal-mime";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { htmlToText } from "../../src/channels/email/html";
import { loopReason } from "../../src/channels/email/loop";
import { corpusEmail, corpusEmailNames, deliverEmail, mail } from "./email-helpers";
import { countRows, fakeOutbound, flush, getTicket, request, useConfig } from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

interface Stored {
  ticketNumber: number | null;
  message: {
    id: string;
    text: string;
    subject: string | null;
    sender: string | null;
    kind: string;
    html: string | null;
  } | null;
  quarantine: {
    reason: string;
    subject: string | null;
    sender: string | null;
    text: string | null;
    attachment_count: number;
  } | null;
  attachments: number;
}

async function stored(key: string): Promise<Stored> {
  const idem = await env.DB.prepare(
    "select ticket_number, message_id from idempotency_keys where channel = 'email' and key = ?",
  )
    .bind(key)
    .first<{ ticket_number: number | null; message_id: string }>();
  if (idem === null) throw new Error(`nothing stored for ${key}`);
  if (idem.ticket_number === null) {
    const quarantine = await env.DB.prepare("select * from quarantine where id = ?")
      .bind(idem.message_id)
      .first<Stored["quarantine"]>();
    return { ticketNumber: null, message: null, quarantine, attachments: quarantine?.attachment_count ?? 0 };
  }
  const message = await env.DB.prepare("select * from messages where id = ?")
    .bind(idem.message_id)
    .first<NonNullable<Stored["message"]>>();
  const attachments = await env.DB.prepare("select count(*) as n from attachments where message_id = ?")
    .bind(idem.message_id)
    .first<{ n: number }>();
  return { ticketNumber: idem.ticket_number, message, quarantine: null, attachments: attachments?.n ?? 0 };
}

async function forget(key: string): Promise<void> {
  // Corpus files were written independently and may share Message-IDs or thread into each other:
  // each is ingested as if it were the first mail the desk sees about it.
  await env.DB.batch([
    env.DB.prepare("delete from idempotency_keys where channel = 'email' and key = ?").bind(key),
    env.DB.prepare("delete from thread_keys where channel = 'email'"),
  ]);
}

async function keyOf(bytes: Uint8Array): Promise<string> {
  const parsed = await PostalMime.parse(bytes);
  const id = parsed.messageId?.replace(/^<|>$/g, "").trim();
  if (id) return id;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return `sha256:${[...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}

describe("the shared email corpus", () => {
  const names = corpusEmailNames();

  it("has the files SOURCES.md lists", () => {
    expect(names.length).toBe(37);
  });

  it.each(names)("%s is ingested and stored as postal-mime reads it", async (name) => {
    fakeOutbound();
    const bytes = corpusEmail(name);
    const key = await keyOf(bytes);
    await forget(key);
    const result = await deliverEmail(bytes, { to: "support@example.com" });
    expect(result.rejected).toBeNull();

    const expected = await PostalMime.parse(bytes);
    const expectedText =
      expected.text ?? (expected.html === undefined ? "" : await htmlToText(expected.html));
    const expectedSender = (expected.from?.address ?? expected.from?.group?.[0]?.address)?.toLowerCase();
    const expectedSubject = (expected.subject ?? "").trim();
    const got = await stored(key);
    if (got.quarantine !== null) {
      expect(got.quarantine.text).toBe(expectedText.slice(0, 64 * 1024));
      expect(got.quarantine.subject ?? "").toBe(expectedSubject);
      if (expectedSender !== undefined) expect(got.quarantine.sender).toBe(expectedSender);
    } else {
      expect(got.message?.text).toBe(expectedText);
      expect(got.message?.subject ?? "").toBe(expectedSubject);
      if (expectedSender !== undefined) expect(got.message?.sender).toBe(expectedSender);
    }
    expect(got.attachments).toBe(expected.attachments.length);
  });

  it.each([
    ["sisimai_rfc3834-01_autoreply.eml", "auto-submitted"],
    ["sisimai_rfc3834-04_exchange_automatic_reply.eml", "auto-response-suppress"],
    ["sisimai_rfc3834-06_mimecast_autoresponse.eml", "auto-submitted"],
    ["mailparser_delivery-status.eml", "bounce"],
    ["postalmime_bounce.eml", "bounce"],
    ["sisimai_lhost-gmx-01_bounce.eml", "bounce"],
    ["mailgem_report_530.eml", "bounce"],
  ])("%s is quarantined as %s, never a ticket", async (name, reason) => {
    const bytes = corpusEmail(name);
    const key = await keyOf(bytes);
    await forget(key);
    await deliverEmail(bytes);
    const got = await stored(key);
    expect(got.ticketNumber).toBeNull();
    expect(got.quarantine?.reason).toBe(reason);
  });

  it("decodes non-UTF-8 charsets and encoded words", async () => {
    for (const name of [
      "mailgem_japanese_iso_2022.eml",
      "mailgem_japanese_shift_jis.eml",
      "mailgem_raw_email_euckr_subject.eml",
    ]) {
      const bytes = corpusEmail(name);
      const key = await keyOf(bytes);
      await forget(key);
      await deliverEmail(bytes);
      const got = await stored(key);
      const text = `${got.message?.subject ?? got.quarantine?.subject} ${got.message?.text ?? got.quarantine?.text}`;
      // Decoded, not mojibake: no replacement characters and no raw encoded-words left.
      expect(text, name).not.toMatch(/\uFFFD|=\?[^?]+\?[BQ]\?/i);
      expect(text, name).toMatch(/[^ -~\s]/u);
    }
  });
});

describe("intake", () => {
  it("opens a ticket for a new mail, acknowledges it once with proper MIME, and keeps the sender", async () => {
    const { raw, messageId } = mail({ from: "Ann Example <ann@example.org>", subject: "Cannot export CSV" });
    expect((await deliverEmail(raw)).rejected).toBeNull();
    const got = await stored(messageId);
    const key = `SUP-${got.ticketNumber}`;
    await flush(key);
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({
      channel: "email",
      subject: "Cannot export CSV",
      visibility: "private",
      policy: "email",
      requester: { name: "Ann Example", email: "ann@example.org" },
    });
    const ack = ticket.messages.find((m) => m.kind === "system");
    expect(ack?.delivery).toEqual({ status: "sent", error: null });

    const sent = await env.ATTACHMENTS.list({ prefix: "mail/out/" });
    const ackId = (
      await env.DB.prepare("select external_id from messages where id = ?")
        .bind(ack?.id)
        .first<{ external_id: string }>()
    )?.external_id;
    expect(ackId).toMatch(/@example\.com$/);
    expect(sent.objects.map((o) => o.key)).toContain(`mail/out/${ackId}.eml`);
    const object = await env.ATTACHMENTS.get(`mail/out/${ackId}.eml`);
    const mime = await PostalMime.parse((await object?.text()) ?? "");
    expect(mime.subject).toBe(`Re: Cannot export CSV [${key}]`);
    expect(mime.messageId).toBe(`<${ackId}>`);
    expect(mime.inReplyTo).toBe(`<${messageId}>`);
    expect(mime.references).toBe(`<${messageId}>`);
    expect(mime.replyTo?.[0]).toMatchObject({ address: "support@example.com" });
    expect(mime.to?.[0]).toMatchObject({ address: "ann@example.org" });
    expect(mime.text).toContain(key);
    expect(mime.html).toContain(key);
    expect(mime.headers.find((h) => h.key === "auto-submitted")?.value).toBe("auto-replied");
  });

  it("rejects mail for an address that is not ours, and stores nothing", async () => {
    const before = await countRows("tickets");
    const { raw } = mail({ to: "sales@example.com" });
    const result = await deliverEmail(raw, { to: "sales@example.com" });
    expect(result.rejected).toBe("sales@example.com is not a support address of this desk");
    expect(await countRows("tickets")).toBe(before);
  });

  it("accepts mail for an address a route names, routes it, and answers from that address", async () => {
    fakeOutbound();
    const { raw, messageId } = mail({ to: "billing@example.com", subject: "Invoice question" });
    expect((await deliverEmail(raw, { to: "billing@example.com" })).rejected).toBeNull();
    const got = await stored(messageId);
    const ticket = await getTicket(`SUP-${got.ticketNumber}`);
    expect(ticket.team).toBe("billing");
    await flush(ticket.key);
    const ackId = (
      await env.DB.prepare("select external_id from messages where ticket_number = ? and kind = 'system'")
        .bind(got.ticketNumber)
        .first<{ external_id: string }>()
    )?.external_id;
    const mime = await PostalMime.parse(
      (await (await env.ATTACHMENTS.get(`mail/out/${ackId}.eml`))?.text()) ?? "",
    );
    expect(mime.from).toMatchObject({ address: "billing@example.com" });
  });

  it("a second delivery of the same Message-ID changes nothing", async () => {
    const { raw, messageId } = mail({});
    await deliverEmail(raw);
    const counts = await Promise.all(
      ["tickets", "messages", "attachments", "thread_keys", "quarantine"].map(countRows),
    );
    await deliverEmail(raw);
    expect(
      await Promise.all(["tickets", "messages", "attachments", "thread_keys", "quarantine"].map(countRows)),
    ).toEqual(counts);
    expect((await stored(messageId)).ticketNumber).not.toBeNull();
  });

  it("finds the customer by email domain", async () => {
    const { raw, messageId } = mail({ from: "cto@acme.com" });
    await deliverEmail(raw);
    const ticket = await getTicket(`SUP-${(await stored(messageId)).ticketNumber}`);
    expect(ticket).toMatchObject({ customer: "acme", assignee: "erin" });
  });

  it("converts HTML-only mail to readable text and keeps only sanitised HTML", async () => {
    const { raw, messageId } = mail({
      contentType: "text/html; charset=utf-8",
      body: '<html><head><style>p{}</style><script>alert(1)</script></head><body><p>Hello&nbsp;team,</p><p>It <b>fails</b> &amp; stops.</p><img src="x" onerror="alert(2)"><a href="javascript:alert(3)">x</a><ul><li>one</li><li>two</li></ul></body></html>',
    });
    await deliverEmail(raw);
    const got = await stored(messageId);
    expect(got.message?.text).toBe("Hello team,\n\nIt fails & stops.\nx\n• one\n• two");
    expect(got.message?.html).not.toMatch(/script|onerror|javascript:|<style/i);
    expect(got.message?.html).toContain("<b>fails</b>");
  });

  it("keeps malformed MIME with what could be read", async () => {
    const raw =
      'From: broken@example.org\r\nMessage-ID: <broken-1@example.org>\r\nContent-Type: multipart/mixed; boundary="zzz"\r\nSubject: =?NONE?B?@@@?=\r\n\r\n--zzz\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n';
    expect((await deliverEmail(raw)).rejected).toBeNull();
    const got = await stored("broken-1@example.org");
    expect(got.ticketNumber).not.toBeNull();
  });

  it("stores a 20 MiB message's attachment in R2 and lists it on the message", async () => {
    // 15 MiB of binary is 20 MiB once base64-encoded: the whole message stays under Email Routing's 25 MiB.
    const size = 15 * 1024 * 1024;
    const content = new Uint8Array(size);
    for (let i = 0; i < size; i += 4096) content[i] = i % 251;
    let binary = "";
    for (let i = 0; i < size; i += 0x8000) binary += String.fromCharCode(...content.subarray(i, i + 0x8000));
    const base64 = (btoa(binary).match(/.{1,76}/g) ?? []).join("\r\n");
    const messageId = `big-${Date.now()}@example.org`;
    const raw = [
      "From: Ann <ann@example.org>",
      "To: support@example.com",
      "Subject: Heap dump attached",
      `Message-ID: <${messageId}>`,
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b1"',
      "",
      "--b1",
      "Content-Type: text/plain; charset=utf-8",
      "",
      "Dump attached.",
      "--b1",
      "Content-Type: application/octet-stream",
      'Content-Disposition: attachment; filename="heap.bin"',
      "Content-Transfer-Encoding: base64",
      "",
      base64,
      "--b1--",
      "",
    ].join("\r\n");
    expect((await deliverEmail(raw)).rejected).toBeNull();
    const got = await stored(messageId);
    const ticket = await getTicket(`SUP-${got.ticketNumber}`);
    const first = ticket.messages[0] as unknown as {
      attachments: { filename: string; size: number; url: string }[];
    };
    const attachment = first.attachments[0];
    expect(attachment).toMatchObject({ filename: "heap.bin", size });
    const download = await request(new URL(attachment?.url ?? "").pathname);
    expect(download.status).toBe(200);
    expect(download.headers.get("content-disposition")).toContain("heap.bin");
    const body = new Uint8Array(await download.arrayBuffer());
    expect(body.byteLength).toBe(size);
    expect(body[4096]).toBe(4096 % 251);
    expect((await request(new URL(attachment?.url ?? "").pathname, { token: null })).status).toBe(401);
  });

  it("mail over 25 MiB is refused", async () => {
    const { raw } = mail({});
    let rejected: string | null = null;
    const { default: worker } = await import("../../src/index");
    await worker.email?.(
      {
        from: "a@example.org",
        to: "support@example.com",
        raw: new Response(raw).body,
        rawSize: 26 * 1024 * 1024,
        headers: new Headers(),
        setReject: (reason: string) => {
          rejected = reason;
        },
      } as unknown as ForwardableEmailMessage,
      env,
    );
    expect(rejected).toMatch(/too large/);
  });
});

describe("threading", () => {
  async function open(from = "Ann <ann@example.org>") {
    fakeOutbound();
    const first = mail({ from, subject: "Exports broken" });
    await deliverEmail(first.raw);
    const number = (await stored(first.messageId)).ticketNumber as number;
    await flush(`SUP-${number}`);
    const ack = await env.DB.prepare(
      "select external_id from messages where ticket_number = ? and kind = 'system'",
    )
      .bind(number)
      .first<{ external_id: string }>();
    return { number, key: `SUP-${number}`, firstId: first.messageId, ackId: ack?.external_id ?? "" };
  }

  async function threadedBy(
    messageId: string,
  ): Promise<{ ticketNumber: number | null; rule: string | null }> {
    const row = await env.DB.prepare(
      "select m.ticket_number, m.threaded_by from idempotency_keys k join messages m on m.id = k.message_id where k.channel = 'email' and k.key = ?",
    )
      .bind(messageId)
      .first<{ ticket_number: number; threaded_by: string | null }>();
    return { ticketNumber: row?.ticket_number ?? null, rule: row?.threaded_by ?? null };
  }

  it("In-Reply-To the customer's own first mail", async () => {
    const t = await open();
    const reply = mail({ inReplyTo: t.firstId, subject: "Re: Exports broken" });
    await deliverEmail(reply.raw);
    expect(await threadedBy(reply.messageId)).toEqual({ ticketNumber: t.number, rule: "in-reply-to" });
  });

  it("a reply to our acknowledgement (our own Message-ID)", async () => {
    const t = await open();
    const reply = mail({ inReplyTo: t.ackId, references: [t.firstId, t.ackId] });
    await deliverEmail(reply.raw);
    expect(await threadedBy(reply.messageId)).toEqual({ ticketNumber: t.number, rule: "in-reply-to" });
  });

  it("References, newest first, when In-Reply-To is unknown", async () => {
    const t = await open();
    const reply = mail({
      inReplyTo: "unknown-1@elsewhere",
      references: ["unknown-0@elsewhere", t.firstId, "unknown-2@elsewhere"],
    });
    await deliverEmail(reply.raw);
    expect(await threadedBy(reply.messageId)).toEqual({ ticketNumber: t.number, rule: "references" });
  });

  it("a reply to an agent's reply threads, and the agent's mail carries the thread", async () => {
    const t = await open();
    await request(`/v1/tickets/${t.key}/replies`, {
      method: "POST",
      json: { text: "Please try the new exporter." },
    });
    await flush(t.key);
    const agent = await env.DB.prepare(
      "select external_id, delivery_status from messages where ticket_number = ? and kind = 'staff'",
    )
      .bind(t.number)
      .first<{ external_id: string; delivery_status: string }>();
    expect(agent?.delivery_status).toBe("sent");
    const mime = await PostalMime.parse(
      (await (await env.ATTACHMENTS.get(`mail/out/${agent?.external_id}.eml`))?.text()) ?? "",
    );
    expect(mime.inReplyTo).toBe(`<${t.firstId}>`);
    expect(mime.references).toContain(`<${t.ackId}>`);
    expect(mime.subject).toBe(`Re: Exports broken [${t.key}]`);
    expect(mime.headers.find((h) => h.key === "auto-submitted")).toBeUndefined();
    const reply = mail({ inReplyTo: agent?.external_id });
    await deliverEmail(reply.raw);
    expect((await threadedBy(reply.messageId)).ticketNumber).toBe(t.number);
    expect((await getTicket(t.key)).status).toBe("open");
  });

  it("a [SUP-n] subject token from the requester", async () => {
    const t = await open();
    const reply = mail({ subject: `Still broken [${t.key}]` });
    await deliverEmail(reply.raw);
    expect(await threadedBy(reply.messageId)).toEqual({ ticketNumber: t.number, rule: "ticket-reference" });
  });

  it("a [SUP-n] subject token from a colleague at the same customer", async () => {
    const t = await open("Cto <cto@acme.com>");
    const reply = mail({ from: "ops@acme.com", subject: `Re: [${t.key}] any news?` });
    await deliverEmail(reply.raw);
    expect(await threadedBy(reply.messageId)).toEqual({ ticketNumber: t.number, rule: "ticket-reference" });
  });

  it("a stranger quoting a ticket key opens a new ticket", async () => {
    const t = await open();
    const stranger = mail({ from: "mallory@evil.example", subject: `About [${t.key}]` });
    await deliverEmail(stranger.raw);
    const got = await threadedBy(stranger.messageId);
    expect(got.ticketNumber).not.toBe(t.number);
    expect(got.ticketNumber).not.toBeNull();
    expect((await getTicket(t.key)).messages.filter((m) => m.kind === "customer")).toHaveLength(1);
  });

  it("two new mails replying to the same unknown message do not join each other", async () => {
    const a = mail({ from: "a@one.example", inReplyTo: "newsletter-9@vendor.example" });
    const b = mail({ from: "b@two.example", inReplyTo: "newsletter-9@vendor.example" });
    await deliverEmail(a.raw);
    await deliverEmail(b.raw);
    expect((await stored(a.messageId)).ticketNumber).not.toBe((await stored(b.messageId)).ticketNumber);
  });
});

describe("loop protection", () => {
  it.each([
    ["Auto-Submitted: auto-replied", { "Auto-Submitted": "auto-replied" }, "auto-submitted"],
    ["X-Autoreply", { "X-Autoreply": "yes" }, "auto-reply"],
    ["Precedence: bulk", { Precedence: "bulk" }, "precedence"],
    ["X-Auto-Response-Suppress", { "X-Auto-Response-Suppress": "All" }, "auto-response-suppress"],
    ["Precedence: junk", { Precedence: "junk" }, "precedence"],
    ["Precedence: auto_reply", { Precedence: "auto_reply" }, "precedence"],
    ["X-Autorespond", { "X-Autorespond": "yes" }, "auto-reply"],
    [
      "list headers and Auto-Submitted (an auto-reply sent through a list)",
      { "List-Id": "<dev.lists.example>", "Auto-Submitted": "auto-generated" },
      "auto-submitted",
    ],
  ])("unthreaded mail with %s is quarantined and never acknowledged", async (_name, headers, reason) => {
    const out = fakeOutbound();
    const before = await countRows("tickets");
    const m = mail({ headers });
    await deliverEmail(m.raw);
    expect(await countRows("tickets")).toBe(before);
    expect((await stored(m.messageId)).quarantine?.reason).toBe(reason);
    const listed = (await (await request("/v1/quarantine")).json()) as {
      messages: { messageId: string; reason: string }[];
    };
    expect(listed.messages.find((q) => q.messageId === m.messageId)?.reason).toBe(reason);
    expect(out.calls).toHaveLength(0);
  });

  // SPEC §3: mail that is only list mail is a person writing (a customer on a Google Group).
  it.each([
    ["List-Id", { "List-Id": "<dev.lists.example>" }],
    ["List-Unsubscribe", { "List-Unsubscribe": "<mailto:leave@lists.example>" }],
    ["Precedence: list", { Precedence: "list" }],
  ])("unthreaded mail with only %s becomes a ticket that is never acknowledged", async (_name, headers) => {
    const m = mail({ headers, subject: "Question from our team list" });
    await deliverEmail(m.raw);
    const got = await stored(m.messageId);
    expect(got.quarantine).toBeNull();
    expect(got.message?.kind).toBe("customer");
    const key = `SUP-${got.ticketNumber}`;
    await flush(key);
    const ticket = await getTicket(key);
    expect(ticket.status).toBe("open");
    expect(ticket.responseDueAt).not.toBeNull();
    expect(ticket.messages.map((m) => [m.direction, m.kind])).toEqual([["inbound", "customer"]]);
  });

  it("a list mail that threads is an ordinary customer message, and nothing answers it", async () => {
    fakeOutbound();
    const first = mail({ subject: "Group question" });
    await deliverEmail(first.raw);
    const number = (await stored(first.messageId)).ticketNumber as number;
    await request(`/v1/tickets/SUP-${number}/replies`, { method: "POST", json: { text: "Try again?" } });
    await flush(`SUP-${number}`);
    expect((await getTicket(`SUP-${number}`)).status).toBe("pending");
    const followUp = mail({
      inReplyTo: first.messageId,
      headers: { "List-Id": "<team.groups.example>", Precedence: "list" },
    });
    await deliverEmail(followUp.raw);
    await flush(`SUP-${number}`);
    const ticket = await getTicket(`SUP-${number}`);
    expect(ticket.messages.at(-1)).toMatchObject({ direction: "inbound", kind: "customer" });
    expect(ticket.status).toBe("open");
    expect(ticket.messages.filter((m) => m.direction === "outbound").map((m) => m.kind)).toEqual([
      "system",
      "staff",
    ]);
  });

  it("Auto-Submitted: no is a person", () => {
    expect(
      loopReason({
        header: (n) => (n === "auto-submitted" ? "no" : undefined),
        from: "a@b.c",
        envelopeFrom: "a@b.c",
        contentType: undefined,
        ourAddresses: [],
      }),
    ).toBeNull();
  });

  it("mail from MAILER-DAEMON and from our own address is quarantined", async () => {
    const daemon = mail({ from: "MAILER-DAEMON@mx.example.org" });
    await deliverEmail(daemon.raw, { from: "" });
    expect((await stored(daemon.messageId)).quarantine?.reason).toBe("bounce");
    const own = mail({ from: "Support <support@example.com>" });
    await deliverEmail(own.raw);
    expect((await stored(own.messageId)).quarantine?.reason).toBe("own-address");
  });

  it("a threaded auto-reply becomes a system message on its ticket, with no acknowledgement", async () => {
    fakeOutbound();
    const first = mail({ subject: "Need help" });
    await deliverEmail(first.raw);
    const number = (await stored(first.messageId)).ticketNumber as number;
    await flush(`SUP-${number}`);
    const ack = await env.DB.prepare(
      "select external_id from messages where ticket_number = ? and kind = 'system'",
    )
      .bind(number)
      .first<{ external_id: string }>();
    const vacation = mail({
      subject: "Automatic reply: Need help",
      inReplyTo: ack?.external_id,
      headers: { "Auto-Submitted": "auto-replied" },
    });
    await deliverEmail(vacation.raw);
    const ticket = await getTicket(`SUP-${number}`);
    expect(ticket.messages.map((m) => [m.direction, m.kind])).toEqual([
      ["inbound", "customer"],
      ["outbound", "system"],
      ["inbound", "system"],
    ]);
    await flush(`SUP-${number}`);
    expect(
      (await env.ATTACHMENTS.list({ prefix: "mail/out/" })).objects.filter((o) =>
        o.key.includes(ack?.external_id ?? "?"),
      ),
    ).toHaveLength(1);
    expect(ticket.status).toBe("open");
  });

  it("a bounce of one of our replies marks that reply failed", async () => {
    fakeOutbound();
    const first = mail({ subject: "Bouncy" });
    await deliverEmail(first.raw);
    const number = (await stored(first.messageId)).ticketNumber as number;
    await request(`/v1/tickets/SUP-${number}/replies`, {
      method: "POST",
      json: { text: "Here is the fix." },
    });
    await flush(`SUP-${number}`);
    const reply = await env.DB.prepare(
      "select id, external_id from messages where ticket_number = ? and kind = 'staff'",
    )
      .bind(number)
      .first<{ id: string; external_id: string }>();
    const bounce = [
      "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>",
      "To: support@example.com",
      "Subject: Undelivered Mail Returned to Sender",
      `Message-ID: <bounce-${Date.now()}@mx.example.org>`,
      "MIME-Version: 1.0",
      'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"',
      "",
      "--r1",
      "Content-Type: text/plain",
      "",
      "Your message could not be delivered: mailbox full.",
      "--r1",
      "Content-Type: message/delivery-status",
      "",
      "Reporting-MTA: dns; mx.example.org",
      "",
      "Final-Recipient: rfc822; ann@example.org",
      "Action: failed",
      "Status: 5.2.2",
      "--r1",
      "Content-Type: text/rfc822-headers",
      "",
      "From: Support <support@example.com>",
      "To: <ann@example.org>",
      `Message-ID: <${reply?.external_id}>`,
      "Subject: Re: Bouncy",
      "--r1--",
      "",
    ].join("\r\n");
    await deliverEmail(bounce, { from: "" });
    const ticket = await getTicket(`SUP-${number}`);
    const failed = ticket.messages.find((m) => m.id === reply?.id);
    expect(failed?.delivery?.status).toBe("failed");
    expect(failed?.delivery?.error).toContain("bounced");
    expect(ticket.messages.at(-1)).toMatchObject({ direction: "inbound", kind: "system" });
    expect(ticket.status).toBe("pending");
  });
});
