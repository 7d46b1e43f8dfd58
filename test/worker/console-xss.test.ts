import { env } from "cloudflare:workers";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { intake } from "../../src/intake";
import { ConsoleBrowser, cspNonce, parseHtml, scriptSurfaces } from "./console-helpers";
import { fakeOutbound, postMessage, unique, useConfig } from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const SUBJECT = `<script>alert("subject")</script><img src=x onerror=alert(1)> "quoted' & <b>bold</b>`;
const TEXT = `</p><script>alert(2)</script><img src=x onerror="alert(3)"><a href="javascript:alert(4)">x</a>`;
const HTML = `<p>Hello <b>team</b></p><script>alert(5)</script><img src="x" onerror="alert(6)"><a href="javascript:alert(7)">click</a><iframe src="https://evil.example"></iframe>"><svg onload=alert(8)>`;

async function renderedInert(browser: ConsoleBrowser, path: string) {
  const { response, html } = await browser.get(path);
  expect(response.status, path).toBe(200);
  expect(await scriptSurfaces(html, cspNonce(response)), path).toEqual([]);
  // Our countdown script is the only script on the page.
  const page = await parseHtml(html);
  for (const script of page.all("script")) expect(script.text).not.toContain("alert");
  return { html, page };
}

describe("customer content in the console", () => {
  it("renders an api ticket's hostile subject and text as inert text", async () => {
    fakeOutbound();
    const marker = unique("xss");
    const { body } = await postMessage({
      subject: `${marker} ${SUBJECT}`,
      text: TEXT,
      from: { name: `<img src=x onerror=alert(9)>`, email: "x@example.org" },
      visibility: "public",
    });
    const key = body.ticket as string;
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const queue = await renderedInert(browser, `/queue?q=${encodeURIComponent(marker)}`);
    // The subject is there, as text.
    expect(queue.page.all("a").some((a) => a.text === `${marker} ${SUBJECT}`)).toBe(true);
    expect(queue.html).toContain("&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;");
    const ticket = await renderedInert(browser, `/tickets/${key}`);
    expect(ticket.page.all("h1")[0]?.text).toContain(SUBJECT);
    expect(ticket.page.all("article").some((a) => a.text.includes(TEXT))).toBe(true);
    // An agent's reply with markup stays text too, and so does the knowledge base built from it.
    await browser.post(`/tickets/${key}/replies`, { _csrf: csrf, internal: "false", text: `Try ${TEXT}` });
    await browser.post(`/tickets/${key}`, { _csrf: csrf, status: "resolved" });
    await renderedInert(browser, `/tickets/${key}`);
    const kb = await renderedInert(new ConsoleBrowser(), `/kb?q=${encodeURIComponent(marker)}`);
    expect(kb.page.all("a").some((a) => a.attrs.href === `/kb/${key}`)).toBe(true);
    await renderedInert(new ConsoleBrowser(), `/kb?q=script+alert`);
    await renderedInert(new ConsoleBrowser(), `/kb/${key}`);
  });

  it("shows an email's HTML only in a script-free sandboxed iframe, and its text by default", async () => {
    fakeOutbound();
    const result = await intake(env, {
      channel: "email",
      idempotencyKey: unique("mail"),
      threadKeys: [],
      extraThreadKeys: [unique("mid")],
      from: { email: "mallory@example.org", name: `Mallory <script>alert(10)</script>` },
      subject: SUBJECT,
      text: "Hello team (plain text part)",
      html: HTML,
      context: { recipient: "support@example.com" },
      suppressAcknowledgement: true,
      attachments: [],
      receivedAt: Date.now(),
    });
    if (!result.ok) throw new Error(result.detail);
    const browser = new ConsoleBrowser();
    await browser.signIn();
    const { page, html } = await renderedInert(browser, `/tickets/${result.ticket}`);
    const frames = page.all("iframe");
    expect(frames).toHaveLength(1);
    const frame = frames[0];
    // `sandbox` with no allow-* tokens: no scripts, no same-origin access, no forms, no top navigation.
    expect(frame?.attrs.sandbox).toBe("");
    expect(frame?.attrs.srcdoc).toBe(HTML);
    // In the page source the whole email is one attribute value: escaped, never markup of the page.
    expect(html).not.toContain("<script>alert(5)");
    expect(html).not.toContain('onerror="alert(6)"');
    expect(page.all("svg")).toHaveLength(0);
    // The default view is the text part; the formatted email sits behind a <details> toggle.
    const message = page.all("article").find((a) => a.attrs["data-kind"] === "customer");
    expect(message?.text).toContain("Hello team (plain text part)");
    expect(page.all("details")).toHaveLength(1);
    expect(page.all("details")[0]?.attrs.open).toBeUndefined();
  });
});
