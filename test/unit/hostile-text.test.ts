import { describe, expect, it, vi } from "vitest";
import {
  buildMime,
  isHeaderAddress,
  isMessageId,
  type OutboundEmail,
  sendEmail,
} from "../../src/channels/email/mime";
import { writtenByOurBot } from "../../src/channels/github/normalise";
import { securityFlipKeyword } from "../../src/domain/classify";
import { securityFlipNotice, slackLine } from "../../src/domain/escalation";

const MAIL: OutboundEmail = {
  from: "support@example.com",
  fromName: "Support",
  to: "ann@example.org",
  replyTo: "support@example.com",
  subject: "Re: Cannot export [SUP-1]",
  text: "Hello",
  messageId: "ours-1@example.com",
  inReplyTo: "theirs-1@mail.example.org",
  references: ["theirs-0@mail.example.org", "theirs-1@mail.example.org"],
  autoSubmitted: false,
};

/** The header block of a built message, one entry per header (folded lines joined). */
function headers(raw: string): string[] {
  const block = raw.slice(0, raw.indexOf("\r\n\r\n"));
  return block.split(/\r\n(?![ \t])/);
}

describe("outbound MIME headers are validated", () => {
  it("a clean mail keeps its threading headers", () => {
    const h = headers(buildMime(MAIL));
    expect(h).toContain("To: <ann@example.org>");
    expect(h).toContain("In-Reply-To: <theirs-1@mail.example.org>");
    expect(h).toContain("References: <theirs-0@mail.example.org>\r\n <theirs-1@mail.example.org>");
  });

  it.each([
    "ann@example.org\r\nBcc: evil@attacker.test",
    "ann@example.org\nBcc: evil@attacker.test",
    "ann@example.org>, <evil@attacker.test",
    "ann@example.org,evil@attacker.test",
    "ann example@example.org",
    "<ann@example.org>",
    '"ann"@example.org',
    "ann@",
    "@example.org",
    "ann@exa mple.org",
    "ann@-example.org",
    "ann@example..org",
    "ann@@example.org",
    "",
  ])("To %j is refused: nothing is built", (to) => {
    expect(isHeaderAddress(to)).toBe(false);
    expect(() => buildMime({ ...MAIL, to })).toThrow(/To address/);
  });

  it.each(["ann@example.org", "a.b+tag@sub.example.co.uk", "jörg@bücher.example", "o'brien@example.ie"])(
    "To %j is an address",
    (to) => {
      expect(isHeaderAddress(to)).toBe(true);
      expect(headers(buildMime({ ...MAIL, to }))).toContain(`To: <${to}>`);
    },
  );

  it("a forged From or Reply-To is refused", () => {
    expect(() => buildMime({ ...MAIL, from: "support@example.com\r\nX-Evil: 1" })).toThrow(/From/);
    expect(() => buildMime({ ...MAIL, replyTo: "a@b.example>\r\nBcc: <c@d.example" })).toThrow(/Reply-To/);
  });

  it("an In-Reply-To or References id with a line break, space or angle bracket is left out", () => {
    const hostile = [
      "x@y>\r\nBcc: <evil@attacker.test",
      "with space@example.org",
      "a>b@example.org",
      "c<d@example.org",
      "tab\t@example.org",
      "ünïcode@example.org",
    ];
    for (const id of hostile) expect(isMessageId(id), id).toBe(false);
    const raw = buildMime({
      ...MAIL,
      inReplyTo: hostile[0],
      references: ["good@example.org", ...hostile, "no-at-sign-but-fine"],
    });
    const h = headers(raw);
    expect(h.some((line) => line.startsWith("In-Reply-To"))).toBe(false);
    expect(h).toContain("References: <good@example.org>\r\n <no-at-sign-but-fine>");
    expect(raw).not.toMatch(/^Bcc:/im);
    expect(raw).not.toContain("evil@attacker.test");
  });

  it("sendEmail refuses an unsafe mail for good, without calling the binding", async () => {
    const send = vi.fn();
    const outcome = await sendEmail(
      { EMAIL: { send } as unknown as SendEmail },
      { ...MAIL, to: "ann@example.org\r\nBcc: evil@attacker.test" },
    );
    expect(outcome).toEqual({
      ok: false,
      retryable: false,
      error: "not sent: the To address is not a valid address",
    });
    expect(send).not.toHaveBeenCalled();
  });
});

describe("slackLine: customer text on one line of a Slack notice", () => {
  it.each([
    ["line breaks of every kind", "a\nb\r\nc\u2028d\u2029e\u0085f\vg\fh", "a b c d e f g h"],
    [
      "a mention of everyone",
      "<!channel> <!here|here> <!everyone>",
      "&lt;!channel&gt; &lt;!here|here&gt; &lt;!everyone&gt;",
    ],
    ["a user mention", "<@U0ALICE>", "&lt;@U0ALICE&gt;"],
    ["a link with a label", "<https://evil.example|click>", "&lt;https://evil.example|click&gt;"],
    ["a quote at the start of a line", "> quoted", "&gt; quoted"],
    ["bare special mentions", "@here @channel @Everyone", "@\u2060here @\u2060channel @\u2060Everyone"],
    ["entities already escaped", "&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"],
    ["bidi overrides", "abc\u202edef\u2066g", "abcdefg"],
    ["other control characters", "a\u0000b\u001bc\u007fd", "a b c d"],
  ])("%s", (_name, input, output) => {
    expect(slackLine(input)).toBe(output);
  });

  it("the security notice escapes what it quotes and names the public channel", () => {
    const notice = securityFlipNotice(
      { teams: [{ id: "security", name: "Security", slackChannel: "C0SEC" }] },
      {
        key: "SUP-9",
        link: "https://desk.test/tickets/SUP-9",
        subject: "Hi\n<!channel>",
        team: "support",
        channel: "github",
        keyword: "exploit",
        what: "follow-up",
        wasPublic: true,
      },
    );
    expect(notice?.to).toBe("C0SEC");
    expect(notice?.text).not.toMatch(/\n|<!channel>/);
    expect(notice?.text).toContain("still public on GitHub");
  });
});

describe("writtenByOurBot", () => {
  it.each<[string, Parameters<typeof writtenByOurBot>[0], string[], boolean]>([
    ["a configured login", { user: { login: "My-Desk[bot]", type: "Bot" } }, ["my-desk[bot]"], true],
    ["a person named like the app", { user: { login: "my-desk", type: "User" } }, ["my-desk[bot]"], false],
    [
      "an app bot, nothing configured",
      { user: { login: "my-desk[bot]", type: "Bot" }, performed_via_github_app: { slug: "my-desk" } },
      [],
      true,
    ],
    ["a Bot without its app", { user: { login: "my-desk[bot]", type: "Bot" } }, [], false],
    ["a person, nothing configured", { user: { login: "ann", type: "User" } }, [], false],
    ["a deleted user (ghost)", { user: null }, ["my-desk[bot]"], false],
  ])("%s", (_name, comment, botLogins, ours) => {
    expect(writtenByOurBot(comment, botLogins)).toBe(ours);
  });
});

describe("securityFlipKeyword", () => {
  const config = { securityKeywords: ["exploit", "cve"] };
  it("changes a public ticket, or a private one not yet security; never one that is both", () => {
    const text = { text: "an exploit" };
    expect(securityFlipKeyword({ visibility: "public", security: false }, text, config)).toBe("exploit");
    expect(securityFlipKeyword({ visibility: "public", security: true }, text, config)).toBe("exploit");
    expect(securityFlipKeyword({ visibility: "private", security: false }, text, config)).toBe("exploit");
    expect(securityFlipKeyword({ visibility: "private", security: true }, text, config)).toBeNull();
    expect(
      securityFlipKeyword({ visibility: "public", security: false }, { text: "cvent" }, config),
    ).toBeNull();
    expect(
      securityFlipKeyword({ visibility: "public", security: false }, { subject: "CVE-1", text: "" }, config),
    ).toBe("cve");
  });
});
