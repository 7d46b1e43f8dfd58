import PostalMime, { type Address, type Email } from "postal-mime";
import { boundedKey } from "../../domain/inbound";

export interface ParsedAttachment {
  filename: string;
  contentType: string;
  content: Uint8Array;
  contentId?: string;
  inline: boolean;
}

export interface ParsedEmail {
  /** Message-IDs here and in `inReplyTo` / `references` are keys (`boundedKey`): over-long ones are hashed. */
  messageId: string | undefined;
  inReplyTo: string | undefined;
  references: string[];
  subject: string;
  from: { name?: string; address?: string };
  text: string | undefined;
  html: string | undefined;
  attachments: ParsedAttachment[];
  header: (name: string) => string | undefined;
  /** Every value of a header, top to bottom (the topmost was added last, by the receiving server). */
  headers?: (name: string) => string[];
  contentType: string | undefined;
  /** The MIME could not be read as a whole; what is here came from the fallback reader. */
  malformed: boolean;
}

/** `<a@b> <c@d>` → ["a@b", "c@d"]; tolerant of missing brackets and stray text. One linear pass. */
export function messageIds(value: string | undefined): string[] {
  if (value === undefined) return [];
  const bracketed = [...value.matchAll(/<([^<>\s]+)>/g)].map((m) => m[1] ?? "").filter((id) => id !== "");
  // Bracketed ids are taken as they are (real mail has ids without "@"); bare words only when id-shaped.
  if (bracketed.length > 0) return bracketed;
  return value
    .split(/\s+/)
    .map((id) => id.trim())
    .filter((id) => id.length > 2 && id.includes("@"));
}

function firstMailbox(address: Address | undefined): { name?: string; address?: string } {
  if (address === undefined) return {};
  const mailbox = address.address !== undefined ? address : address.group?.[0];
  if (mailbox === undefined) return {};
  return {
    ...(mailbox.name ? { name: mailbox.name } : {}),
    ...(mailbox.address ? { address: mailbox.address.toLowerCase() } : {}),
  };
}

function toBytes(content: ArrayBuffer | Uint8Array | string): Uint8Array {
  if (typeof content === "string") return new TextEncoder().encode(content);
  return content instanceof Uint8Array ? content : new Uint8Array(content);
}

function fromPostalMime(email: Email): ParsedEmail {
  const headerMap = new Map<string, string>();
  for (const h of email.headers) if (!headerMap.has(h.key)) headerMap.set(h.key, h.value);
  // Several References headers happen (corpus: multiple_references_with_one_invalid); use them all.
  const references = email.headers.filter((h) => h.key === "references").flatMap((h) => messageIds(h.value));
  return {
    messageId: messageIds(email.messageId)[0],
    inReplyTo: messageIds(email.inReplyTo)[0],
    references,
    subject: email.subject ?? "",
    from: firstMailbox(email.from ?? email.sender),
    text: email.text,
    html: email.html,
    attachments: email.attachments.map((a, i) => ({
      filename: a.filename ?? `attachment-${i + 1}${a.mimeType === "message/rfc822" ? ".eml" : ""}`,
      contentType: a.mimeType || "application/octet-stream",
      content: toBytes(a.content),
      ...(a.contentId ? { contentId: a.contentId.replace(/^<|>$/g, "") } : {}),
      inline: a.disposition === "inline" || a.related === true,
    })),
    header: (name) => headerMap.get(name.toLowerCase()),
    headers: (name) => email.headers.filter((h) => h.key === name.toLowerCase()).map((h) => h.value),
    contentType: headerMap.get("content-type"),
    malformed: false,
  };
}

/**
 * When even postal-mime gives up, keep what a person could read: the header block split on the
 * first blank line, the body as text. Mail is never dropped for being broken.
 */
function fallback(raw: Uint8Array): ParsedEmail {
  const text = new TextDecoder().decode(raw);
  const split = text.search(/\r?\n\r?\n/);
  const head = split < 0 ? text : text.slice(0, split);
  const body = split < 0 ? "" : text.slice(split).trim();
  const headerMap = new Map<string, string>();
  const all: { key: string; value: string }[] = [];
  for (const line of head.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      const key = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      all.push({ key, value });
      if (!headerMap.has(key)) headerMap.set(key, value);
    }
  }
  const fromHeader = headerMap.get("from") ?? "";
  const address = /<([^>]+)>/.exec(fromHeader)?.[1] ?? /[^\s<>"]+@[^\s<>"]+/.exec(fromHeader)?.[0];
  return {
    messageId: messageIds(headerMap.get("message-id"))[0],
    inReplyTo: messageIds(headerMap.get("in-reply-to"))[0],
    references: messageIds(headerMap.get("references")),
    subject: headerMap.get("subject") ?? "",
    from: address === undefined ? {} : { address: address.toLowerCase() },
    text: body,
    html: undefined,
    attachments: [],
    header: (name) => headerMap.get(name.toLowerCase()),
    headers: (name) => all.filter((h) => h.key === name.toLowerCase()).map((h) => h.value),
    contentType: headerMap.get("content-type"),
    malformed: true,
  };
}

export async function parseEmail(raw: Uint8Array): Promise<ParsedEmail> {
  let parsed: ParsedEmail;
  try {
    parsed = fromPostalMime(await PostalMime.parse(raw, { attachmentEncoding: "arraybuffer" }));
  } catch (error) {
    console.warn("postal-mime could not parse a message; keeping what the fallback reader finds", error);
    parsed = fallback(raw);
  }
  return withKeyedIds(parsed);
}

/**
 * Every Message-ID the mail names, as the desk keys it: one mapping for all of them, so a long id
 * that became a ticket's thread key is recognised when a reply names it again.
 */
async function withKeyedIds(parsed: ParsedEmail): Promise<ParsedEmail> {
  const key = (id: string | undefined) => (id === undefined ? undefined : boundedKey(id));
  return {
    ...parsed,
    messageId: await key(parsed.messageId),
    inReplyTo: await key(parsed.inReplyTo),
    references: await Promise.all(parsed.references.map(boundedKey)),
  };
}

/**
 * Message-IDs quoted anywhere below the top-level header: a bounce or auto-reply carries the
 * original's headers (message/rfc822, text/rfc822-headers, or pasted into the text). Those that
 * are ours tell which of our messages bounced.
 */
export async function quotedMessageIds(raw: Uint8Array, own: string | undefined): Promise<string[]> {
  const text = new TextDecoder("latin1").decode(raw.subarray(0, 2 * 1024 * 1024));
  const ids = [...text.matchAll(/^message-id:\s*(<[^>\r\n]+>)/gim)].flatMap((m) => messageIds(m[1]));
  const keys = await Promise.all([...new Set(ids)].map(boundedKey));
  return keys.filter((id) => id !== own);
}
