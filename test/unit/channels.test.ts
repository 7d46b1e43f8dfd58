import { describe, expect, it } from "vitest";
import { discordFollowupKey, discordFollowupOf } from "../../src/channels/discord/keys";
import { githubIssueKey, githubIssueOf, parseGithubIssueKey } from "../../src/channels/github/keys";
import { commentAuthor, isCriticalLabel } from "../../src/channels/github/normalise";
import { verifyGithubSignature } from "../../src/channels/github/verify";

const bytes = (text: string) => new Uint8Array(new TextEncoder().encode(text));

describe("GitHub signature (docs test vector)", () => {
  const secret = "It's a Secret to Everybody";
  const body = bytes("Hello, World!");
  const signature = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

  it("accepts the documented signature, in either case", async () => {
    expect(await verifyGithubSignature(secret, body, signature)).toEqual({ ok: true });
    expect(
      await verifyGithubSignature(secret, body, signature.toUpperCase().replace("SHA256", "sha256")),
    ).toEqual({
      ok: true,
    });
  });

  it.each([
    ["another body", secret, bytes("Hello, World"), signature, "bad_signature"],
    ["another secret", "nope", body, signature, "bad_signature"],
    ["a sha1 header", secret, body, "sha1=0123", "bad_signature"],
    ["a truncated digest", secret, body, signature.slice(0, -2), "bad_signature"],
    ["no header", secret, body, null, "missing_signature"],
    ["no secret", "", body, signature, "not_configured"],
  ])("rejects %s", async (_name, key, payload, header, reason) => {
    expect(await verifyGithubSignature(key, payload, header)).toEqual({ ok: false, reason });
  });
});

describe("GitHub normalising", () => {
  it("thread keys are lower-cased repository#number and parse back", () => {
    expect(githubIssueKey("Codertocat/Hello-World", 1)).toBe("codertocat/hello-world#1");
    expect(parseGithubIssueKey("codertocat/hello-world#1")).toEqual({
      repo: "codertocat/hello-world",
      issue: 1,
    });
    expect(parseGithubIssueKey("interaction:123")).toBeNull();
    expect(githubIssueOf(["followup:1:2:x", "acme/new#7", "acme/old#3"])).toEqual({
      repo: "acme/new",
      issue: 7,
    });
  });

  it.each([
    ["OWNER", "User", "Codertocat", "staff"],
    ["MEMBER", "User", "m", "staff"],
    ["COLLABORATOR", "User", "c", "staff"],
    ["CONTRIBUTOR", "User", "c", "customer"],
    ["NONE", "User", "n", "customer"],
    ["NONE", "Bot", "desk[bot]", "staff"],
    ["NONE", "Bot", "dependabot[bot]", "system"],
  ])("a %s %s (%s) is %s", (association, type, login, expected) => {
    expect(commentAuthor({ author_association: association, user: { login, type } }, ["Desk[bot]"])).toBe(
      expected,
    );
  });

  it("critical labels match case-insensitively", () => {
    expect(isCriticalLabel("p0", ["critical", "P0", "sev1"])).toBe(true);
    expect(isCriticalLabel(" SEV1 ", ["critical", "P0", "sev1"])).toBe(true);
    expect(isCriticalLabel("p1", ["critical", "P0", "sev1"])).toBe(false);
  });
});

describe("Discord follow-up keys", () => {
  it("the newest live follow-up wins", () => {
    const keys = [
      discordFollowupKey("42", 1000, "old.token"),
      "interaction:9",
      discordFollowupKey("42", 2000, "a:b"),
    ];
    expect(discordFollowupOf(keys)).toEqual({ applicationId: "42", expiresAt: 2000, token: "a:b" });
    expect(discordFollowupOf(["interaction:9"])).toBeNull();
  });
});
