import { exports } from "cloudflare:workers";
import { expect } from "vitest";

/** A browser's view of the console: cookies carried between requests, forms posted as a browser would. */
export class ConsoleBrowser {
  readonly cookies = new Map<string, string>();

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) {
      headers.set("cookie", [...this.cookies].map(([name, value]) => `${name}=${value}`).join("; "));
    }
    const response = await exports.default.fetch(
      new Request(`https://desk.test${path}`, { ...init, headers, redirect: "manual" }),
    );
    for (const line of response.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const eq = pair.indexOf("=");
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      if (/max-age=0/i.test(line) || value === "") this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return response;
  }

  async get(path: string): Promise<{ response: Response; html: string }> {
    const response = await this.fetch(path);
    return { response, html: await response.text() };
  }

  async post(path: string, fields: Record<string, string>): Promise<Response> {
    return this.fetch(path, {
      method: "POST",
      body: new URLSearchParams(fields),
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  }

  /** Sign in with an agent token through the login form; returns the session's CSRF token. */
  async signIn(token = "test-token-alice"): Promise<string> {
    const login = await this.get("/login");
    expect(login.response.status).toBe(200);
    const loginCsrf = (await parseHtml(login.html)).inputValue("_csrf");
    const response = await this.post("/login", { _csrf: loginCsrf, token, next: "/queue" });
    expect(response.status).toBe(303);
    return this.csrf();
  }

  /** The CSRF token the console embeds in its forms for this session. */
  async csrf(): Promise<string> {
    const page = await this.get("/queue");
    expect(page.response.status).toBe(200);
    return (await parseHtml(page.html)).inputValue("_csrf");
  }
}

export interface ParsedElement {
  tag: string;
  attrs: Record<string, string>;
  text: string;
}

const VOID_ELEMENTS = new Set("area base br col embed hr img input link meta source track wbr".split(" "));

/** HTMLRewriter hands attribute values and text over as written: undo the escapes Hono JSX writes. */
function decode(text: string): string {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#x27;/g, "'")
    .replace(/&amp;/g, "&");
}

/** The page as the runtime's own HTML parser sees it: every element, its attributes and its text. */
export async function parseHtml(html: string) {
  const elements: ParsedElement[] = [];
  const open: ParsedElement[] = [];
  await new HTMLRewriter()
    .on("*", {
      element(element) {
        const parsed: ParsedElement = {
          tag: element.tagName,
          attrs: Object.fromEntries(
            [...element.attributes].map((pair): [string, string] => [
              String(pair[0]).toLowerCase(),
              decode(String(pair[1])),
            ]),
          ),
          text: "",
        };
        elements.push(parsed);
        // Void elements (input, meta, br…) have no end tag and no text.
        if (VOID_ELEMENTS.has(element.tagName)) return;
        open.push(parsed);
        element.onEndTag(() => {
          open.splice(open.lastIndexOf(parsed), 1);
        });
      },
      text(chunk) {
        for (const element of open) element.text += decode(chunk.text);
      },
    })
    .transform(new Response(html, { headers: { "content-type": "text/html" } }))
    .text();
  return {
    elements,
    all: (tag: string) => elements.filter((e) => e.tag === tag),
    inputValue(name: string): string {
      const input = elements.find((e) => e.tag === "input" && e.attrs.name === name);
      if (input === undefined) throw new Error(`no input named ${name}`);
      return input.attrs.value ?? "";
    },
  };
}

/** Elements of a page that could run script: event-handler attributes, javascript: URLs, foreign scripts. */
export async function scriptSurfaces(html: string, nonce: string): Promise<string[]> {
  const page = await parseHtml(html);
  const problems: string[] = [];
  for (const e of page.elements) {
    for (const [name, value] of Object.entries(e.attrs)) {
      if (name.startsWith("on")) problems.push(`<${e.tag} ${name}=…>`);
      if (["href", "src", "action", "formaction"].includes(name) && /^\s*javascript:/i.test(value))
        problems.push(`<${e.tag} ${name}=javascript:…>`);
    }
    if (e.tag === "script" && e.attrs.nonce !== nonce) problems.push("<script> without the page nonce");
    if (["img", "object", "embed", "svg"].includes(e.tag) && e.attrs.src !== undefined)
      problems.push(`<${e.tag} src>`);
    if (e.tag === "iframe" && (e.attrs.sandbox === undefined || /allow-scripts/i.test(e.attrs.sandbox)))
      problems.push("<iframe> without a script-free sandbox");
  }
  return problems;
}

export function cspNonce(response: Response): string {
  const csp = response.headers.get("content-security-policy") ?? "";
  const match = /script-src 'nonce-([^']+)'/.exec(csp);
  if (match?.[1] === undefined) throw new Error(`no script nonce in CSP: ${csp}`);
  return match[1];
}
