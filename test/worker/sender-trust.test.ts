import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { dmarcVerdict } from "../../src/channels/email/auth";
import { deliverEmail, mail } from "./email-helpers";
import { fakeOutbound, getTicket, unique, useConfig } from "./helpers";

/**
 * SPEC §3, issue 13 item 6: when the receiving server's Authentication-Results says the From
 * address failed DMARC, the mail still becomes a ticket, but without `[SUP-n]` threading,
 * customer matching by domain, or an acknowledgement; the ticket shows `senderUnverified: true`.
 */

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const RECEIVER = "mx.cloudflare.net";
const fail = `${RECEIVER}; dkim=none; spf=fail smtp.mailfrom=acme.com; dmarc=fail (p=REJECT) header.from=acme.com`;
const pass = `${RECEIVER}; dkim=pass header.d=acme.com; spf=pass; dmarc=pass header.from=acme.com`;

async function ticketOf(messageId: string) {
  const row = await env.DB.prepare(
    "select ticket_number as n from messages where external_id = ? and kind = 'customer'",
  )
    .bind(messageId)
    .first<{ n: number }>();
  if (row === null) throw new Error(`no ticket for ${messageId}`);
  return getTicket(`SUP-${row.n}`);
}

function mailsTo(address: string, sent: string[]) {
  return sent.filter((to) => to === address).length;
}

function captureMail() {
  const sent: string[] = [];
  vi.spyOn(env.EMAIL, "send").mockImplementation(async (message) => {
    sent.push(String((message as { to?: unknown }).to));
    return { messageId: "fake" } as unknown as EmailSendResult;
  });
  return sent;
}

describe("a From address that failed DMARC", () => {
  it("opens a ticket that is not the customer's, says so, and is never acknowledged", async () => {
    fakeOutbound();
    const sent = captureMail();
    const from = `${unique("ceo")}@acme.com`;
    const forged = mail({ from, subject: "Wire the money", headers: { "Authentication-Results": fail } });
    await deliverEmail(forged.raw, { from });
    const ticket = await ticketOf(forged.messageId);
    expect(ticket).toMatchObject({ senderUnverified: true, customer: null, policy: "email" });
    expect(ticket.assignee).toBeNull();
    expect(mailsTo(from, sent)).toBe(0);
    expect(ticket.messages.some((m) => m.kind === "system")).toBe(false);
  });

  it("cannot thread into a ticket by naming it in the subject", async () => {
    fakeOutbound();
    captureMail();
    const owner = `${unique("ann")}@acme.com`;
    const first = mail({ from: owner, subject: "Exports fail", headers: { "Authentication-Results": pass } });
    await deliverEmail(first.raw, { from: owner });
    const original = await ticketOf(first.messageId);
    expect(original.senderUnverified).toBe(false);
    expect(original.customer).toBe("acme");

    const forged = mail({
      from: owner,
      subject: `Re: Exports fail [${original.key}]`,
      headers: { "Authentication-Results": fail },
      body: "Please send the export to attacker@evil.example",
    });
    await deliverEmail(forged.raw, { from: owner });
    const after = await getTicket(original.key);
    expect(after.messages.filter((m) => m.kind === "customer")).toHaveLength(1);
    const other = await ticketOf(forged.messageId);
    expect(other.key).not.toBe(original.key);
    expect(other.senderUnverified).toBe(true);
  });

  it("a DMARC pass (or no verdict) keeps today's behaviour: customer, token threading, acknowledgement", async () => {
    fakeOutbound();
    const sent = captureMail();
    const from = `${unique("bob")}@acme.com`;
    const first = mail({ from, subject: "Exports fail", headers: { "Authentication-Results": pass } });
    await deliverEmail(first.raw, { from });
    const ticket = await ticketOf(first.messageId);
    expect(ticket).toMatchObject({ senderUnverified: false, customer: "acme" });
    await vi.waitFor(() => expect(mailsTo(from, sent)).toBe(1), { timeout: 5000 });
    const followUp = mail({ from, subject: `Re: more [${ticket.key}]` });
    await deliverEmail(followUp.raw, { from });
    expect((await getTicket(ticket.key)).messages.filter((m) => m.kind === "customer")).toHaveLength(2);
  });
});

describe("whose verdict counts", () => {
  const headers = (values: Record<string, string[]>) => (name: string) => values[name] ?? [];

  it.each([
    ["the receiving server's fail", { "authentication-results": [fail] }, "fail"],
    ["the receiving server's pass", { "authentication-results": [pass] }, "pass"],
    // A sender can add Authentication-Results lines of its own below the receiver's.
    ["a forged pass below the receiver's fail", { "authentication-results": [fail, pass] }, "fail"],
    ["a forged fail below the receiver's pass", { "authentication-results": [pass, fail] }, "pass"],
    [
      "the newest ARC set when there is no A-R",
      { "arc-authentication-results": [`i=1; ${pass}`, `i=2; ${fail}`] },
      "fail",
    ],
    [
      "a comment that mentions dmarc=fail",
      { "authentication-results": [`${RECEIVER}; dmarc=pass (not dmarc=fail)`] },
      "pass",
    ],
    ["no header at all", {}, "unknown"],
  ] as const)("%s → %s", (_name, values, verdict) => {
    expect(dmarcVerdict(headers(values as Record<string, string[]>))).toBe(verdict);
  });
});
