import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CHROMIUM, CHROMIUM_ARGS, type Desk, freePort, startDesk } from "./desk";

/**
 * The live console (SPEC §15) in Chromium against a real local desk: two agents in two browser
 * contexts see a new ticket arrive, see each other on it, see each other's replies without a
 * reload; a reply written without the newest message is refused; times are in the agent's zone;
 * bulk resolve sends every survey. Screenshots go to docs/screenshots with SCREENSHOTS=1.
 */

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const SHOTS =
  process.env.SCREENSHOTS === "1"
    ? path.join(ROOT, "docs", "screenshots")
    : mkdtempSync(path.join(tmpdir(), "switchboard-live-shots-"));
/** SPEC §15: a change shows on the other pages within 2 s. */
const LIVE_MS = 2000;

let desk: Desk;
let browser: Browser;
const contexts: BrowserContext[] = [];
let alice: Page;
let bob: Page;
const cspViolations: string[] = [];
let receiver: Server;
let receiverUrl = "";
const callbacks: { ticket: string; kind: string; text: string }[] = [];

async function api(pathname: string, body?: unknown, method = body === undefined ? "GET" : "POST") {
  const response = await fetch(`${desk.url}${pathname}`, {
    method,
    headers: { authorization: "Bearer dev-token-alice", "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${pathname}: ${response.status} ${await response.text()}`);
  return (await response.json()) as Record<string, unknown>;
}

let sequence = 0;
async function openTicket(subject: string, extra: Record<string, unknown> = {}): Promise<string> {
  sequence += 1;
  const result = await api("/v1/messages", {
    externalId: `live-${sequence}`,
    from: { name: "Rita Customer", email: "rita@shop.example" },
    subject,
    text: `${subject}: please help.`,
    ...extra,
  });
  return String(result.ticket);
}

async function agentPage(token: string, options: { timezoneId?: string } = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
    timezoneId: options.timezoneId ?? "UTC",
  });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  await page.goto(`${desk.url}/login`);
  await page.getByLabel("Agent token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.waitForURL(/\/queue$/);
  await live(page);
  return page;
}

/** The page's socket is open (the script marks the body). */
async function live(page: Page) {
  await page.waitForSelector("body[data-live-state=open]", { timeout: 10_000 });
}

async function staffReplies(key: string): Promise<string[]> {
  const ticket = await api(`/v1/tickets/${key}`);
  return (ticket.messages as { kind: string; text: string }[])
    .filter((m) => m.kind === "staff")
    .map((m) => m.text);
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  const port = await freePort();
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => {
      body += chunk.toString();
    });
    req.on("end", () => {
      try {
        callbacks.push(JSON.parse(body) as { ticket: string; kind: string; text: string });
      } catch {
        // not JSON: not ours
      }
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(port, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${port}/callbacks`;
  desk = await startDesk();
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  alice = await agentPage("dev-token-alice");
  bob = await agentPage("dev-token-bob");
}, 120_000);

afterAll(async () => {
  for (const context of contexts) await context.close();
  await browser?.close();
  await desk?.stop();
  await new Promise<void>((resolve) =>
    receiver === undefined ? resolve() : receiver.close(() => resolve()),
  );
  if (process.env.SCREENSHOTS !== "1") rmSync(SHOTS, { recursive: true, force: true });
});

describe("the live console: two agents at once", () => {
  let key = "";

  it("a ticket created through the API appears in both queues without a reload", async () => {
    await alice.evaluate("window.__notReloaded = true");
    await bob.evaluate("window.__notReloaded = true");
    key = await openTicket("Payments page shows a blank screen", { callbackUrl: receiverUrl });
    const row = `tr[data-ticket="${key}"]`;
    await Promise.all([
      alice.waitForSelector(row, { timeout: LIVE_MS }),
      bob.waitForSelector(row, { timeout: LIVE_MS }),
    ]);
    expect(await alice.evaluate("window.__notReloaded")).toBe(true);
    expect(await bob.evaluate("window.__notReloaded")).toBe(true);
    expect(await alice.locator("#queue-count").textContent()).toContain("1 ticket");
    // A second one re-counts the page.
    await openTicket("Second ticket for the count");
    await expect
      .poll(() => bob.locator("#queue-count").textContent(), { timeout: LIVE_MS })
      .toContain("2 tickets");
  });

  it("both open it and see each other's presence", async () => {
    await alice.goto(`${desk.url}/tickets/${key}`);
    await bob.goto(`${desk.url}/tickets/${key}`);
    await Promise.all([live(alice), live(bob)]);
    await expect.poll(() => alice.locator("#presence").textContent(), { timeout: LIVE_MS }).toContain("bob");
    await expect.poll(() => bob.locator("#presence").textContent(), { timeout: LIVE_MS }).toContain("alice");
    expect(await alice.locator("#presence").textContent()).not.toContain("alice");
  });

  it("shows who is writing a reply", async () => {
    await bob.getByLabel("Reply to the customer").pressSequentially("We restarted the payments worker");
    await expect
      .poll(() => alice.locator("#presence").textContent(), { timeout: LIVE_MS })
      .toContain("bob (writing a reply…)");
  });

  it("one replies and the other's page shows it within 2 s; the other's stale reply is refused, visibly", async () => {
    await bob.evaluate("window.__notReloaded = true");
    await alice.getByLabel("Reply to the customer").fill("Alice here: a fix is rolling out now.");
    await alice.getByRole("button", { name: "Send public reply" }).click();
    await alice.waitForURL(/done=reply/);
    const arrived = bob.locator('article[data-kind="staff"]', { hasText: "a fix is rolling out now" });
    await arrived.waitFor({ timeout: LIVE_MS });
    expect(await bob.evaluate("window.__notReloaded")).toBe(true);
    // Bob had started writing before it arrived: the page says so, and his draft is untouched.
    expect(await bob.locator("#live-notice").textContent()).toContain("from alice");
    expect(await bob.getByLabel("Reply to the customer").inputValue()).toBe(
      "We restarted the payments worker",
    );

    await bob.getByRole("button", { name: "Send public reply" }).click();
    const notice = bob.locator("#collision");
    await notice.waitFor();
    expect(await notice.getAttribute("role")).toBe("alert");
    expect(await notice.textContent()).toContain("Not sent");
    expect(await notice.textContent()).toContain("alice");
    expect(await notice.textContent()).toContain("a fix is rolling out now");
    expect(await staffReplies(key)).toEqual(["Alice here: a fix is rolling out now."]);
    await live(bob);
    await expect.poll(() => bob.locator("#presence").textContent(), { timeout: LIVE_MS }).toContain("alice");
    await bob.locator("#collision").scrollIntoViewIfNeeded();
    await bob.screenshot({ path: path.join(SHOTS, "live-collision.png"), fullPage: false });

    // A deliberate "send anyway" sends it.
    expect(await bob.getByLabel("Reply to the customer").inputValue()).toBe(
      "We restarted the payments worker",
    );
    await bob.getByRole("button", { name: "Send anyway" }).click();
    await bob.waitForURL(/done=reply/);
    expect(await staffReplies(key)).toEqual([
      "Alice here: a fix is rolling out now.",
      "We restarted the payments worker",
    ]);
    await alice
      .locator('article[data-kind="staff"]', { hasText: "We restarted" })
      .waitFor({ timeout: LIVE_MS });
  });

  it("updates the ticket's clocks and status live", async () => {
    await api(`/v1/tickets/${key}`, { status: "open" }, "PATCH");
    await expect
      .poll(() => alice.locator("#ticket-badges .badge.st-open").count(), { timeout: LIVE_MS })
      .toBe(1);
    expect(await alice.locator("#reply-due time[data-countdown]").count()).toBe(1);
  });

  it("shows times in the agent's own zone (Asia/Tokyo), UTC in the title, countdowns too", async () => {
    const tokyo = await agentPage("dev-token-alice", { timezoneId: "Asia/Tokyo" });
    await tokyo.goto(`${desk.url}/tickets/${key}`);
    const first = tokyo.locator("#conversation time[data-local]").first();
    const iso = (await first.getAttribute("datetime")) ?? "";
    const expected = new Intl.DateTimeFormat("en-US", {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
      timeZoneName: "short",
      timeZone: "Asia/Tokyo",
    }).format(new Date(iso));
    expect(expected).toContain("GMT+9");
    await expect.poll(() => first.textContent()).toBe(expected);
    expect(await first.getAttribute("title")).toBe(`${iso.slice(0, 16).replace("T", " ")} UTC`);
    expect(await tokyo.locator("footer [data-zone]").textContent()).toContain("Asia/Tokyo");
    expect(await tokyo.locator("#reply-due time[data-countdown]").getAttribute("title")).toContain("GMT+9");
    // The UTC page (server text) differs from the Tokyo page by nine hours.
    const utcText = await alice.locator("#conversation time[data-local]").first().textContent();
    expect(utcText).toContain("UTC");
  });

  it("bulk resolve of three tickets sends three surveys", async () => {
    const keys = [
      await openTicket("Bulk one", { callbackUrl: receiverUrl }),
      await openTicket("Bulk two", { callbackUrl: receiverUrl }),
      await openTicket("Bulk three", { callbackUrl: receiverUrl }),
    ];
    await alice.goto(`${desk.url}/queue`);
    await live(alice);
    for (const k of keys) await alice.locator(`#select-${k}`).check();
    await alice.getByRole("button", { name: "Resolve selected" }).click();
    await alice.waitForURL(/bulk=resolved/);
    expect(await alice.getByRole("status").first().textContent()).toContain("3 ticket(s) resolved");
    for (const k of keys) expect((await api(`/v1/tickets/${k}`)).status).toBe("resolved");
    await expect
      .poll(
        () =>
          callbacks
            .filter((c) => c.kind === "survey" && keys.includes(c.ticket))
            .map((c) => c.ticket)
            .sort(),
        {
          timeout: 15_000,
        },
      )
      .toEqual([...keys].sort());
  });

  it("bulk assign and the Mine view", async () => {
    const mine = await openTicket("Assign me");
    await bob.goto(`${desk.url}/queue`);
    await live(bob);
    await bob.locator(`#select-${mine}`).check();
    await bob.getByLabel("Assign to").selectOption("bob");
    await bob.getByRole("button", { name: "Assign selected" }).click();
    await bob.waitForURL(/bulk=assigned/);
    await bob.getByRole("link", { name: /^Mine/ }).click();
    await bob.waitForURL(/mine=1/);
    const rows = await bob
      .locator("tr[data-ticket]")
      .evaluateAll((r) => r.map((e) => e.getAttribute("data-ticket")));
    expect(rows).toEqual([mine]);
    expect(await bob.locator(".shortcuts").textContent()).toContain("next / previous ticket");
    await bob.screenshot({ path: path.join(SHOTS, "queue-mine.png"), fullPage: false });
  });

  it("ran no script the CSP refused", () => {
    expect(cspViolations).toEqual([]);
  });
});

describe("without JavaScript", () => {
  it("the queue and a ticket work as before, and a stale reply is still refused", async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, locale: "en-US" });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${desk.url}/login`);
    await page.getByLabel("Agent token").fill("dev-token-bob");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForURL(/\/queue$/);
    const key = await openTicket("No script here");
    await page.goto(`${desk.url}/tickets/${key}`);
    await api(`/v1/tickets/${key}/replies`, { text: "Alice answered first" });
    await page.getByLabel("Reply to the customer").fill("Bob, without script");
    await page.getByRole("button", { name: "Send public reply" }).click();
    expect(await page.locator("#collision").textContent()).toContain("Alice answered first");
    await page.getByRole("button", { name: "Send anyway" }).click();
    await page.waitForURL(/done=reply/);
    expect(await staffReplies(key)).toEqual(["Alice answered first", "Bob, without script"]);
    expect(await page.locator("#conversation time").first().textContent()).toContain("UTC");
  });
});
