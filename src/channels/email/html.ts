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

export async function sanitizeHtml(html: string): Promise<string> {
  const rewriter = new HTMLRewriter()
    .on(DROP_WITH_CONTENT.join(","), {
      element(el) {
        el.remove();
      },
    })
    .on("*", {
      element(el) {
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
  return rewriter.transform(new Response(html)).text();
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
  const safe = await sanitizeHtml(html);
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
