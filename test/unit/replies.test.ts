import { describe, expect, it } from "vitest";
import type { EmailThreading, ReplyTarget } from "../../src/channels/contract";
import {
  discordFollowupKey,
  discordForumThreadKey,
  discordStartThreadKey,
} from "../../src/channels/discord/keys";
import { DISCORD_MAX_CONTENT, discordParts } from "../../src/channels/discord/reply";
import { emailSubject } from "../../src/channels/email/reply";
import { githubIssueKey } from "../../src/channels/github/keys";
import { hasReplyMarker } from "../../src/channels/github/reply";
import {
  customerDelivery,
  needsThreadKeys,
  noDeliveryReason,
  replyTargetOf,
} from "../../src/channels/outbound";
import { CHANNELS, type Channel } from "../../src/domain/inbound";

/** A ticket on `channel` with everything a reply could need; each test takes away what it checks. */
function target(channel: Channel, overrides: Partial<ReplyTarget> = {}): ReplyTarget {
  return {
    key: "SUP-7",
    channel,
    callbackUrl: null,
    subject: "Export fails",
    requesterName: "Ada",
    requesterEmail: null,
    channelName: null,
    threadKeys: [],
    ...overrides,
  };
}

const threading: EmailThreading = {
  messageId: "ours-1@example.com",
  inReplyTo: "theirs-2@acme.com",
  references: ["theirs-1@acme.com", "theirs-2@acme.com"],
  from: "billing@example.com",
  supportAddress: "support@example.com",
};

describe("replyTargetOf", () => {
  it("keeps only the columns a reply needs and names the ticket by its key", () => {
    const row = {
      number: 42,
      channel: "api" as const,
      callbackUrl: "https://hooks.acme.com/x",
      subject: "s",
      requesterName: null,
      requesterEmail: "a@acme.com",
      channelName: null,
      // A whole ticket row carries much more; none of it may leak into the target.
      visibility: "private",
      text: "secret",
    };
    expect(replyTargetOf(row, ["k"])).toEqual({
      key: "SUP-42",
      channel: "api",
      callbackUrl: "https://hooks.acme.com/x",
      subject: "s",
      requesterName: null,
      requesterEmail: "a@acme.com",
      channelName: null,
      threadKeys: ["k"],
    });
  });
});

describe("which channels need the ticket's thread keys to address a reply", () => {
  it.each([
    ["api", false],
    ["email", false],
    ["slack", true],
    ["github", true],
    ["discord", true],
  ] as const)("%s → %s", (channel, needed) => {
    expect(needsThreadKeys(channel)).toBe(needed);
  });

  it.each([
    ["api", "the integration gave no callbackUrl; the reply is on the ticket only"],
    ["email", "the ticket has no requester address"],
    ["slack", "the ticket has no Slack thread to reply in; the reply is on the ticket only"],
    ["github", "the ticket has no GitHub issue to comment on; the reply is on the ticket only"],
    ["discord", "the ticket has no Discord channel to reply in; the reply is on the ticket only"],
  ] as const)("a %s message that cannot leave says why: %s", (channel, reason) => {
    expect(noDeliveryReason(channel)).toBe(reason);
  });

  it("covers every channel", () => {
    expect([...CHANNELS].sort()).toEqual(["api", "discord", "email", "github", "slack"]);
  });
});

describe("api: the integration's callbackUrl", () => {
  it("POSTs { ticket, kind, text, url } to the callbackUrl, one outbox item per message, its webhook-id fixed", () => {
    const item = customerDelivery(target("api", { callbackUrl: "https://hooks.acme.com/cb" }), {
      kind: "survey",
      text: "How easy?",
      messageId: "m1",
      url: "https://desk/survey/t",
    });
    expect(item).toEqual({
      id: "msg:m1",
      messageId: "m1",
      label: "survey to the integration's callbackUrl",
      delivery: {
        service: "callback",
        url: "https://hooks.acme.com/cb",
        // Standard Webhooks `webhook-id`: composed once, so every attempt at this call carries it.
        webhookId: "msg_m1",
        body: { ticket: "SUP-7", kind: "survey", text: "How easy?", url: "https://desk/survey/t" },
      },
    });
  });

  it("without a callbackUrl nothing leaves (the acknowledgement is the 202 body)", () => {
    expect(customerDelivery(target("api"), { kind: "reply", text: "hi", messageId: "m" })).toBeNull();
  });
});

describe("email: a threaded reply to the requester", () => {
  const ticket = target("email", { requesterEmail: "ada@acme.com", subject: "Re: Export fails" });

  it("answers the latest customer mail, from the address they wrote to, with the key in the subject", () => {
    const item = customerDelivery(ticket, {
      kind: "reply",
      text: "Fixed.",
      messageId: "m2",
      email: threading,
    });
    expect(item?.delivery).toEqual({
      service: "email",
      mail: {
        from: "billing@example.com",
        fromName: "Support",
        to: "ada@acme.com",
        replyTo: "support@example.com",
        subject: "Re: Export fails [SUP-7]",
        text: "Fixed.",
        messageId: "ours-1@example.com",
        inReplyTo: "theirs-2@acme.com",
        references: ["theirs-1@acme.com", "theirs-2@acme.com"],
        autoSubmitted: false,
      },
    });
    expect(item?.label).toBe("reply email to ada@acme.com");
  });

  it.each([
    ["acknowledgement", true],
    ["survey", true],
    ["reply", false],
  ] as const)("a %s is Auto-Submitted: %s (RFC 3834: auto-responders stay quiet)", (kind, auto) => {
    const item = customerDelivery(ticket, { kind, text: "t", messageId: "m", email: threading });
    expect(item?.delivery.service === "email" && item.delivery.mail.autoSubmitted).toBe(auto);
  });

  it("leaves hashed ids (a Message-ID too long to keep) out of In-Reply-To and References", () => {
    const hashed = `sha256:${"ab".repeat(32)}`;
    const item = customerDelivery(ticket, {
      kind: "acknowledgement",
      text: "t",
      messageId: "m",
      email: { ...threading, inReplyTo: hashed, references: ["theirs-1@acme.com", hashed] },
    });
    expect(item?.delivery.service === "email" && item.delivery.mail).toMatchObject({
      references: ["theirs-1@acme.com"],
    });
    expect(item?.delivery.service === "email" && "inReplyTo" in item.delivery.mail).toBe(false);
  });

  it("puts a link on its own paragraph", () => {
    const item = customerDelivery(ticket, {
      kind: "survey",
      text: "How easy?",
      messageId: "m",
      url: "https://desk/survey/t",
      email: threading,
    });
    expect(item?.delivery.service === "email" && item.delivery.mail.text).toBe(
      "How easy?\n\nhttps://desk/survey/t",
    );
  });

  it("sends nothing without a requester address or without threading (no SUPPORT_ADDRESS)", () => {
    expect(
      customerDelivery(target("email"), { kind: "reply", text: "t", messageId: "m", email: threading }),
    ).toBeNull();
    expect(customerDelivery(ticket, { kind: "reply", text: "t", messageId: "m" })).toBeNull();
  });

  it.each([
    ["Export fails", "Re: Export fails [SUP-7]"],
    ["RE: Fwd: aw: Export fails", "Re: Export fails [SUP-7]"],
    ["Re: Export fails [SUP-7]", "Re: Export fails [SUP-7]"],
    ["   ", "Re: Your support request [SUP-7]"],
  ])("subject %j → %j", (subject, expected) => {
    expect(emailSubject(subject, "SUP-7")).toBe(expected);
  });
});

describe("slack: into the thread the ticket came from", () => {
  it("replies in the oldest thread key's channel and thread, Slack-escaped", () => {
    const item = customerDelivery(
      target("slack", { threadKeys: ["C9:1700000099.000200", "C1:1700000000.000100"] }),
      { kind: "reply", text: "Use <b> & retry", messageId: "m3" },
    );
    expect(item?.delivery).toEqual({
      service: "slack",
      body: { channel: "C1", text: "Use &lt;b&gt; &amp; retry", thread_ts: "1700000000.000100" },
    });
  });

  it("adds a link on its own line unless the text already has it", () => {
    const ticket = target("slack", { threadKeys: ["C1:1.2"] });
    const url = "https://desk/survey/t";
    const withLink = customerDelivery(ticket, { kind: "survey", text: "Rate us", messageId: "m", url });
    const already = customerDelivery(ticket, {
      kind: "survey",
      text: `Rate us: ${url}`,
      messageId: "m",
      url,
    });
    expect(withLink?.delivery.service === "slack" && withLink.delivery.body.text).toBe(`Rate us\n${url}`);
    expect(already?.delivery.service === "slack" && already.delivery.body.text).toBe(`Rate us: ${url}`);
  });

  it.each([[[]], [["no-colon"]], [[":1.2"]]])("sends nothing with thread keys %j", (threadKeys) => {
    expect(
      customerDelivery(target("slack", { threadKeys }), { kind: "reply", text: "t", messageId: "m" }),
    ).toBeNull();
  });
});

describe("github: a comment on the issue", () => {
  it("comments on the newest issue the ticket answers to, with the marker that hides our own echo", () => {
    const item = customerDelivery(
      target("github", { threadKeys: [githubIssueKey("Acme/New", 9), githubIssueKey("acme/old", 3)] }),
      { kind: "reply", text: "Released in 1.2", messageId: "m4", url: "https://x" },
    );
    expect(item?.delivery).toMatchObject({
      service: "github",
      repo: "acme/new",
      issue: 9,
      action: "comment",
    });
    const body = item?.delivery.service === "github" ? (item.delivery.body ?? "") : "";
    expect(body.startsWith("Released in 1.2\n\nhttps://x")).toBe(true);
    expect(hasReplyMarker(body)).toBe(true);
    expect(body).toContain("SUP-7");
  });

  it("sends nothing when the ticket has no issue key", () => {
    expect(
      customerDelivery(target("github", { threadKeys: ["not-an-issue"] }), {
        kind: "reply",
        text: "t",
        messageId: "m",
      }),
    ).toBeNull();
  });
});

describe("discord: the interaction's follow-up webhook, else the channel", () => {
  const later = discordFollowupKey("111", 2_000, "tok-new");
  const earlier = discordFollowupKey("111", 1_000, "tok-old");

  it("uses the longest-lived follow-up token and names the ticket in bold", () => {
    const item = customerDelivery(target("discord", { threadKeys: [earlier, later], channelName: "C77" }), {
      kind: "reply",
      text: "Try again",
      messageId: "m5",
    });
    expect(item?.delivery).toEqual({
      service: "discord",
      channelId: "C77",
      followup: { applicationId: "111", expiresAt: 2_000, token: "tok-new" },
      content: "**SUP-7** Try again",
    });
  });

  it("never sends an acknowledgement: it was the interaction's own response", () => {
    const ticket = target("discord", { threadKeys: [later], channelName: "C77" });
    expect(customerDelivery(ticket, { kind: "acknowledgement", text: "t", messageId: "m" })).toBeNull();
  });

  it("falls back to the channel without a token, and sends nothing with neither", () => {
    const channelOnly = customerDelivery(target("discord", { channelName: "C77" }), {
      kind: "reply",
      text: "t",
      messageId: "m",
    });
    expect(channelOnly?.delivery).toMatchObject({ channelId: "C77", followup: null });
    expect(customerDelivery(target("discord"), { kind: "reply", text: "t", messageId: "m" })).toBeNull();
  });
});

describe("discord: a Gateway ticket's thread", () => {
  it("acknowledges and replies in a forum post's thread, with a nonce for retries", () => {
    const ticket = target("discord", { threadKeys: [discordForumThreadKey("900")], channelName: "900" });
    const ack = customerDelivery(ticket, {
      kind: "acknowledgement",
      text: "We have it",
      messageId: "1234-5678",
    });
    expect(ack?.delivery).toEqual({
      service: "discord",
      channelId: "900",
      followup: null,
      content: "**SUP-7** We have it",
      startThread: null,
      nonce: "12345678",
    });
  });

  it("starts the thread on a support channel's message first (every time: starting it again is harmless)", () => {
    const ticket = target("discord", {
      threadKeys: [discordStartThreadKey("500", "901")],
      channelName: "901",
    });
    const reply = customerDelivery(ticket, { kind: "reply", text: "On it", messageId: "m1" });
    expect(reply?.delivery).toMatchObject({
      channelId: "901",
      startThread: { channelId: "500", messageId: "901", name: "SUP-7 Export fails" },
    });
  });
});

describe("discordParts: replies split at 2,000 characters", () => {
  it("keeps a short reply whole", () => {
    expect(discordParts("hello")).toEqual(["hello"]);
  });

  it("splits at a line break or space, every part within the limit, nothing lost", () => {
    const text = Array.from({ length: 300 }, (_, i) => `line ${i} with some words`).join("\n");
    const parts = discordParts(text);
    expect(parts.length).toBeGreaterThan(1);
    for (const part of parts) expect(part.length).toBeLessThanOrEqual(DISCORD_MAX_CONTENT);
    expect(parts.join("\n")).toBe(text);
  });

  it("never splits a surrogate pair, and cuts with a note past the last part", () => {
    const emoji = "😀".repeat(6000);
    const parts = discordParts(emoji);
    expect(parts).toHaveLength(5);
    for (const part of parts) {
      expect(part.length).toBeLessThanOrEqual(DISCORD_MAX_CONTENT);
      expect(part).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
    expect(parts.at(-1)).toContain("truncated: the full reply is on the ticket");
  });
});
