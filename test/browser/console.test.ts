import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import PostalMime from "postal-mime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, type Desk, startDesk } from "./desk";

/**
 * The console in a real browser against a real local desk (`wrangler dev`): an agent signs in,
 * works a ticket end to end, the customer answers the survey, and the metrics move. Screenshots go
 * to docs/screenshots with SCREENSHOTS=1 (`npm run screenshots`), else to a temporary folder.
 */

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const TOKEN = "dev-token-alice";
const SHOTS =
  process.env.SCREENSHOTS === "1"
    ? path.join(ROOT, "docs", "screenshots")
    : mkdtempSync(path.join(tmpdir(), "switchboard-shots-"));
/** Every SLA duration ÷ 120: the critical ticket's 1-hour clock breaches after 30 s. */
const SLA_TIME_SCALE = "120";

let desk: Desk;
let profile: string;
let context: BrowserContext;
let page: Page;
const cspViolations: string[] = [];
const dialogs: string[] = [];
const tickets: Record<"critical" | "platform" | "billing" | "howto" | "hostile" | "email", string> = {
  critical: "",
  platform: "",
  billing: "",
  howto: "",
  hostile: "",
  email: "",
};

async function api(pathname: string, body?: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${desk.url}${pathname}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

let sequence = 0;
async function openTicket(fields: Record<string, unknown>): Promise<string> {
  sequence += 1;
  const result = await api("/v1/messages", { externalId: `browser-${sequence}`, ...fields });
  return String(result.ticket);
}

const EMAIL = [
  "From: Mallory Example <mallory@example.org>",
  "To: support@example.com",
  'Subject: Export button spins forever <img src=x onerror="alert(1)">',
  "Message-ID: <browser-export-1@example.org>",
  "MIME-Version: 1.0",
  'Content-Type: multipart/mixed; boundary="outer"',
  "",
  "--outer",
  'Content-Type: multipart/alternative; boundary="inner"',
  "",
  "--inner",
  "Content-Type: text/plain; charset=utf-8",
  "",
  "The export button spins forever. The CSV we got yesterday is attached.",
  "--inner",
  "Content-Type: text/html; charset=utf-8",
  "",
  '<p>The <b>export</b> button spins forever.</p><script>parent.__xss = 1</script><img src="x" onerror="parent.__xss = 2">',
  "--inner--",
  "--outer",
  'Content-Type: text/csv; name="export.csv"',
  'Content-Disposition: attachment; filename="export.csv"',
  "",
  "id,total",
  "1,42",
  "--outer--",
  "",
].join("\r\n");

async function shot(name: string, fullPage = true) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
}

async function queueKeys(): Promise<string[]> {
  return page
    .locator("tr[data-ticket]")
    .evaluateAll((rows) => rows.map((r) => r.getAttribute("data-ticket") ?? ""));
}

/** Sideways scrolling of the whole page, with the elements that stick out (tables scroll inside their own box). */
async function overflowing(): Promise<string[]> {
  const wide = await page.evaluate<boolean>(
    "document.documentElement.scrollWidth > document.documentElement.clientWidth",
  );
  if (!wide) return [];
  return page.evaluate<string[]>(`[...document.querySelectorAll("body *")]
    .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
    .map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.className && typeof e.className === "string" ? "." + e.className.split(" ").join(".") : ""))`);
}

async function metric(id: string): Promise<string> {
  return (await page.locator(`[data-metric="${id}"]`).first().textContent())?.trim() ?? "";
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  desk = await startDesk({ SLA_TIME_SCALE });
  tickets.critical = await openTicket({
    from: { name: "Dana Ops", email: "dana@shop.example" },
    subject: "Checkout returns 500 for every order",
    text: "Production down: every checkout has failed with a 500 since 09:12.",
  });
  tickets.platform = await openTicket({
    from: { name: "Priya", email: "priya@acme.example" },
    subject: "Webhook latency above 10 minutes",
    text: "Our webhooks arrive with 10 minutes of latency since this morning.",
  });
  tickets.billing = await openTicket({
    from: { name: "Omar", email: "omar@shop.example" },
    subject: "Invoice shows the wrong VAT number",
    text: "The March invoice has our old VAT number.",
  });
  tickets.howto = await openTicket({
    from: { name: "Ann", email: "ann@example.org" },
    subject: "How do I rotate API keys?",
    text: "We want to rotate our API keys every 90 days without downtime. How?",
    visibility: "public",
  });
  tickets.hostile = await openTicket({
    from: { name: "<img src=x onerror=alert(1)>" },
    subject: 'Hostile <img src=x onerror="window.__xss = 3"> subject',
    text: '<script>window.__xss = 4</script><img src=x onerror="window.__xss = 5">',
  });
  const mail = await fetch(
    `${desk.url}/cdn-cgi/handler/email?from=mallory@example.org&to=support@example.com`,
    { method: "POST", body: EMAIL },
  );
  expect(mail.status).toBeLessThan(300);
  const emails = (await api("/v1/tickets?channel=email")).tickets as { key: string }[];
  tickets.email = emails[0]?.key ?? "";
  expect(tickets.email).toMatch(/^SUP-\d+$/);

  profile = mkdtempSync(path.join(tmpdir(), "switchboard-chromium-"));
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: CHROMIUM_ARGS,
    headless: true,
    viewport: { width: 1280, height: 860 },
  });
  page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(15_000);
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
}, 120_000);

afterAll(async () => {
  await context?.close();
  await desk?.stop();
  if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  if (process.env.SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
});

describe("the agent console in Chromium", () => {
  it("signs in with an agent token into a HttpOnly, Secure, SameSite=Strict session", async () => {
    await page.goto(`${desk.url}/`);
    expect(new URL(page.url()).pathname).toBe("/login");
    await shot("login", false);
    await page.getByLabel("Agent token").fill("wrong-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Unknown agent token");
    await page.getByLabel("Agent token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/queue$/);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Queue");
    expect(await page.locator("header.top .who").textContent()).toContain("Signed in as alice");
    const session = (await context.cookies()).find((c) => c.name === "__Host-sb_session");
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Strict", path: "/" });
    expect(session?.value).not.toContain(TOKEN);
  });

  it("filters the queue by team and channel, and counts SLA time down live", async () => {
    expect(new Set(await queueKeys())).toEqual(new Set(Object.values(tickets)));
    await page.getByLabel("Team").selectOption("platform");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/team=platform/);
    expect(await queueKeys()).toEqual([tickets.platform]);
    await page.getByLabel("Team").selectOption("");
    await page.getByLabel("Channel").selectOption("email");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/channel=email/);
    expect(await queueKeys()).toEqual([tickets.email]);
    await page.getByRole("link", { name: "Reset" }).click();
    const clock = page.locator(`tr[data-ticket="${tickets.billing}"] time[data-countdown]`);
    const before = await clock.textContent();
    expect(before).toMatch(/^due in \d+m \d+s$/);
    await expect.poll(() => clock.textContent(), { timeout: 5000 }).not.toBe(before);
  });

  it("opens a ticket, sends a public reply and an internal note, links an improvement", async () => {
    await page.getByRole("link", { name: "How do I rotate API keys?" }).click();
    await page.waitForURL(new RegExp(`/tickets/${tickets.howto}$`));
    expect(await page.locator("#conversation").textContent()).toContain("rotate our API keys every 90 days");

    await page
      .getByLabel("Reply to the customer")
      .fill("Create the new key, deploy it, then revoke the old one: no downtime.");
    await page.getByRole("button", { name: "Send public reply" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Reply sent to the customer.");
    const staff = page.locator('article[data-kind="staff"]');
    expect(await staff.textContent()).toContain("then revoke the old one");
    expect(await staff.textContent()).toContain("Public reply");

    await page
      .getByLabel("Note for the team")
      .fill("Customer is on the legacy key format; watch for follow-ups.");
    await page.getByRole("button", { name: "Add internal note" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Internal note added.");
    const note = page.locator('article[data-kind="note"]');
    expect(await note.textContent()).toContain("legacy key format");
    expect(await note.textContent()).toContain("not sent to the customer");

    await page.getByLabel("Kind").selectOption("docs");
    await page.getByLabel("Title").fill("Document zero-downtime key rotation");
    await page.getByRole("button", { name: "Link improvement" }).click();
    await expect
      .poll(() => page.locator("#improvements").textContent())
      .toContain("zero-downtime key rotation");
    expect(await page.locator(".badge.st-pending").first().textContent()).toBe("pending");
    await shot("ticket");
  });

  it("resolves it; the customer answers the survey; the four metrics change", async () => {
    await page.goto(`${desk.url}/metrics`);
    expect(await metric("first-response-count")).toBe("1");
    expect(await metric("resolution-count")).toBe("0");
    expect(await metric("effort-responses")).toBe("0");
    expect(await metric("improvements-linked")).toBe("0");

    await page.goto(`${desk.url}/tickets/${tickets.howto}`);
    await page.getByRole("button", { name: "Resolve ticket" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Ticket updated.");
    expect(await page.locator(".badge.st-resolved").first().textContent()).toBe("resolved");
    const system = await page.locator('article[data-kind="system"]').allTextContents();
    const link = system.join("\n").match(/https?:\/\/\S+\/survey\/[A-Za-z0-9_-]+/)?.[0];
    expect(link).toBeDefined();

    await page.goto(link ?? "");
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("How easy was it to get help?");
    await shot("survey", false);
    await page.getByLabel("6", { exact: true }).check();
    await page.getByRole("button", { name: "Send" }).click();
    await expect.poll(() => page.getByRole("heading", { level: 1 }).textContent()).toBe("Thank you!");

    await page.goto(`${desk.url}/metrics`);
    expect(await metric("resolution-count")).toBe("1");
    expect(await metric("effort-responses")).toBe("1");
    expect(await metric("effort")).toBe("6.0 / 7");
    expect(await metric("improvements-linked")).toBe("1");
    expect(await metric("improvements")).toBe("100%");
    expect(await page.locator("svg[role=img]").count()).toBe(19);
    await shot("metrics");
  });

  it("signs out, and finds the answer in the public knowledge base", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/login$/);
    expect((await context.cookies()).some((c) => c.name === "__Host-sb_session")).toBe(false);
    await page.goto(`${desk.url}/queue`);
    expect(new URL(page.url()).pathname).toBe("/login");

    await page.goto(`${desk.url}/kb`);
    await page.getByLabel("Search", { exact: true }).fill("rotate keys");
    await page.getByRole("button", { name: "Search" }).click();
    await page.waitForURL(/\/kb\?q=/);
    const result = page.getByRole("link", { name: "How do I rotate API keys?" });
    expect(await result.count()).toBe(1);
    expect(await page.locator("mark").count()).toBeGreaterThan(0);
    await shot("kb");
    await result.click();
    expect(await page.locator("main").textContent()).toContain("then revoke the old one");
    expect(await page.locator("main").textContent()).not.toContain("legacy key format");
  });

  it("renders hostile subjects and email HTML inert", async () => {
    await page.goto(`${desk.url}/login`);
    await page.getByLabel("Agent token").fill(TOKEN);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/queue$/);
    await page.goto(`${desk.url}/tickets/${tickets.hostile}`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toContain(
      '<img src=x onerror="window.__xss = 3">',
    );
    await page.goto(`${desk.url}/tickets/${tickets.email}`);
    expect(await page.locator('article[data-kind="customer"] .body').textContent()).toContain(
      "spins forever",
    );
    await page.getByText("Show the formatted email").click();
    const frame = page.frameLocator("iframe");
    expect(await frame.locator("b").textContent()).toBe("export");
    expect(await page.locator("iframe").getAttribute("sandbox")).toBe("");
    expect(await page.getByRole("link", { name: "export.csv" }).count()).toBe(1);
    await page.waitForTimeout(300);
    expect(await page.evaluate("typeof window.__xss")).toBe("undefined");
    expect(dialogs).toEqual([]);
  });

  it('promises "next update in 4 hours" from the ticket page: the mail names the time, the page counts down', async () => {
    await page.goto(`${desk.url}/tickets/${tickets.email}`);
    await page.getByLabel("Reply to the customer").fill("We reproduced it and are working on a fix.");
    await page.getByLabel("in 4 hours").check();
    await page.getByRole("button", { name: "Send public reply" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toContain("Reply sent to the customer.");
    // SLA_TIME_SCALE (÷ 120) applies: 4 hours are 2 minutes here, and the reply names that time.
    const ticket = await api(`/v1/tickets/${tickets.email}`);
    const due = String(ticket.nextUpdateDueAt);
    const hhmm = due.slice(11, 16);
    const staff = page.locator('article[data-kind="staff"]').last();
    expect(await staff.textContent()).toContain(`We will send you our next update by ${hhmm} UTC.`);
    const clock = page.locator("#next-update-due time[data-countdown]");
    expect(await clock.getAttribute("datetime")).toBe(due);
    const before = await clock.textContent();
    expect(before).toMatch(/^due in (1m \d+s|2m 0s|\d+s)$/);
    await expect.poll(() => clock.textContent(), { timeout: 5000 }).not.toBe(before);
    // The mail as sent: wrangler writes what send_email sends to an .eml file and logs its path.
    const sentMail = async () => {
      const files = (desk.log().match(/\/\S+\.eml/g) ?? []).filter((file) => existsSync(file));
      const texts = await Promise.all(
        files.map(async (file) => (await PostalMime.parse(readFileSync(file))).text ?? ""),
      );
      return texts.filter((text) => text.includes("working on a fix"));
    };
    await expect.poll(async () => (await sentMail()).length, { timeout: 10_000 }).toBe(1);
    expect((await sentMail())[0]).toContain(`We will send you our next update by ${hhmm} UTC.`);
    await shot("ticket-promise");
  });

  it("puts the breached ticket first, filters on breach, and fits a phone screen", async () => {
    await expect
      .poll(async () => (await api(`/v1/tickets/${tickets.critical}`)).breached, {
        timeout: 45_000,
        interval: 1000,
      })
      .toBe(true);
    await page.goto(`${desk.url}/queue`);
    expect((await queueKeys())[0]).toBe(tickets.critical);
    expect(await page.locator(`tr[data-ticket="${tickets.critical}"]`).textContent()).toContain(
      "SLA breached",
    );
    expect(await page.locator(`tr[data-ticket="${tickets.critical}"] time`).textContent()).toMatch(
      /^overdue by/,
    );
    await shot("queue", false);
    await page.getByLabel("SLA").selectOption("true");
    await page.getByRole("button", { name: "Filter" }).click();
    await page.waitForURL(/breached=true/);
    expect(await queueKeys()).toEqual([tickets.critical]);

    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${desk.url}/queue`);
    expect(await overflowing()).toEqual([]);
    await shot("queue-phone", false);
    await page.goto(`${desk.url}/tickets/${tickets.critical}`);
    expect(await overflowing()).toEqual([]);
  });

  it("ran no script and loaded nothing the CSP refused", () => {
    expect(cspViolations).toEqual([]);
  });
});
