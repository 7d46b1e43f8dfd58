import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ConsoleBrowser, parseHtml } from "./console-helpers";
import {
  fakeOutbound,
  flush,
  getTicket,
  postMessage,
  request,
  TEST_CONFIG,
  unique,
  useConfig,
} from "./helpers";

beforeEach(async () => {
  await useConfig();
});
afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

const KiB = 1024;
const CALLBACK = "https://hooks.customer.test/cb";

type Problem = { status: number; detail?: string; issues?: { path: string; message: string }[] };

async function newTicket(body: Record<string, unknown> = {}): Promise<string> {
  const { response, body: json } = await postMessage({ subject: unique("Subject"), ...body });
  expect(response.status).toBe(202);
  return json.ticket as string;
}

/** A body that arrives in chunks with no Content-Length: the limit must count what it reads. */
function chunked(text: string): ReadableStream<Uint8Array> {
  const bytes = new TextEncoder().encode(text);
  let offset = 0;
  return new ReadableStream({
    pull(controller) {
      if (offset >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(offset, offset + 64 * KiB));
      offset += 64 * KiB;
    },
  });
}

describe("body limits", () => {
  it("PUT /v1/config over 1 MiB is a 413 problem, with or without Content-Length; the old document stays", async () => {
    const padded = JSON.stringify({ ...TEST_CONFIG, criticalKeywords: ["x".repeat(1024 * KiB)] });
    const sized = await request("/v1/config", {
      method: "PUT",
      body: padded,
      headers: { "content-type": "application/json" },
    });
    expect(sized.status).toBe(413);
    expect(sized.headers.get("content-type")).toContain("application/problem+json");
    expect(((await sized.json()) as Problem).detail).toContain("1048576 bytes");
    const streamed = await request("/v1/config", {
      method: "PUT",
      body: chunked(padded),
      headers: { "content-type": "application/json" },
      // @ts-expect-error workerd wants duplex for a streamed request body
      duplex: "half",
    });
    expect(streamed.status).toBe(413);
    const stored = (await (await request("/v1/config")).json()) as { criticalKeywords: string[] };
    expect(stored.criticalKeywords).toEqual(TEST_CONFIG.criticalKeywords);
  });

  it("ticket commands take the largest valid reply, even \\u-escaped, and refuse more than 512 KiB", async () => {
    const key = await newTicket();
    // 64 Ki characters, each sent as a 6-byte \u escape (what Python's json.dumps does): 384 KiB.
    const text = "é".repeat(64 * KiB);
    const escaped = `{"text":"${"\\u00e9".repeat(64 * KiB)}","internal":true}`;
    const ok = await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      body: escaped,
      headers: { "content-type": "application/json" },
    });
    expect(ok.status).toBe(201);
    expect(((await ok.json()) as { message: { text: string } }).message.text).toBe(text);
    const huge = await request(`/v1/tickets/${key}`, {
      method: "PATCH",
      body: JSON.stringify({ assignee: "a".repeat(600 * KiB) }),
      headers: { "content-type": "application/json" },
    });
    expect(huge.status).toBe(413);
    expect(huge.headers.get("content-type")).toContain("application/problem+json");
    expect((await getTicket(key)).assignee).toBeNull();
  });

  it("the survey form over 4 KiB is a 413 page and counts as no answer", async () => {
    const out = fakeOutbound();
    const key = await newTicket({ callbackUrl: CALLBACK });
    expect(
      (await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fixed." } })).status,
    ).toBe(201);
    expect(
      (await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } })).status,
    ).toBe(200);
    await flush(key);
    const survey = out.about(key).find((c) => (c.body as { kind: string }).kind === "survey")?.body as {
      url: string;
    };
    const path = new URL(survey.url).pathname;
    const form = (score: string, padding = "") =>
      request(path, {
        method: "POST",
        token: null,
        body: new URLSearchParams({ score, padding }),
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
    const tooLarge = await form("6", "p".repeat(5 * KiB));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.headers.get("content-type")).toContain("text/html");
    expect(await tooLarge.text()).toContain("too large");
    expect((await form("6")).status).toBe(200);
  });

  it("a console reply of 64 Ki non-Latin characters fits the form limit; a larger form is a 413 page", async () => {
    const browser = new ConsoleBrowser();
    const csrf = await browser.signIn();
    const key = await newTicket();
    // 64 Ki three-byte characters, percent-encoded by the browser: 576 KiB on the wire.
    const longest = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      text: "語".repeat(64 * KiB),
      internal: "true",
    });
    expect(longest.status).toBe(303);
    expect((await getTicket(key)).messages.some((m) => m.kind === "note" && m.text.length === 64 * KiB)).toBe(
      true,
    );
    const over = await browser.post(`/tickets/${key}/replies`, {
      _csrf: csrf,
      text: "語".repeat(80 * KiB),
      internal: "true",
    });
    expect(over.status).toBe(413);
    expect(await over.text()).toContain("Form too large");
  });
});

describe("bounded configuration", () => {
  it("an oversized document is a 400 listing every list over its bound; the old one stays", async () => {
    const teams = Array.from({ length: 201 }, (_, i) => ({ id: `team-${i}`, name: `Team ${i}` }));
    const document = {
      ...TEST_CONFIG,
      teams: [...teams, ...TEST_CONFIG.teams],
      customers: [
        {
          id: "big",
          name: "Big",
          tier: "standard",
          emailDomains: Array.from({ length: 51 }, (_, i) => `d${i}.example`),
          slackTeamIds: Array.from({ length: 21 }, (_, i) => `T${i}`),
        },
      ],
      routes: [{ team: "support", when: { keywords: Array.from({ length: 51 }, (_, i) => `kw${i}`) } }],
      criticalKeywords: Array.from({ length: 201 }, (_, i) => `crit${i}`),
      timezone: "X".repeat(65),
      paging: { unknownSenderPagesPerHour: 61 },
    };
    const response = await request("/v1/config", { method: "PUT", json: document });
    expect(response.status).toBe(400);
    const paths = ((await response.json()) as Problem).issues?.map((i) => i.path) ?? [];
    expect(paths).toEqual(
      expect.arrayContaining([
        "teams",
        "customers.0.emailDomains",
        "customers.0.slackTeamIds",
        "routes.0.when.keywords",
        "criticalKeywords",
        "timezone",
        "paging.unknownSenderPagesPerHour",
      ]),
    );
    const stored = (await (await request("/v1/config")).json()) as { teams: unknown[] };
    expect(stored.teams).toHaveLength(TEST_CONFIG.teams.length);
  });

  it("paging.unknownSenderPagesPerHour is validated and defaults to 3", async () => {
    for (const bad of [-1, 2.5, "3", null]) {
      const response = await request("/v1/config", {
        method: "PUT",
        json: { ...TEST_CONFIG, paging: { unknownSenderPagesPerHour: bad } },
      });
      expect(response.status, String(bad)).toBe(400);
    }
    const unknownKey = await request("/v1/config", {
      method: "PUT",
      json: { ...TEST_CONFIG, paging: { pagesPerHour: 3 } },
    });
    expect(unknownKey.status).toBe(400);
    const stored = (await (await request("/v1/config")).json()) as { paging: unknown };
    expect(stored.paging).toEqual({ unknownSenderPagesPerHour: 3 });
  });
});

describe("knowledge-base queries", () => {
  async function publishedAnswer(word: string): Promise<string> {
    const key = await newTicket({
      subject: `Printer ${word} jams`,
      text: `The ${word} printer jams`,
      visibility: "public",
    });
    expect(
      (
        await request(`/v1/tickets/${key}/replies`, {
          method: "POST",
          json: { text: `Clean the ${word} roller.` },
        })
      ).status,
    ).toBe(201);
    expect(
      (await request(`/v1/tickets/${key}`, { method: "PATCH", json: { status: "resolved" } })).status,
    ).toBe(200);
    return key;
  }

  it("/v1/search ignores words under 2 characters and past the first 8, and says which", async () => {
    const word = unique("toner").replace(/[^a-z0-9]/g, "");
    const key = await publishedAnswer(word);
    const search = async (q: string) => {
      const response = await request(`/v1/search?q=${encodeURIComponent(q)}`, { token: null });
      expect(response.status, q).toBe(200);
      return (await response.json()) as { results: { key: string }[]; ignoredTerms: string[] };
    };
    const short = await search(`${word} a 7 é`);
    expect(short.results.map((r) => r.key)).toEqual([key]);
    expect(short.ignoredTerms).toEqual(["a", "7", "é"]);
    // Only short words: nothing to search for, so nothing found (not an error).
    expect(await search("a b c")).toEqual({ results: [], ignoredTerms: ["a", "b", "c"] });
    // Eight words are searched (all must match); the ninth on is left out, repeats count once.
    const nine = await search(`${word} ${word} printer jams the roller clean ${word} printer zz yy xx`);
    expect(nine.ignoredTerms).toEqual(["xx"]);
    expect(nine.results).toEqual([]);
    const eight = await search(`${word} printer jams the roller clean ${word} qqq9`);
    expect(eight.ignoredTerms).toEqual([]);
    const long = await request(`/v1/search?q=${"q".repeat(201)}`, { token: null });
    expect(long.status).toBe(400);
    expect(((await long.json()) as Problem).issues?.[0]?.path).toBe("q");
  });

  it("/kb shows which words were left out and refuses a query over 200 characters with a page", async () => {
    const word = unique("drum").replace(/[^a-z0-9]/g, "");
    const key = await publishedAnswer(word);
    const browser = new ConsoleBrowser();
    const found = await browser.get(`/kb?q=${encodeURIComponent(`${word} x`)}`);
    expect(found.response.status).toBe(200);
    expect(found.html).toContain(`/kb/${key}`);
    expect(found.html).toContain("Left out of the search: x.");
    const long = await browser.get(`/kb?q=${"q".repeat(201)}`);
    expect(long.response.status).toBe(400);
    expect(long.html).toContain("at most 200 characters");
  });
});

describe("the queue's subject filter and D1's 50-byte LIKE limit", () => {
  it.each([
    ["48 ASCII bytes", "a".repeat(48), 200],
    ["49 ASCII bytes", "a".repeat(49), 400],
    ["24 two-byte characters (48 bytes)", "é".repeat(24), 200],
    ["25 two-byte characters (50 bytes, 25 characters)", "é".repeat(25), 400],
    ["16 three-byte characters (48 bytes)", "€".repeat(16), 200],
    ["17 three-byte characters (51 bytes)", "€".repeat(17), 400],
    ["12 four-byte characters (48 bytes)", "🔥".repeat(12), 200],
    ["24 escaped % (48 bytes)", "%".repeat(24), 200],
    ["25 escaped _ (50 bytes)", "_".repeat(25), 400],
  ])("GET /v1/tickets?q= with %s → %i", async (_, q, status) => {
    const response = await request(`/v1/tickets?q=${encodeURIComponent(q)}`);
    expect(response.status).toBe(status);
    if (status === 400) {
      expect(response.headers.get("content-type")).toContain("application/problem+json");
      const issue = ((await response.json()) as Problem).issues?.find((i) => i.path === "q");
      expect(issue?.message).toContain("50 bytes");
      expect(issue?.message).toContain("at most 48 bytes");
    } else {
      await response.body?.cancel();
    }
  });

  it("a multi-byte q finds its ticket; the console's queue page names the limit for a longer one", async () => {
    const marker = unique("ü").replace(/[^a-zü0-9]/g, "");
    const key = await newTicket({ subject: `Überweisung ${marker} fehlgeschlagen` });
    const found = (await (
      await request(`/v1/tickets?q=${encodeURIComponent(`Überweisung ${marker}`)}`)
    ).json()) as {
      tickets: { key: string }[];
    };
    expect(found.tickets.map((t) => t.key)).toEqual([key]);

    const browser = new ConsoleBrowser();
    await browser.signIn();
    const page = await browser.get(`/queue?q=${encodeURIComponent("Überweisung ".repeat(5))}`);
    expect(page.response.status).toBe(400);
    const alert = (await parseHtml(page.html)).elements.find((e) => e.attrs.role === "alert");
    expect(alert?.text).toContain("D1 refuses a LIKE pattern over 50 bytes");
    const ok = await browser.get(`/queue?q=${encodeURIComponent(marker)}`);
    expect(ok.response.status).toBe(200);
    expect(ok.html).toContain(key);
  });
});
