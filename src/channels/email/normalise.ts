import type { InboundMessageInput } from "../../domain/inbound";
import { subjectTicketTokens } from "../../domain/ticket";
import type { LoopReason } from "./loop";
import type { ParsedEmail } from "./parse";

export interface NormaliseEmailInput {
  parsed: ParsedEmail;
  idempotencyKey: string;
  envelopeFrom: string;
  recipient: string;
  text: string;
  html: string | undefined;
  loop: LoopReason | null;
  /** Message-IDs quoted inside the mail (a bounce's original). */
  quoted: string[];
  attachments: InboundMessageInput["attachments"];
  rawStorageKey: string;
  receivedAt: number;
}

/**
 * Threading order (SPEC §3): In-Reply-To, then References newest first, against every Message-ID
 * the ticket has received or sent; then `[SUP-n]` subject tokens, which the pipeline accepts only
 * from the ticket's requester or the same customer. A bounce also tries the Message-IDs it quotes.
 */
export function normaliseEmail(input: NormaliseEmailInput): InboundMessageInput {
  const { parsed } = input;
  const own = parsed.messageId;
  const keys: string[] = [];
  const rules: string[] = [];
  const add = (key: string | undefined, rule: string) => {
    if (key === undefined || key === own || keys.includes(key)) return;
    keys.push(key);
    rules.push(rule);
  };
  add(parsed.inReplyTo, "in-reply-to");
  for (const ref of [...parsed.references].reverse()) add(ref, "references");
  if (input.loop === "bounce") for (const id of input.quoted) add(id, "bounced-original");
  const subject = parsed.subject.trim();
  return {
    channel: "email",
    idempotencyKey: input.idempotencyKey,
    externalId: own ?? input.idempotencyKey,
    threadKeys: keys.slice(0, 50),
    threadKeyRules: rules.slice(0, 50),
    lookupOnlyThreadKeys: true,
    extraThreadKeys: own === undefined ? [] : [own],
    ticketReferences: [...new Set(subjectTicketTokens(subject))].slice(0, 10),
    channelName: input.recipient,
    from: {
      ...(parsed.from.name ? { name: parsed.from.name.slice(0, 200) } : {}),
      ...(parsed.from.address || input.envelopeFrom
        ? { email: (parsed.from.address ?? input.envelopeFrom).slice(0, 320) }
        : {}),
    },
    author: input.loop === null ? "customer" : "system",
    ...(subject === "" ? {} : { subject: subject.slice(0, 1000) }),
    text: input.text,
    ...(input.html === undefined ? {} : { html: input.html }),
    context: { recipient: input.recipient },
    suppressAcknowledgement: input.loop !== null,
    ...(input.loop === null ? {} : { quarantineReason: input.loop }),
    bounceOf: input.loop === "bounce" ? input.quoted.slice(0, 20) : [],
    rawStorageKey: input.rawStorageKey,
    attachments: input.attachments,
    receivedAt: input.receivedAt,
  };
}
