import { base64, escapeHtml } from "../../domain/encoding";
import { type DeliveryOutcome, networkOutcome } from "../../notify/http";
import type { EmailDelivery } from "./reply";

/** One outgoing mail; acknowledgements are `auto-replied` (RFC 3834) so auto-responders stay quiet. */
export type OutboundEmail = EmailDelivery["mail"];

interface EmailEnv {
  EMAIL?: SendEmail;
  ATTACHMENTS?: R2Bucket;
}

/** RFC 2047 encoded-word for a header value that is not plain ASCII. */
export function encodeHeader(value: string): string {
  const clean = value.replace(/[\r\n]+/g, " ");
  if (/^[\x20-\x7e]*$/.test(clean)) return clean;
  // Encoded words are at most 75 characters: split on code-point boundaries into <= 45-byte chunks.
  const words: number[][] = [];
  const chunk: number[] = [];
  for (const char of clean) {
    const encoded = [...new TextEncoder().encode(char)];
    if (chunk.length + encoded.length > 45) {
      words.push(chunk.splice(0));
    }
    chunk.push(...encoded);
  }
  if (chunk.length > 0) words.push(chunk);
  return words.map((w) => `=?UTF-8?B?${base64(new Uint8Array(w))}?=`).join("\r\n ");
}

function base64Lines(text: string): string {
  return (base64(new TextEncoder().encode(text)).match(/.{1,76}/g) ?? []).join("\r\n");
}

function address(name: string, email: string): string {
  const safe = name.replace(/["\\\r\n]/g, "");
  return /^[\x20-\x7e]*$/.test(safe) ? `"${safe}" <${email}>` : `${encodeHeader(safe)} <${email}>`;
}

/**
 * An address that can stand in a header as `<addr>`: an RFC 5322 dot-atom local part (ASCII, or
 * UTF-8 per RFC 6532) and a domain of dot-separated labels. No spaces, controls, angle brackets,
 * quotes, commas or a second `@`: nothing that could end the header or add a recipient.
 */
const LOCAL_PART = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const DOMAIN =
  /^(?=.{1,253}$)[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?(\.[\p{L}\p{N}](?:[\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?)*$/u;

export function isHeaderAddress(value: string): boolean {
  const at = value.lastIndexOf("@");
  if (at <= 0 || at > 64 || value.length > 320) return false;
  return LOCAL_PART.test(value.slice(0, at)) && DOMAIN.test(value.slice(at + 1));
}

/**
 * A Message-ID as it goes between angle brackets (RFC 5322 §3.6.4): printable ASCII only — no
 * space, no `<` or `>`, no line break — so it can neither end its brackets nor its header. (Real
 * mail has ids without an `@`; they pass, as the inbound parser takes them.)
 */
export function isMessageId(value: string): boolean {
  return /^[\x21-\x3b\x3d\x3f-\x7e]{1,250}$/.test(value);
}

/** Why a mail cannot be built, for the delivery's error: nothing is sent. */
export class UnsafeMailError extends Error {}

/**
 * What goes into the headers, checked: the addresses must be addresses (or the mail is refused),
 * and any In-Reply-To or References id that is not a clean Message-ID is left out (the mail still
 * threads by the rest and by the `[SUP-n]` subject token).
 */
export function checkedHeaders(mail: OutboundEmail): {
  inReplyTo: string | undefined;
  references: string[];
} {
  for (const [field, value] of [
    ["To", mail.to],
    ["From", mail.from],
    ["Reply-To", mail.replyTo],
  ] as const) {
    if (!isHeaderAddress(value)) throw new UnsafeMailError(`the ${field} address is not a valid address`);
  }
  if (!isMessageId(mail.messageId)) throw new UnsafeMailError("our own Message-ID is malformed");
  return {
    inReplyTo: mail.inReplyTo !== undefined && isMessageId(mail.inReplyTo) ? mail.inReplyTo : undefined,
    references: mail.references.filter(isMessageId),
  };
}

/** A complete RFC 5322 message: text and HTML alternatives, UTF-8, base64 bodies. */
export function buildMime(mail: OutboundEmail, date: Date = new Date()): string {
  const { inReplyTo, references } = checkedHeaders(mail);
  const boundary = `sb-${crypto.randomUUID()}`;
  const html = `<!doctype html><html><body><div style="font-family:sans-serif;white-space:pre-wrap">${escapeHtml(mail.text)}</div></body></html>`;
  const headers = [
    `From: ${address(mail.fromName, mail.from)}`,
    `To: <${mail.to}>`,
    `Reply-To: <${mail.replyTo}>`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${mail.messageId}>`,
    ...(inReplyTo === undefined ? [] : [`In-Reply-To: <${inReplyTo}>`]),
    ...(references.length === 0 ? [] : [`References: ${references.map((r) => `<${r}>`).join("\r\n ")}`]),
    ...(mail.autoSubmitted ? ["Auto-Submitted: auto-replied", "X-Auto-Response-Suppress: All"] : []),
    "MIME-Version: 1.0",
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  const part = (type: string, body: string) =>
    [
      `--${boundary}`,
      `Content-Type: ${type}; charset=utf-8`,
      "Content-Transfer-Encoding: base64",
      "",
      base64Lines(body),
    ].join("\r\n");
  return [...headers, "", part("text/plain", mail.text), part("text/html", html), `--${boundary}--`, ""].join(
    "\r\n",
  );
}

export async function sendEmail(env: EmailEnv, mail: OutboundEmail): Promise<DeliveryOutcome> {
  if (env.EMAIL === undefined)
    return { ok: "skipped", reason: "the send_email binding EMAIL is not configured" };
  let raw: string;
  try {
    raw = buildMime(mail);
  } catch (error) {
    // A header that could be forged is refused for good: another try would build the same mail.
    if (error instanceof UnsafeMailError)
      return { ok: false, retryable: false, error: `not sent: ${error.message}` };
    throw error;
  }
  try {
    // Keep a copy of everything we send: the audit trail, and what a bounce can be matched against.
    await env.ATTACHMENTS?.put(`mail/out/${mail.messageId}.eml`, raw, {
      httpMetadata: { contentType: "message/rfc822" },
    });
    // Imported here, not at the top: the module stays importable by plain Node unit tests.
    const { EmailMessage } = await import("cloudflare:email");
    await env.EMAIL.send(new EmailMessage(mail.from, mail.to, raw));
    return { ok: true, externalId: mail.messageId };
  } catch (error) {
    const outcome = networkOutcome(error);
    // Email Routing refuses unverified destinations and malformed messages for good.
    const permanent =
      error instanceof Error && /destination|not verified|invalid|not allowed/i.test(error.message);
    return outcome.ok === false ? { ...outcome, retryable: !permanent } : outcome;
  }
}
