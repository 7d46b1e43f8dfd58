import fs from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  KB_MAX_TERMS,
  KB_MIN_TERM_CHARS,
  knowledgeBaseTerms,
  LIKE_PATTERN_MAX_BYTES,
  subjectPattern,
} from "../../src/domain/search";
import { RATE_LIMIT_PERIOD_SECONDS } from "../../src/http/rate-limit";
import { ftsQuery } from "../../src/store/knowledge-base";

const root = path.join(import.meta.dirname, "..", "..");

describe("the rate-limit budgets", () => {
  const toml = fs.readFileSync(path.join(root, "wrangler.toml"), "utf8");
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
  const binding = (name: string) => {
    const block = new RegExp(
      `name = "${name}"\\s+namespace_id = "\\d+"\\s+simple = \\{ limit = (\\d+), period = (\\d+) \\}`,
    ).exec(toml);
    if (block === null) throw new Error(`${name} is not in wrangler.toml`);
    return { limit: Number(block[1]), period: Number(block[2]) };
  };

  it.each([
    ["RATE_LIMIT_SIGNIN", 10, "10 failures per 60 s"],
    ["RATE_LIMIT_PUBLIC", 60, "60 requests per 60 s"],
  ])(
    "%s in wrangler.toml is the budget the README documents and Retry-After names",
    (name, limit, documented) => {
      expect(binding(name)).toEqual({ limit, period: RATE_LIMIT_PERIOD_SECONDS });
      expect(readme).toContain(documented);
    },
  );
});

describe("knowledge-base terms", () => {
  it("drops words under 2 characters, counts repeats once, keeps the first 8", () => {
    expect(knowledgeBaseTerms("a printer é jams printer PRINTER x")).toEqual({
      terms: ["printer", "jams"],
      ignored: ["a", "é", "x"],
    });
    const words = Array.from({ length: 10 }, (_, i) => `word${i}`);
    expect(knowledgeBaseTerms(words.join(" "))).toEqual({
      terms: words.slice(0, 8),
      ignored: words.slice(8),
    });
    expect(knowledgeBaseTerms("中文 a")).toEqual({ terms: ["中文"], ignored: ["a"] });
    expect(ftsQuery("a b c")).toBeNull();
    expect(ftsQuery('pri"nter x')).toBe('"pri"* "nter"*');
  });

  it("never searches more than 8 terms or a term under 2 characters, whatever the input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (q) => {
        const { terms } = knowledgeBaseTerms(q);
        expect(terms.length).toBeLessThanOrEqual(KB_MAX_TERMS);
        for (const term of terms) expect([...term].length).toBeGreaterThanOrEqual(KB_MIN_TERM_CHARS);
      }),
    );
  });
});

describe("the queue's LIKE pattern", () => {
  const bytes = (s: string) => new TextEncoder().encode(s).length;

  it("is ok exactly when the escaped %q% fits D1's 50 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 60 }), (q) => {
        const result = subjectPattern(q);
        const text = q.trim();
        const escaped = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        if (text === "") expect(result).toEqual({ ok: true, pattern: null });
        else if (bytes(escaped) <= LIKE_PATTERN_MAX_BYTES)
          expect(result).toEqual({ ok: true, pattern: escaped });
        else expect(result).toEqual({ ok: false, bytes: bytes(escaped) });
      }),
    );
  });

  it("counts bytes, not characters", () => {
    expect(subjectPattern("é".repeat(24)).ok).toBe(true);
    expect(subjectPattern("é".repeat(25))).toEqual({ ok: false, bytes: 52 });
    expect(subjectPattern("%".repeat(24))).toEqual({ ok: true, pattern: `%${"\\%".repeat(24)}%` });
  });
});
