import { describe, expect, it } from "vitest";
import {
  normaliseSlackEvent,
  normaliseSlackInteraction,
  parseSlackThreadKey,
  slackUnescape,
} from "../../src/channels/slack/normalise";
import blockActionsForm from "../fixtures/corpus/slack/block_actions.form-encoded.txt?raw";
import blockActions from "../fixtures/corpus/slack/block_actions.json";
import botIdNewStyle from "../fixtures/corpus/slack/event_callback.message.bot_id_new_style.json";
import botMessage from "../fixtures/corpus/slack/event_callback.message.bot_message.json";
import extShared from "../fixtures/corpus/slack/event_callback.message.ext_shared_channel.json";
import fileShare from "../fixtures/corpus/slack/event_callback.message.file_share.json";
import inThread from "../fixtures/corpus/slack/event_callback.message.in_thread_dm.json";
import messageChanged from "../fixtures/corpus/slack/event_callback.message.message_changed.json";
import plain from "../fixtures/corpus/slack/event_callback.message.plain.json";
import jsonLogs from "../fixtures/corpus/slack/jsonlogs_sample.events.MessagePayload.json";
import urlVerification from "../fixtures/corpus/slack/url_verification.json";

const ctx = { ourTeamId: "T0DESK", receivedAt: 1_700_000_000_000 };

describe("normaliseSlackEvent", () => {
  it("a plain top-level message is a customer message keyed by event_id, threaded by channel + ts", () => {
    const result = normaliseSlackEvent(plain, ctx);
    expect(result).toMatchObject({
      kind: "message",
      files: [],
      message: {
        channel: "slack",
        idempotencyKey: "Ev111",
        externalId: "1596183880.004200",
        threadKeys: ["C111:1596183880.004200"],
        threadKeyRules: ["ts"],
        channelName: "C111",
        author: "customer",
        from: { name: "W111", handle: "W111" },
        text: "Hello World!",
        context: { slackTeamId: "T111", slackChannel: "C111" },
        receivedAt: ctx.receivedAt,
      },
    });
  });

  it("a thread reply is threaded by channel + thread_ts, and the author's team is user_team", () => {
    const result = normaliseSlackEvent(inThread, ctx);
    expect(result).toMatchObject({
      kind: "message",
      message: {
        threadKeys: ["D111:1726133698.626339"],
        threadKeyRules: ["thread_ts"],
        externalId: "1726133700.887259",
        context: { slackTeamId: "T111" },
      },
    });
  });

  it("a member of our own workspace is staff", () => {
    const result = normaliseSlackEvent(plain, { ...ctx, ourTeamId: "T111" });
    expect(result).toMatchObject({ kind: "message", message: { author: "staff" } });
  });

  it("without SLACK_TEAM_ID nobody is staff", () => {
    const result = normaliseSlackEvent(plain, { ...ctx, ourTeamId: undefined });
    expect(result).toMatchObject({ kind: "message", message: { author: "customer" } });
  });

  it.each([
    ["subtype bot_message", botMessage, "bot_message"],
    ["bot_id with no subtype", botIdNewStyle, "bot_message"],
    ["our own app (bot_profile.app_id = api_app_id)", extShared, "own_bot"],
  ])("%s is ignored", (_label, fixture, reason) => {
    expect(normaliseSlackEvent(fixture, ctx)).toMatchObject({ kind: "ignored", reason });
  });

  it("message_changed finds the message by previous_message.ts (the new message has none)", () => {
    expect(normaliseSlackEvent(messageChanged, ctx)).toEqual({
      kind: "change",
      change: {
        channel: "slack",
        idempotencyKey: "Ev111",
        threadKeys: ["C111:1665102338.901939"],
        externalId: "1665102338.901939",
        change: { type: "edit", text: "updated message" },
      },
    });
  });

  it("message_changed with the same text (an unfurl, thread bookkeeping) is not an edit", () => {
    const unfurl = structuredClone(messageChanged);
    unfurl.event.message.text = unfurl.event.previous_message.text;
    expect(normaliseSlackEvent(unfurl, ctx)).toMatchObject({ kind: "ignored", reason: "unchanged" });
  });

  it("a file share keeps name, type, size and url_private, under a deterministic storage key", () => {
    const result = normaliseSlackEvent(fileShare, ctx);
    expect(result).toMatchObject({
      kind: "message",
      files: [
        {
          storageKey: "slack/T111/F111",
          filename: "file.png",
          contentType: "image/png",
          size: 92582,
          urlPrivate: "https://files.slack.com/files-pri/T111-F111/file.png",
          permalink: "https://xxx.slack.com/files/U111/F111/file.png",
        },
      ],
      message: {
        attachments: [
          { filename: "file.png", contentType: "image/png", size: 92582, storageKey: "slack/T111/F111" },
        ],
      },
    });
  });

  it("url_verification carries its challenge", () => {
    expect(normaliseSlackEvent(urlVerification, ctx)).toEqual({
      kind: "url_verification",
      challenge: "valid_challenge_token",
    });
  });

  it("a payload of blank strings is ignored, not a crash", () => {
    expect(normaliseSlackEvent(jsonLogs, ctx)).toMatchObject({
      kind: "ignored",
      reason: "unsupported_event",
    });
  });

  it("a message event without channel is invalid", () => {
    const broken = structuredClone(plain) as { event: Record<string, unknown> };
    delete broken.event.channel;
    expect(normaliseSlackEvent(broken, ctx)).toMatchObject({ kind: "invalid" });
  });
});

describe("Slack text and thread keys", () => {
  it("unescapes Slack's three entities, &amp; last", () => {
    expect(slackUnescape("a &lt;b&gt; &amp;lt; c")).toBe("a <b> &lt; c");
  });

  it("a thread key splits at the first colon", () => {
    expect(parseSlackThreadKey("C111:1596183880.004200")).toEqual({
      channel: "C111",
      threadTs: "1596183880.004200",
    });
    expect(parseSlackThreadKey("no-colon")).toBeNull();
  });
});

describe("normaliseSlackInteraction", () => {
  it("the corpus form body decodes, and another app's button is not a claim", () => {
    expect(normaliseSlackInteraction(blockActionsForm)).toMatchObject({
      kind: "ignored",
      reason: "not_a_claim",
    });
  });

  it("a Claim click names the ticket, the clicker and the notice", () => {
    const payload = {
      ...blockActions,
      message: { ts: "111.222", text: "notice" },
      actions: [{ ...blockActions.actions[0], action_id: "claim", value: "SUP-42" }],
    };
    const form = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    expect(normaliseSlackInteraction(form)).toEqual({
      kind: "claim",
      ticketNumber: 42,
      user: { id: "W111", teamId: "T111", name: "primary-owner" },
      notice: { channel: "C111", ts: "111.222", text: "notice" },
    });
  });

  it("a body without payload is invalid", () => {
    expect(normaliseSlackInteraction("token=x")).toMatchObject({ kind: "invalid" });
  });
});
