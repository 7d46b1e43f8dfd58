import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { textOfSanitised } from "../../src/channels/email/html";
import { cutUtf8, utf8Length } from "../../src/channels/email/limits";
import { isListMail, loopReason } from "../../src/channels/email/loop";
import { normaliseEmail } from "../../src/channels/email/normalise";
import type { ParsedEmail } from "../../src/channels/email/parse";
import { boundedKey, isHashedKey, MAX_KEY_LENGTH } from "../../src/domain/inbound";

const encoder = new TextEncoder();

describe("UTF-8 limits", () => {
  it("utf8Length is TextEncoder's byte length, surrogates and all", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (text) => {
        expect(utf8Length(text)).toBe(encoder.encode(text).byteLength);
      }),
    );
  });

  it("cutUtf8 keeps the longest prefix that fits, never half a character", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 200 }), fc.nat(400), (text, max) => {
        const cut = cutUtf8(text, max);
        expect(text.startsWith(cut)).toBe(true);
        expect(encoder.encode(cut).byteLength).toBeLessThanOrEqual(max);
        expect(cut).not.toMatch(/[\uD800-\uDBFF]$/);
        const next = text.slice(cut.length).codePointAt(0);
        if (next !== undefined) {
          expect(encoder.encode(cut + String.fromCodePoint(next)).byteLength).toBeGreaterThan(max);
        }
      }),
    );
    expect(cutUtf8("aé✓😀", 6)).toBe("aé✓");
  });
});

describe("over-long ids", () => {
  it("are kept as they are up to 512 characters and hashed beyond, the same way every time", async () => {
    const fits = "x".repeat(MAX_KEY_LENGTH);
    expect(await boundedKey(fits)).toBe(fits);
    const long = `${"y".repeat(590)}@example.org`;
    const key = await boundedKey(long);
    expect(key).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await boundedKey(long)).toBe(key);
    expect(isHashedKey(key)).toBe(true);
    expect(isHashedKey("sha256:abc@example.org")).toBe(false);
  });
});

describe("list mail", () => {
  const headers = (h: Record<string, string>) => (name: string) => h[name];
  it.each([
    [{ "list-id": "<team.groups.example>" }, true],
    [{ "list-unsubscribe": "<mailto:x@y>" }, true],
    [{ precedence: " List " }, true],
    [{ precedence: "bulk" }, false],
    [{}, false],
  ])("%j is list mail: %s", (h, expected) => {
    expect(isListMail(headers(h))).toBe(expected);
  });

  it("is not a loop reason, but bulk, junk and auto_reply are", () => {
    const reason = (h: Record<string, string>) =>
      loopReason({
        header: headers(h),
        from: "a@b.c",
        envelopeFrom: "a@b.c",
        contentType: undefined,
        ourAddresses: [],
      });
    expect(reason({ "list-id": "<l>", precedence: "list", "list-unsubscribe": "<u>" })).toBeNull();
    for (const p of ["bulk", "junk", "auto_reply"]) expect(reason({ precedence: p })).toBe("precedence");
  });
});

function parsed(fields: Partial<ParsedEmail>): ParsedEmail {
  return {
    messageId: "own@example.org",
    inReplyTo: undefined,
    references: [],
    subject: "s",
    from: { address: "a@example.org" },
    text: "t",
    html: undefined,
    attachments: [],
    header: () => undefined,
    contentType: undefined,
    malformed: false,
    ...fields,
  };
}

describe("normaliseEmail threading keys", () => {
  const input = (p: ParsedEmail, listMail = false) =>
    normaliseEmail({
      parsed: p,
      idempotencyKey: p.messageId ?? "k",
      envelopeFrom: "",
      recipient: "support@example.com",
      text: "t",
      html: undefined,
      loop: null,
      listMail,
      quoted: [],
      attachments: [],
      rawStorageKey: "mail/in/x.eml",
      receivedAt: 0,
    });

  it("In-Reply-To, then the newest 50 distinct References, never the mail's own id", () => {
    const references = Array.from({ length: 100_000 }, (_, i) => `r${i % 70_000}@x`);
    references.push("own@example.org", "parent@x");
    const started = performance.now();
    const message = input(parsed({ inReplyTo: "parent@x", references }));
    // Linear: 100,000 references take milliseconds (the old `includes` loop was quadratic).
    expect(performance.now() - started).toBeLessThan(1000);
    expect(message.threadKeys).toHaveLength(50);
    expect(message.threadKeys?.slice(0, 3)).toEqual(["parent@x", "r29999@x", "r29998@x"]);
    expect(new Set(message.threadKeys).size).toBe(50);
    expect(message.threadKeyRules?.slice(0, 2)).toEqual(["in-reply-to", "references"]);
  });

  it("list mail is a customer message that is not acknowledged and not quarantined", () => {
    const message = input(parsed({}), true);
    expect(message).toMatchObject({ author: "customer", suppressAcknowledgement: true });
    expect(message.quarantineReason).toBeUndefined();
  });
});

describe("text of sanitised HTML", () => {
  it.each([
    [
      "<p>Hello&nbsp;team,</p><p>It <b>fails</b> &amp; stops.</p><ul><li>one</li><li>two</li></ul>",
      "Hello team,\n\nIt fails & stops.\n\n• one\n• two",
    ],
    ['<b title="a > b">bold</b> and <a title=it\'s href="https://x">link</a> 1 < 2', "bold and link 1 < 2"],
    ["<!DOCTYPE html><div>a<br>b</div><hr>c", "a\nb\n\nc"],
    ["</ 3>x<p", "x"],
  ])("%j → %j", (html, text) => {
    expect(textOfSanitised(html)).toBe(text);
  });
});
