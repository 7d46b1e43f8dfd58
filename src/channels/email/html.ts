import { cutUtf8 } from "./limits";

/**
 * HTML from customers, made safe to display and readable as text, with the runtime's own streaming
 * parser (HTMLRewriter): an allow-list of elements and attributes, everything else dropped.
 */

const DROP_WITH_CONTENT = [
  "script",
  "style",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "head",
  "title",
  "meta",
  "link",
  "base",
  "form",
  "input",
  "button",
  "textarea",
  "select",
  "option",
  "svg",
  "math",
  "template",
  "noscript",
  "audio",
  "video",
  "source",
  "track",
  "canvas",
  "portal",
  "dialog",
  // Raw-text elements: their content is not parsed as markup, so unwrapping them would turn
  // `<xmp><img onerror=…></xmp>` into a live tag. Dropped, content and all.
  "xmp",
  "plaintext",
  "noembed",
  "noframes",
];

const ALLOWED = new Set([
  "a",
  "abbr",
  "b",
  "blockquote",
  "br",
  "caption",
  "cite",
  "code",
  "dd",
  "del",
  "div",
  "dl",
  "dt",
  "em",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "hr",
  "i",
  "img",
  "ins",
  "kbd",
  "li",
  "ol",
  "p",
  "pre",
  "q",
  "s",
  "small",
  "span",
  "strong",
  "sub",
  "sup",
  "table",
  "tbody",
  "td",
  "tfoot",
  "th",
  "thead",
  "tr",
  "u",
  "ul",
  "font",
  "center",
]);

const ALLOWED_ATTRIBUTES: Record<string, readonly string[]> = {
  a: ["href", "title"],
  img: ["src", "alt", "title", "width", "height"],
  td: ["colspan", "rowspan"],
  th: ["colspan", "rowspan"],
  "*": ["title", "lang", "dir"],
};

function safeUrl(value: string, element: string): boolean {
  const url = value
    .trim()
    .toLowerCase()
    // biome-ignore lint/suspicious/noControlCharactersInRegex: browsers ignore control characters inside URLs ("java\tscript:"), so must we.
    .replace(/[\u0000-\u0020]+/g, "");
  if (element === "img") return url.startsWith("cid:");
  return url.startsWith("https://") || url.startsWith("http://") || url.startsWith("mailto:");
}

export interface SanitiseLimits {
  /** Stop reading the input once this many elements have been seen. */
  maxElements: number;
  /** Stop reading the input after this many characters. */
  maxInputChars: number;
  /** The output is cut to this many UTF-8 bytes (before a tag). */
  maxOutputBytes: number;
}

export interface SanitisedHtml {
  html: string;
  /** False when a limit stopped the sanitiser before the end of the input. */
  complete: boolean;
}

const UNLIMITED: SanitiseLimits = {
  maxElements: Number.POSITIVE_INFINITY,
  maxInputChars: Number.POSITIVE_INFINITY,
  maxOutputBytes: Number.POSITIVE_INFINITY,
};

/** Input is fed to the parser in pieces of about this many characters, each ending before a `<`. */
const CHUNK_CHARS = 16 * 1024;

const DROPPED = new Set(DROP_WITH_CONTENT);

/** Per allowed element, every attribute it may keep (its own and the global ones), built once. */
const KEPT_ATTRIBUTES = new Map(
  [...ALLOWED].map((tag) => [
    tag,
    new Set([...(ALLOWED_ATTRIBUTES[tag] ?? []), ...(ALLOWED_ATTRIBUTES["*"] ?? [])]),
  ]),
);

/**
 * One element handler for everything: each handler call is a crossing from the runtime's parser
 * into JavaScript, the sanitiser's main cost on large mail, so there is one per element and the
 * per-element work allocates nothing it can avoid.
 */
function sanitiser(onElement: () => void): HTMLRewriter {
  return new HTMLRewriter()
    .on("*", {
      element(el) {
        onElement();
        const tag = el.tagName.toLowerCase();
        if (DROPPED.has(tag)) {
          el.remove();
          return;
        }
        const kept = KEPT_ATTRIBUTES.get(tag);
        if (kept === undefined) {
          el.removeAndKeepContent();
          return;
        }
        // Collected first: removing while iterating would skip attributes.
        const removed: string[] = [];
        for (const [name = "", value = ""] of el.attributes) {
          const keep = kept.has(name) && ((name !== "href" && name !== "src") || safeUrl(value, tag));
          if (!keep) removed.push(name);
        }
        for (const name of removed) el.removeAttribute(name);
        if (tag === "a") el.setAttribute("rel", "noopener noreferrer nofollow");
      },
    })
    .onDocument({
      comments(comment) {
        comment.remove();
      },
      doctype: () => {},
    });
}

/** Where the next piece of input ends: about CHUNK_CHARS on, just before a `<`, never inside a surrogate pair. */
function chunkEnd(html: string, from: number): number {
  const nominal = from + CHUNK_CHARS;
  if (nominal >= html.length) return html.length;
  const lt = html.indexOf("<", nominal);
  let end = lt >= 0 && lt - nominal <= CHUNK_CHARS ? lt : nominal;
  const unit = html.charCodeAt(end - 1);
  if (unit >= 0xd800 && unit < 0xdc00) end -= 1;
  return end;
}

/**
 * The runtime's parser copies a tag that is still open at the end of the input through as it is
 * (`<img src=x onerror=…` with no `>`): browsers drop such a tag, but stored HTML must not carry
 * one, so a trailing unterminated tag is cut off.
 */
function withoutOpenTag(html: string): string {
  const lt = html.lastIndexOf("<");
  if (lt < 0 || html.indexOf(">", lt) >= 0) return html;
  return /^<[A-Za-z/!?]/.test(html.slice(lt, lt + 2)) ? html.slice(0, lt) : html;
}

/**
 * Sanitise HTML, reading the input only as far as the limits allow: it is streamed to the parser
 * in pieces, and the feeding stops once `maxElements` elements were seen or `maxInputChars` were
 * read. The CPU time is then bounded by the limits, not by the size of the mail (a 20 MiB HTML
 * body costs what its first part costs). The output is collected by the runtime (`text()`), never
 * chunk by chunk in JavaScript: the parser writes many small chunks.
 */
export async function sanitizeHtmlBounded(html: string, limits: SanitiseLimits): Promise<SanitisedHtml> {
  let elements = 0;
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const output = sanitiser(() => {
    elements += 1;
  })
    .transform(new Response(readable))
    .text();
  const encoder = new TextEncoder();
  const writer = writable.getWriter();
  let fed = 0;
  try {
    while (fed < html.length && fed < limits.maxInputChars && elements < limits.maxElements) {
      const end = chunkEnd(html, fed);
      await writer.write(encoder.encode(html.slice(fed, end)));
      fed = end;
    }
  } finally {
    await writer.close();
  }
  let safe = await output;
  let complete = fed >= html.length;
  if (safe.length * 3 > limits.maxOutputBytes) {
    const cut = cutUtf8(safe, limits.maxOutputBytes);
    if (cut.length < safe.length) {
      // Cut before the last tag that the limit split.
      const lt = cut.lastIndexOf("<");
      safe = lt > cut.lastIndexOf(">") ? cut.slice(0, lt) : cut;
      complete = false;
    }
  }
  return { html: withoutOpenTag(safe), complete };
}

export async function sanitizeHtml(html: string): Promise<string> {
  return (await sanitizeHtmlBounded(html, UNLIMITED)).html;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " " };

export function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (match, entity: string) => {
    if (entity[0] === "#") {
      const code =
        entity[1]?.toLowerCase() === "x" ? Number.parseInt(entity.slice(2), 16) : Number(entity.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : match;
    }
    return ENTITIES[entity.toLowerCase()] ?? match;
  });
}

const BLOCK = new Set([
  "p",
  "div",
  "br",
  "li",
  "tr",
  "h1",
  "h2",
  "h3",
  "h4",
  "h5",
  "h6",
  "blockquote",
  "pre",
  "hr",
  "table",
]);

const VOID_BLOCKS = new Set(["br", "hr"]);

/** Readable text from HTML-only mail: blocks become lines, entities are decoded, scripts and styles vanish. */
export async function htmlToText(html: string): Promise<string> {
  return textOfSanitised(await sanitizeHtml(html));
}

const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 12 || c === 13;
const isAlpha = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * Where the tag whose name ends at `from` ends (the index after its `>`, or the end of the input):
 * the HTML tokenizer's attribute states, so a `>` inside a quoted value does not end it.
 */
function tagEnd(html: string, from: number): number {
  const n = html.length;
  let j = from;
  while (j < n) {
    const c = html.charCodeAt(j);
    if (c === 62 /* > */) return j + 1;
    if (isSpace(c) || c === 47 /* / */) {
      j++;
      continue;
    }
    // An attribute name (its first character may be `=`), then maybe `=` and a value.
    j++;
    while (j < n) {
      const d = html.charCodeAt(j);
      if (isSpace(d) || d === 47 || d === 62 || d === 61 /* = */) break;
      j++;
    }
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    if (html.charCodeAt(j) !== 61) continue;
    j++;
    while (j < n && isSpace(html.charCodeAt(j))) j++;
    const quote = html.charCodeAt(j);
    if (quote === 34 /* " */ || quote === 39 /* ' */) {
      const close = html.indexOf(String.fromCharCode(quote), j + 1);
      j = close < 0 ? n : close + 1;
    } else {
      while (j < n && !isSpace(html.charCodeAt(j)) && html.charCodeAt(j) !== 62) j++;
    }
  }
  return n;
}

/**
 * `htmlToText` of HTML that has been through the sanitiser already (the email handler sanitises
 * once). One linear scan in JavaScript: the sanitised HTML has no comments, scripts, styles or
 * raw-text elements left, only text, allowed tags and perhaps a doctype, so reading it needs the
 * tokenizer's tag states and nothing else — and no call into the runtime per text node.
 */
export function textOfSanitised(safe: string): string {
  const parts: string[] = [];
  const n = safe.length;
  let text = 0;
  let i = 0;
  for (;;) {
    const lt = safe.indexOf("<", i);
    if (lt < 0) break;
    const next = safe.charCodeAt(lt + 1);
    const closing = next === 47; /* / */
    const nameStart = closing ? lt + 2 : lt + 1;
    if (!isAlpha(safe.charCodeAt(nameStart))) {
      if (next === 33 /* ! */ || next === 63 /* ? */ || closing) {
        // A doctype or a bogus comment: up to the next `>`.
        parts.push(safe.slice(text, lt));
        const gt = safe.indexOf(">", lt);
        i = text = gt < 0 ? n : gt + 1;
      } else {
        i = lt + 1; // a `<` in the text
      }
      continue;
    }
    let nameEnd = nameStart;
    while (nameEnd < n) {
      const c = safe.charCodeAt(nameEnd);
      if (isSpace(c) || c === 47 || c === 62) break;
      nameEnd++;
    }
    parts.push(safe.slice(text, lt));
    const tag = safe.slice(nameStart, nameEnd).toLowerCase();
    if (BLOCK.has(tag)) {
      if (!closing) parts.push(tag === "li" ? "\n• " : "\n");
      else if (!VOID_BLOCKS.has(tag) && tag !== "li") parts.push("\n");
    }
    i = text = tagEnd(safe, nameEnd);
  }
  parts.push(safe.slice(text));
  return decodeEntities(parts.join(""))
    .replace(/[ \t\f\r\u00a0]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
