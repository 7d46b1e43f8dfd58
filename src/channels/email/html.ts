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
  /** Stop reading once the output is this long (UTF-8 bytes); the output is cut to it. */
  maxOutputBytes: number;
}

export interface SanitisedHtml {
  html: string;
  /** False when a limit stopped the sanitiser before the end of the input. */
  complete: boolean;
}

const UNLIMITED: SanitiseLimits = {
  maxElements: Number.POSITIVE_INFINITY,
  maxOutputBytes: Number.POSITIVE_INFINITY,
};

/** Input is fed to the parser in pieces of about this many characters, each ending before a `<`. */
const CHUNK_CHARS = 16 * 1024;

function sanitiser(onElement: () => void): HTMLRewriter {
  return new HTMLRewriter()
    .on(DROP_WITH_CONTENT.join(","), {
      element(el) {
        el.remove();
      },
    })
    .on("*", {
      element(el) {
        onElement();
        if (el.removed) return;
        const tag = el.tagName.toLowerCase();
        if (!ALLOWED.has(tag)) {
          el.removeAndKeepContent();
          return;
        }
        const allowed = new Set([...(ALLOWED_ATTRIBUTES[tag] ?? []), ...(ALLOWED_ATTRIBUTES["*"] ?? [])]);
        for (const [name = "", value = ""] of [...el.attributes]) {
          const keep = allowed.has(name) && ((name !== "href" && name !== "src") || safeUrl(value, tag));
          if (!keep) el.removeAttribute(name);
        }
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
 * in pieces, and the feeding stops once `maxElements` elements were seen or `maxOutputBytes` were
 * written. The CPU time is then bounded by the limits, not by the size of the mail (a 20 MiB HTML
 * body costs what its first part costs).
 */
export async function sanitizeHtmlBounded(html: string, limits: SanitiseLimits): Promise<SanitisedHtml> {
  let elements = 0;
  let outputBytes = 0;
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
  const output = sanitiser(() => {
    elements += 1;
  }).transform(new Response(readable));
  const encoder = new TextEncoder();
  let fed = 0;
  const feeding = (async () => {
    const writer = writable.getWriter();
    try {
      while (fed < html.length && elements < limits.maxElements && outputBytes < limits.maxOutputBytes) {
        const end = chunkEnd(html, fed);
        await writer.write(encoder.encode(html.slice(fed, end)));
        fed = end;
      }
    } finally {
      await writer.close();
    }
  })();
  const parts: string[] = [];
  const decoder = new TextDecoder();
  if (output.body === null) throw new Error("HTMLRewriter returned no body");
  const reader = output.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    outputBytes += value.byteLength;
    parts.push(decoder.decode(value, { stream: true }));
  }
  parts.push(decoder.decode());
  await feeding;
  let safe = parts.join("");
  let complete = fed >= html.length;
  if (outputBytes > limits.maxOutputBytes) {
    safe = cutUtf8(safe, limits.maxOutputBytes);
    // Cut before the last tag that the limit split.
    const lt = safe.lastIndexOf("<");
    if (lt > safe.lastIndexOf(">")) safe = safe.slice(0, lt);
    complete = false;
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

const BLOCK = [
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
];

const VOID_BLOCKS = new Set(["br", "hr"]);

/** Readable text from HTML-only mail: blocks become lines, entities are decoded, scripts and styles vanish. */
export async function htmlToText(html: string): Promise<string> {
  // Document-level text handlers see the text of removed elements too: strip those first.
  return textOfSanitised(await sanitizeHtml(html));
}

/** `htmlToText` of HTML that has been through `sanitizeHtml` already (the email handler sanitises once). */
export async function textOfSanitised(safe: string): Promise<string> {
  const parts: string[] = [];
  const rewriter = new HTMLRewriter()
    .on("script,style,head,title,template,noscript", {
      element(el) {
        el.remove();
      },
    })
    .on(BLOCK.join(","), {
      element(el) {
        parts.push("\n");
        if (el.tagName.toLowerCase() === "li") parts.push("• ");
        if (!VOID_BLOCKS.has(el.tagName.toLowerCase()) && el.tagName.toLowerCase() !== "li") {
          el.onEndTag(() => {
            parts.push("\n");
          });
        }
      },
    })
    .onDocument({
      text(chunk) {
        parts.push(chunk.text);
      },
    });
  await rewriter.transform(new Response(safe)).text();
  return decodeEntities(parts.join(""))
    .replace(/[ \t\f\r\u00a0]+/g, " ")
    .replace(/ *\n */g, "\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}
