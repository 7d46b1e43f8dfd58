import { describe, expect, it } from "vitest";
import { htmlToText, sanitizeHtml } from "../../src/channels/email/html";
import vectors from "../fixtures/xss/dompurify-expect.mjs";

/**
 * Issue 13: the stored `html` of an email must be safe for any API client to render. Every XSS
 * vector DOMPurify's own test suite ships (test/fixtures/xss/SOURCES.md) goes through our
 * sanitiser; the output is then read back by the runtime's own HTML parser (HTMLRewriter), which
 * reports anything that could run script, submit or frame content, or move the page's base.
 */

/** Elements that script, submit, frame, embed or re-base a page; none may survive. */
const FORBIDDEN_ELEMENTS = new Set([
  "script",
  "style",
  "iframe",
  "frame",
  "frameset",
  "object",
  "embed",
  "applet",
  "form",
  "input",
  "button",
  "textarea",
  "select",
  "option",
  "base",
  "meta",
  "link",
  "svg",
  "math",
  "template",
  "noscript",
  "xmp",
  "plaintext",
  "noembed",
  "noframes",
  "portal",
  "animate",
  "set",
  "use",
]);

/** Attributes that carry a URL a browser may follow or load. */
const URL_ATTRIBUTES = new Set([
  "href",
  "src",
  "action",
  "formaction",
  "xlink:href",
  "background",
  "poster",
  "srcset",
  "data",
  "cite",
]);

/** What a browser would treat as a scripting or data URL, after it strips whitespace and controls. */
function dangerousUrl(value: string): boolean {
  const normalised = value
    // biome-ignore lint/suspicious/noControlCharactersInRegex: browsers skip exactly these before they read a URL's scheme
    .replace(/[\u0000-\u0020\u007f-\u00a0\u1680\u180e\u2000-\u200b\u2028\u2029\u205f\u3000\ufeff]/g, "")
    .toLowerCase();
  return (
    /^(javascript|vbscript|data|livescript|mocha):/.test(normalised) ||
    (/&#|%[0-9a-f]{2}/i.test(value.slice(0, 16)) && /script/i.test(value))
  );
}

interface Finding {
  kind: string;
  detail: string;
}

/** Parse the sanitiser's output as a browser's parser would and list every dangerous construct. */
async function findings(html: string): Promise<Finding[]> {
  const found: Finding[] = [];
  const rewriter = new HTMLRewriter().on("*", {
    element(element) {
      const tag = element.tagName.toLowerCase();
      if (FORBIDDEN_ELEMENTS.has(tag)) found.push({ kind: "element", detail: tag });
      for (const pair of element.attributes) {
        const name = (pair[0] ?? "").toLowerCase();
        const value = pair[1] ?? "";
        if (name.startsWith("on")) found.push({ kind: "event handler", detail: `${tag} ${name}` });
        if (
          name === "style" &&
          /expression\s*\(|url\s*\(|javascript:|behavior\s*:|-moz-binding/i.test(value)
        ) {
          found.push({ kind: "style", detail: `${tag} ${value.slice(0, 60)}` });
        }
        if (URL_ATTRIBUTES.has(name) && dangerousUrl(value))
          found.push({ kind: "url", detail: `${tag} ${name}=${value.slice(0, 60)}` });
        if (name === "srcdoc" || name === "formaction" || name === "xmlns" || name.includes(":")) {
          found.push({ kind: "attribute", detail: `${tag} ${name}` });
        }
      }
    },
  });
  await rewriter.transform(new Response(html)).text();
  return found;
}

describe("the email HTML sanitiser against DOMPurify's published XSS vectors", () => {
  it(`lets none of the ${vectors.length} vectors survive`, { timeout: 60_000 }, async () => {
    const survived: { title: string; output: string; found: Finding[] }[] = [];
    for (const vector of vectors) {
      const once = await sanitizeHtml(vector.payload);
      const twice = await sanitizeHtml(once);
      // Sanitising is idempotent: what we store does not change meaning when parsed again (mXSS).
      const found = [...(await findings(once)), ...(await findings(twice))];
      if (found.length > 0 || twice !== once)
        survived.push({ title: vector.title ?? vector.payload.slice(0, 60), output: once, found });
    }
    console.log(`sanitiser corpus: ${vectors.length} vectors tried, ${survived.length} survived`);
    expect(vectors.length).toBeGreaterThan(200);
    expect(survived).toEqual([]);
  });

  it("keeps the text a person wrote", async () => {
    const text = await htmlToText(
      "<p>Hello <b>there</b></p><script>alert(1)</script><p>Bye &amp; thanks</p>",
    );
    expect(text).toContain("Hello there");
    expect(text).toContain("Bye & thanks");
    expect(text).not.toContain("alert");
  });

  it.each([
    ["<xmp><img src=x onerror=alert(1)></xmp>"],
    ["<noembed><img src=x onerror=alert(1)></noembed>"],
    ["<noframes><img src=x onerror=alert(1)></noframes>"],
    ["<plaintext><img src=x onerror=alert(1)>"],
    ["<a href=' jav&#x09;ascript:alert(1)'>x</a>"],
    ["<svg><a xlink:href='javascript:alert(1)'><text>x</text></a></svg>"],
    ["<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>"],
    ["<base href='https://evil.example/'><a href='/x'>x</a>"],
    ["<form action='https://evil.example'><button>x</button></form>"],
  ])("%s comes out inert", async (payload) => {
    expect(await findings(await sanitizeHtml(payload))).toEqual([]);
  });
});
