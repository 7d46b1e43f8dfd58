import { describe, expect, it } from "vitest";
import { classify, containsKeyword } from "../../src/domain/classify";
import { DEFAULT_CONFIG } from "../../src/domain/config";

describe("containsKeyword", () => {
  it.each([
    ["Production down since 09:00", "production down", true],
    ["production\n  down again", "production down", true],
    ["we hit a P0 today", "p0", true],
    ["order P02 shipped", "p0", false],
    ["CVE-2024-1234 affects you", "cve", true],
    ["cvent is a company", "cve", false],
    ["lots of 5xx errors", "5xx", true],
    ["", "outage", false],
    ["anything", "   ", false],
    ["regex chars (a+b)* matter", "(a+b)*", true],
  ])("%j contains %j: %s", (text, keyword, expected) => {
    expect(containsKeyword(text, keyword)).toBe(expected);
  });
});

describe("classify", () => {
  const config = DEFAULT_CONFIG;

  it("a critical keyword in the subject makes the message critical", () => {
    expect(classify({ subject: "Outage in eu-west", text: "help" }, config)).toMatchObject({
      priority: "critical",
      priorityReason: "keyword",
      criticalKeyword: "outage",
      security: false,
    });
  });

  it("the caller's explicit priority wins over keywords", () => {
    expect(classify({ text: "production down", priority: "low" }, config)).toMatchObject({
      priority: "low",
      priorityReason: "caller",
    });
  });

  it("plain messages are normal", () => {
    expect(classify({ text: "How do I rotate a key?" }, config)).toMatchObject({
      priority: "normal",
      priorityReason: "default",
      security: false,
    });
  });

  it("security keywords are flagged independently of priority", () => {
    expect(classify({ text: "Found a vulnerability in login; also production down" }, config)).toMatchObject({
      priority: "critical",
      security: true,
      securityKeyword: "vulnerability",
    });
  });
});
