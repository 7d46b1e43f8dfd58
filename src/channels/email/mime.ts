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

/** A complete RFC 5322 message: text and HTML alternatives, UTF-8, base64 bodies. */
export function buildMime(mail: OutboundEmail, date: Date = new Date()): string {
  const boundary = `sb-${crypto.randomUUID()}`;
  const html = `<!doctype html><html><body><div style="font-family:sans-serif;white-space:pre-wrap">${escapeHtml(mail.text)}</div></body></html>`;
  const headers = [
    `From: ${address(mail.fromName, mail.from)}`,
    `To: <${mail.to}>`,
    `Reply-To: <${mail.replyTo}>`,
    `Subject: ${encodeHeader(mail.subject)}`,
    `Date: ${date.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <${mail.messageId}>`,
    ...(mail.inReplyTo === undefined ? [] : [`In-Reply-To: <${mail.inReplyTo}>`]),
    ...(mail.references.length === 0
      ? []
      : [`References: ${mail.references.map((r) => `<${r}>`).join("\r\n ")}`]),
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
  const raw = buildMime(mail);
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
