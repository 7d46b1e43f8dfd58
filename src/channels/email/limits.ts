/**
 * What of a mail goes into D1, and what stays only in R2. Email Routing delivers up to 25 MiB;
 * a D1 row holds at most 2 MB, so the stored bodies are capped well under that (text and HTML
 * share one `messages` row) and the whole mail is always kept in R2: the raw `.eml`, and each
 * over-long body in full as an attachment of the message.
 */

/** UTF-8 bytes of text kept in `messages.text`; a longer body is attached in full as `message-body.txt`. */
export const MAX_STORED_TEXT_BYTES = 256 * 1024;

/** UTF-8 bytes of sanitised HTML kept in `messages.html`; the original is attached as `message-body.html`. */
export const MAX_STORED_HTML_BYTES = 512 * 1024;

/**
 * Elements the HTML sanitiser visits before it stops reading (each costs a call from the runtime's
 * HTML parser into JavaScript, ~10–20 µs here): this, not the byte count, is what bounds its CPU time
 * on tag soup. Real mail rarely has more than a few thousand.
 */
export const MAX_SANITISED_ELEMENTS = 10_000;

/** Attachments stored one by one (an R2 object and a D1 row each); the rest stay inside the raw mail. */
export const MAX_STORED_ATTACHMENTS = 100;

export const FULL_TEXT_FILENAME = "message-body.txt";
export const FULL_HTML_FILENAME = "message-body.html";
export const RAW_MAIL_FILENAME = "original-message.eml";

const encoder = new TextEncoder();

/** UTF-8 length of `text`; counting stops once it passes `stopAbove` (then the result is just over it). */
export function utf8Length(text: string, stopAbove = Number.POSITIVE_INFINITY): number {
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= stopAbove; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit < 0xdc00) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        // A surrogate pair is one 4-byte code point.
        bytes += 4;
        i += 1;
      } else bytes += 3; // a lone surrogate is encoded as U+FFFD
    } else bytes += 3;
  }
  return bytes;
}

/**
 * The longest prefix of `text` of at most `maxBytes` UTF-8 bytes, never splitting a code point
 * (`encodeInto` stops before a character that does not fit). Work is proportional to `maxBytes`,
 * not to the length of `text`.
 */
export function cutUtf8(text: string, maxBytes: number): string {
  if (text.length * 3 <= maxBytes) return text;
  const { read } = encoder.encodeInto(text, new Uint8Array(maxBytes));
  return text.slice(0, read);
}

/** The visible line a truncated body ends with: what was cut, and where the whole of it is. */
export function truncationNote(fullBytes: number, filename: string): string {
  return `[…truncated: the full body, ${fullBytes} bytes, is attached as ${filename}]`;
}

/** The line a message ends with when some of its attachments were not stored one by one. */
export function attachmentsNote(left: number, leftBytes: number, kept: number): string {
  return `[…${left} more attachment${left === 1 ? "" : "s"} (${leftBytes} bytes) not listed: only the first ${kept} are stored separately; all of them are inside the original mail, attached as ${RAW_MAIL_FILENAME}]`;
}
