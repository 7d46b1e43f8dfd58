import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import messageCommand from "../fixtures/corpus/discord/application_command.message_command.docs.json";
import slashCommand from "../fixtures/corpus/discord/application_command.slash.docs.json";
import minimalCommand from "../fixtures/corpus/discord/application_command.type2.discord-interactions-js.json";
import userCommand from "../fixtures/corpus/discord/application_command.user_command.docs.json";
import autocomplete from "../fixtures/corpus/discord/autocomplete.type4.discord-interactions-js.json";
import component from "../fixtures/corpus/discord/message_component.type3.discord-interactions-js.json";
import fileUploadJsonc from "../fixtures/corpus/discord/modal_submit.file_upload.docs.jsonc?raw";
import textInputJsonc from "../fixtures/corpus/discord/modal_submit.text_input.docs.jsonc?raw";
import ping from "../fixtures/corpus/discord/ping.type1.discord-interactions-js.json";
import { discordSignature, parseJsonc, postDiscord } from "./discord-helpers";
import {
  advanceTo,
  countRows,
  fakeOutbound,
  flush,
  getTicket as getTicketJson,
  request,
  type TicketJson,
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

const getTicket = async (key: string) =>
  (await getTicketJson(key)) as TicketJson & {
    subject: string;
    channel: string;
    requester: { name: string | null; handle: string | null };
  };

const TABLES = ["tickets", "messages", "idempotency_keys", "thread_keys"];
const counts = () => Promise.all(TABLES.map(countRows));

const APPLICATION_ID = "775799577604522054";
const CHANNEL_ID = "645027906669510667";
const MINUTE = 60_000;

let idSequence = 786_008_729_715_300_000n;
const nextId = () => String(++idSequence);

/** Interaction fields the docs' modal samples leave out (`...additionalInteractionFields`). */
function interactionFields(overrides: Record<string, unknown> = {}) {
  return {
    id: nextId(),
    application_id: APPLICATION_ID,
    token: `token-${unique("tok")}`,
    version: 1,
    guild_id: slashCommand.guild_id,
    channel_id: CHANNEL_ID,
    member: slashCommand.member,
    locale: "en-US",
    ...overrides,
  };
}

/** The docs' text-input modal submission, turned into our `/support` modal's answer. */
function supportSubmission(subject: string, description: string, overrides: Record<string, unknown> = {}) {
  const sample = parseJsonc(textInputJsonc) as {
    type: number;
    data: { components: Record<string, unknown>[] };
  };
  const label = sample.data.components[0] as { type: number; id: number; component: Record<string, unknown> };
  const field = (id: number, customId: string, value: string) => ({
    ...label,
    id,
    component: { ...label.component, id: id + 1, custom_id: customId, value },
  });
  return {
    ...sample,
    ...interactionFields({ id: nextId(), ...overrides }),
    data: {
      custom_id: "support_ticket",
      components: [field(1, "subject", subject), field(3, "description", description)],
    },
  };
}

function slash(options?: unknown[], overrides: Record<string, unknown> = {}) {
  return {
    ...slashCommand,
    id: nextId(),
    application_id: APPLICATION_ID,
    data: { ...slashCommand.data, name: "support", options },
    ...overrides,
  };
}

describe("POST /webhooks/discord: verification", () => {
  it("answers Discord's PING with a PONG", async () => {
    const result = await postDiscord(ping);
    expect(result.status).toBe(200);
    expect(result.body).toEqual({ type: 1 });
    expect(result.response.headers.get("content-type")).toContain("application/json");
  });

  it("rejects bad signatures with 401 and stores nothing, as Discord's probes expect", async () => {
    const before = await counts();
    const submission = supportSubmission("Login broken", "Since this morning.");
    const body = JSON.stringify(submission);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const otherKey = (await crypto.subtle.generateKey({ name: "Ed25519" }, false, [
      "sign",
      "verify",
    ])) as CryptoKeyPair;
    const cases = [
      { signature: "0".repeat(128) },
      { signature: "not hex" },
      { signature: await discordSignature(timestamp, `${body} `), timestamp },
      { signature: await discordSignature(String(Number(timestamp) - 1), body), timestamp },
      { key: otherKey.privateKey },
      { signature: null },
      { timestamp: null },
    ];
    for (const options of cases) {
      const result = await postDiscord(submission, { body, ...options });
      expect(result.status, JSON.stringify(options)).toBe(401);
    }
    // A PING with a bad signature is refused too (that is the probe).
    expect((await postDiscord(ping, { signature: "0".repeat(128) })).status).toBe(401);
    expect(await counts()).toEqual(before);
  });

  it("a body that is not JSON is 400; over 1 MiB is 413", async () => {
    expect((await postDiscord(null, { body: "{nope" })).status).toBe(400);
    expect((await postDiscord(null, { body: JSON.stringify({ type: "x" }) })).status).toBe(400);
    const big = JSON.stringify({ ...ping, padding: "x".repeat(1024 * 1024) });
    expect((await postDiscord(null, { body: big })).status).toBe(413);
  });
});

describe("/support", () => {
  it("opens a modal asking for a subject and a description", async () => {
    const result = await postDiscord(slash());
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      type: 9,
      data: { custom_id: "support_ticket", title: "Contact support" },
    });
    const fields = (result.body.data as { components: { type: number; component: { custom_id: string } }[] })
      .components;
    expect(fields.map((f) => [f.type, f.component.custom_id])).toEqual([
      [18, "subject"],
      [18, "description"],
    ]);
  });

  it("the modal's submission opens a public ticket on the same-day policy and answers with its key and deadline", async () => {
    advanceTo(Date.UTC(2030, 2, 5, 10, 0));
    const submission = supportSubmission("Bot stopped answering", "Our bot has not replied since 09:00.");
    const result = await postDiscord(submission);
    expect(result.status).toBe(200);
    expect(result.body.type).toBe(4);
    const content = (result.body.data as { content: string }).content;
    const key = /SUP-\d+/.exec(content)?.[0] as string;
    expect(content).toBe(
      `Thanks — we have your request as ${key}. We will reply by the end of today (Tue 5 Mar, 24:00 UTC).`,
    );
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({
      channel: "discord",
      subject: "Bot stopped answering",
      status: "open",
      policy: "discord",
      visibility: "public",
      escalationLevel: 1,
      team: "support",
      requester: { name: "Mason", handle: "Mason" },
      responseDueAt: "2030-03-06T00:00:00.000Z",
    });
    expect(ticket.messages.map((m) => [m.kind, m.text])).toEqual([
      ["customer", "Our bot has not replied since 09:00."],
      ["system", content],
    ]);
    // The interaction response was the acknowledgement: nothing else is sent for it.
    expect(ticket.messages[1]?.delivery).toEqual({ status: "sent", error: null });
  });

  it("a request in the last 4 hours of the day gets until the end of the next day", async () => {
    advanceTo(Date.UTC(2030, 2, 5, 21, 30));
    const result = await postDiscord(supportSubmission("Late one", "Evening problem."));
    const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
    expect((await getTicket(key)).responseDueAt).toBe("2030-03-07T00:00:00.000Z");
  });

  it("`/support text:…` files the text directly", async () => {
    const result = await postDiscord(
      slash([{ type: 3, name: "text", value: "Webhooks are 10 minutes late" }]),
    );
    expect(result.body.type).toBe(4);
    const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({ subject: "Webhooks are 10 minutes late", policy: "discord" });
  });

  it("the same interaction delivered twice is one ticket", async () => {
    const submission = supportSubmission("Twice", "Delivered twice.");
    const first = await postDiscord(submission);
    const before = await counts();
    const again = await postDiscord(submission);
    expect(again.status).toBe(200);
    const key = /SUP-\d+/.exec((first.body.data as { content: string }).content)?.[0] as string;
    expect((again.body.data as { content: string }).content).toContain(key);
    expect(await counts()).toEqual(before);
  });

  it("inside a thread, a second /support joins the thread's ticket", async () => {
    const thread = { channel_id: "1100000000000000001", channel: { id: "1100000000000000001", type: 11 } };
    const first = await postDiscord(supportSubmission("Thread problem", "First report.", thread));
    const key = /SUP-\d+/.exec((first.body.data as { content: string }).content)?.[0] as string;
    const second = await postDiscord(supportSubmission("Thread problem", "More detail.", thread));
    expect((second.body.data as { content: string }).content).toMatch(new RegExp(`^Added to ${key}\\.`));
    const ticket = await getTicket(key);
    expect(ticket.messages.filter((m) => m.kind === "customer").map((m) => m.text)).toEqual([
      "First report.",
      "More detail.",
    ]);
  });

  it("an empty description is refused with an ephemeral message", async () => {
    const before = await counts();
    const result = await postDiscord(supportSubmission("Subject only", "   "));
    expect(result.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(await counts()).toEqual(before);
  });
});

describe("agent replies on Discord", () => {
  async function openAt(at: number) {
    advanceTo(at);
    const submission = supportSubmission("Need help", "Please help.");
    const result = await postDiscord(submission);
    const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
    return { key, token: submission.token };
  }

  it("within the interaction token's lifetime a reply is a follow-up message", async () => {
    const out = fakeOutbound((call) =>
      call.host === "discord.fake" ? Response.json({ id: "990001" }) : new Response(null, { status: 204 }),
    );
    const t0 = Date.UTC(2030, 4, 1, 12, 0);
    const { key, token } = await openAt(t0);
    advanceTo(t0 + 5 * MINUTE);
    await request(`/v1/tickets/${key}/replies`, {
      method: "POST",
      json: { text: "Restart the bot, please." },
    });
    await flush(key);
    const calls = out.to("discord.fake").filter((c) => c.url.includes(token));
    expect(calls.map((c) => [c.method, new URL(c.url).pathname])).toEqual([
      ["POST", `/api/v10/webhooks/${APPLICATION_ID}/${token}`],
    ]);
    expect(calls[0]?.body).toEqual({
      content: `**${key}** Restart the bot, please.`,
      allowed_mentions: { parse: [] },
    });
    const ticket = await getTicket(key);
    expect(ticket.status).toBe("pending");
    expect(ticket.messages.at(-1)?.delivery).toEqual({ status: "sent", error: null });
  });

  it("after the token expires a reply is a channel message with the bot token", async () => {
    const out = fakeOutbound((call) =>
      call.host === "discord.fake" ? Response.json({ id: "990002" }) : new Response(null, { status: 204 }),
    );
    const t0 = Date.UTC(2030, 4, 2, 12, 0);
    const { key } = await openAt(t0);
    advanceTo(t0 + 20 * MINUTE);
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Any news?" } });
    await flush(key);
    const call = out
      .to("discord.fake")
      .find(
        (c) => c.url.endsWith(`/channels/${CHANNEL_ID}/messages`) && JSON.stringify(c.body).includes(key),
      );
    expect(call?.headers.get("authorization")).toBe("Bot discord-bot-test-token");
    expect(call?.body).toEqual({ content: `**${key}** Any news?`, allowed_mentions: { parse: [] } });
  });

  it("a follow-up refused as expired falls back to the channel", async () => {
    const out = fakeOutbound((call) => {
      if (call.url.includes("/webhooks/"))
        return Response.json({ message: "Unknown Webhook" }, { status: 404 });
      return call.host === "discord.fake"
        ? Response.json({ id: "990003" })
        : new Response(null, { status: 204 });
    });
    const t0 = Date.UTC(2030, 4, 3, 12, 0);
    const { key, token } = await openAt(t0);
    advanceTo(t0 + MINUTE);
    await request(`/v1/tickets/${key}/replies`, { method: "POST", json: { text: "Fallback" } });
    await flush(key);
    const mine = out
      .to("discord.fake")
      .filter((c) => c.url.includes(token) || JSON.stringify(c.body).includes(key));
    expect(mine.map((c) => new URL(c.url).pathname)).toEqual([
      `/api/v10/webhooks/${APPLICATION_ID}/${token}`,
      `/api/v10/channels/${CHANNEL_ID}/messages`,
    ]);
    expect((await getTicket(key)).messages.at(-1)?.delivery).toEqual({ status: "sent", error: null });
  });
});

describe("other interactions", () => {
  it("the message command turns a message into a ticket for its author; again on the same message finds it", async () => {
    const invocation = {
      ...messageCommand,
      id: nextId(),
      data: { ...messageCommand.data, name: "Open support ticket" },
    };
    const result = await postDiscord(invocation);
    expect(result.body.type).toBe(4);
    const key = /SUP-\d+/.exec((result.body.data as { content: string }).content)?.[0] as string;
    const ticket = await getTicket(key);
    expect(ticket).toMatchObject({
      channel: "discord",
      subject: "some message",
      requester: { handle: "ian" },
    });
    const before = await counts();
    const again = await postDiscord({ ...invocation, id: nextId(), token: "another-token" });
    expect((again.body.data as { content: string }).content).toContain(key);
    expect(await counts()).toEqual(before);
  });

  it.each([
    ["an unknown slash command (type2 sample)", minimalCommand],
    ["a user context-menu command", userCommand],
    ["the docs' cardsearch command", slashCommand],
  ])("%s gets an ephemeral answer and stores nothing", async (_name, payload) => {
    const before = await counts();
    const result = await postDiscord(payload);
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ type: 4, data: { flags: 64 } });
    expect(await counts()).toEqual(before);
  });

  it("a modal that is not ours (the docs' file-upload sample) gets an ephemeral answer", async () => {
    const sample = parseJsonc(fileUploadJsonc);
    const before = await counts();
    const result = await postDiscord({ ...sample, ...interactionFields({ id: nextId() }) });
    expect(result.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringContaining("not one") },
    });
    expect(await counts()).toEqual(before);
  });

  it("a component click is acknowledged without a change; autocomplete gets no choices", async () => {
    expect((await postDiscord(component)).body).toEqual({ type: 6 });
    expect((await postDiscord(autocomplete)).body).toEqual({ type: 8, data: { choices: [] } });
  });
});
