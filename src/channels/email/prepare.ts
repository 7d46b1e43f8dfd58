import { escapeHtml, sha256Hex } from "../../domain/encoding";
import type { InboundAttachment, InboundMessageInput } from "../../domain/inbound";
import type { QuarantinedMessage } from "../contract";
import { dmarcVerdict } from "./auth";
import { sanitizeHtmlBounded, textOfSanitised } from "./html";
import {
  attachmentsNote,
  cutUtf8,
  FULL_HTML_FILENAME,
  FULL_TEXT_FILENAME,
  MAX_SANITISED_ELEMENTS,
  MAX_STORED_ATTACHMENTS,
  MAX_STORED_HTML_BYTES,
  MAX_STORED_TEXT_BYTES,
  RAW_MAIL_FILENAME,
  truncationNote,
  utf8Length,
} from "./limits";
import { isListMail, loopReason } from "./loop";
import { normaliseEmail } from "./normalise";
import { type ParsedEmail, parseEmail, quotedMessageIds } from "./parse";

interface MailStorage {
  ATTACHMENTS: R2Bucket;
}

/** Room kept in the stored HTML for the truncation notice appended to it. */
const HTML_NOTE_ROOM = 512;

/** A body kept in full in R2 because D1 holds only its first part. */
interface FullBody {
  filename: string;
  contentType: string;
  content: Uint8Array;
}

export interface BoundedBodies {
  /** What `messages.text` stores: at most MAX_STORED_TEXT_BYTES, ending with a note when cut. */
  text: string;
  /** Sanitised HTML, at most MAX_STORED_HTML_BYTES, ending with a note when cut. */
  html: string | undefined;
  /** The bodies to attach in full (`message-body.txt`, `message-body.html`). */
  full: FullBody[];
}

const encoder = new TextEncoder();

function withNote(text: string, maxBytes: number, note: string): string {
  const suffix = `\n\n${note}`;
  return `${cutUtf8(text, maxBytes - utf8Length(suffix))}${suffix}`;
}

function fits(text: string, maxBytes: number): boolean {
  return text.length * 3 <= maxBytes || utf8Length(text, maxBytes) <= maxBytes;
}

/**
 * The text and sanitised HTML a message row stores, within the caps, and the bodies that must be
 * attached in full because they were cut. The sanitiser reads the HTML only as far as its limits
 * allow (MAX_SANITISED_ELEMENTS, MAX_STORED_HTML_BYTES), so a huge HTML body costs a bounded
 * amount of CPU. `reserveBytes` of the text cap are left for a note the caller appends.
 */
export async function boundBodies(
  parsed: Pick<ParsedEmail, "text" | "html">,
  reserveBytes = 0,
): Promise<BoundedBodies> {
  const full: FullBody[] = [];
  const maxText = MAX_STORED_TEXT_BYTES - reserveBytes;
  const sanitised =
    parsed.html === undefined
      ? undefined
      : await sanitizeHtmlBounded(parsed.html, {
          maxElements: MAX_SANITISED_ELEMENTS,
          // Sanitising only removes (bar `rel` on links), so twice the stored cap is plenty to fill it.
          maxInputChars: 2 * MAX_STORED_HTML_BYTES,
          maxOutputBytes: MAX_STORED_HTML_BYTES - HTML_NOTE_ROOM,
        });
  let fullHtml = sanitised !== undefined && !sanitised.complete;
  const htmlBytes = () => encoder.encode(parsed.html ?? "");
  let text: string;
  if (parsed.text !== undefined) {
    text = parsed.text;
    if (!fits(text, maxText)) {
      const content = encoder.encode(parsed.text);
      text = withNote(text, maxText, truncationNote(content.byteLength, FULL_TEXT_FILENAME));
      full.push({ filename: FULL_TEXT_FILENAME, contentType: "text/plain; charset=utf-8", content });
    }
  } else if (sanitised !== undefined) {
    // HTML-only mail: the text is read from the sanitised HTML, so it is as complete as that is.
    text = textOfSanitised(sanitised.html);
    fullHtml = fullHtml || !fits(text, maxText);
  } else {
    text = "";
  }
  let html = sanitised?.html;
  if (fullHtml && parsed.html !== undefined) {
    const content = htmlBytes();
    const note = truncationNote(content.byteLength, FULL_HTML_FILENAME);
    if (parsed.text === undefined) text = withNote(text, maxText, note);
    if (sanitised !== undefined && !sanitised.complete) html = `${html ?? ""}<hr><p>${escapeHtml(note)}</p>`;
    full.push({ filename: FULL_HTML_FILENAME, contentType: "text/html; charset=utf-8", content });
  }
  return { text, html, full };
}

export interface MailFacts {
  /** The envelope sender, lower-case ("" for a bounce). */
  envelopeFrom: string;
  recipient: string;
  /** The desk's own addresses: mail from them is our own mail coming back. */
  ourAddresses: readonly string[];
  receivedAt: number;
  /** The raw mail is already in R2 at its key (re-reading it for a promotion). */
  rawStored?: boolean;
}

/**
 * Keep a parsed mail in R2 — the raw message, each attachment up to MAX_STORED_ATTACHMENTS, and
 * any body too long for D1 in full — and shape the inbound message the pipeline stores. Keys
 * derive from the idempotency key, so a redelivery (or a promotion) overwrites rather than orphans.
 */
export async function prepareEmail(
  env: MailStorage,
  raw: Uint8Array,
  parsed: ParsedEmail,
  idempotencyKey: string,
  facts: MailFacts,
): Promise<InboundMessageInput> {
  const id = await sha256Hex(idempotencyKey);
  const rawStorageKey = `mail/in/${id}.eml`;
  const put = (key: string, content: Uint8Array, contentType: string) =>
    env.ATTACHMENTS.put(key, content, { httpMetadata: { contentType } });
  if (facts.rawStored !== true) await put(rawStorageKey, raw, "message/rfc822");

  const kept = parsed.attachments.slice(0, MAX_STORED_ATTACHMENTS);
  const left = parsed.attachments.slice(MAX_STORED_ATTACHMENTS);
  const leftNote =
    left.length === 0
      ? null
      : attachmentsNote(
          left.length,
          left.reduce((sum, a) => sum + a.content.byteLength, 0),
          kept.length,
        );
  const bodies = await boundBodies(parsed, leftNote === null ? 0 : utf8Length(leftNote) + 2);
  const text =
    leftNote === null ? bodies.text : bodies.text === "" ? leftNote : `${bodies.text}\n\n${leftNote}`;

  const attachments: InboundAttachment[] = await Promise.all(
    kept.map(async (attachment, index) => {
      const storageKey = `att/${id}/${index}`;
      await put(storageKey, attachment.content, attachment.contentType);
      return {
        filename: attachment.filename.slice(0, 255),
        contentType: attachment.contentType.slice(0, 255),
        size: attachment.content.byteLength,
        storageKey,
        ...(attachment.contentId === undefined ? {} : { contentId: attachment.contentId.slice(0, 255) }),
      };
    }),
  );
  for (const body of bodies.full) {
    const storageKey = `att/${id}/${body.filename}`;
    await put(storageKey, body.content, body.contentType);
    attachments.push({
      filename: body.filename,
      contentType: body.contentType,
      size: body.content.byteLength,
      storageKey,
    });
  }
  // The attachments not stored one by one are still in the raw mail: list that instead.
  if (left.length > 0) {
    attachments.push({
      filename: RAW_MAIL_FILENAME,
      contentType: "message/rfc822",
      size: raw.byteLength,
      storageKey: rawStorageKey,
    });
  }

  const loop = loopReason({
    header: parsed.header,
    from: parsed.from.address,
    envelopeFrom: facts.envelopeFrom,
    contentType: parsed.contentType,
    ourAddresses: facts.ourAddresses,
  });
  return normaliseEmail({
    parsed,
    idempotencyKey,
    envelopeFrom: facts.envelopeFrom,
    recipient: facts.recipient,
    text,
    html: bodies.html,
    loop,
    listMail: isListMail(parsed.header),
    senderUnverified: dmarcVerdict(parsed.headers ?? (() => [])) === "fail",
    quoted: loop === "bounce" ? await quotedMessageIds(raw, parsed.messageId) : [],
    attachments,
    rawStorageKey,
    receivedAt: facts.receivedAt,
  });
}

/** The desk's key for a mail: its Message-ID, or the hash of the whole mail when it has none. */
export async function emailIdempotencyKey(raw: Uint8Array, parsed: ParsedEmail): Promise<string> {
  return parsed.messageId ?? `sha256:${await sha256Hex(raw)}`;
}

/**
 * A quarantined mail read again in full from its raw message in R2, for an agent who opens a
 * ticket from it; null when the raw message is not there (the caller falls back to the stored text).
 */
export async function rereadQuarantinedEmail(
  env: MailStorage,
  mail: QuarantinedMessage,
): Promise<InboundMessageInput | null> {
  if (mail.storageKey === null) return null;
  const object = await env.ATTACHMENTS.get(mail.storageKey);
  if (object === null) return null;
  const raw = new Uint8Array(await object.arrayBuffer());
  const parsed = await parseEmail(raw);
  return prepareEmail(env, raw, parsed, await emailIdempotencyKey(raw, parsed), {
    envelopeFrom: mail.sender ?? "",
    recipient: mail.recipient ?? "",
    ourAddresses: [],
    receivedAt: mail.receivedAt,
    rawStored: true,
  });
}
