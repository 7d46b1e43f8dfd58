import type { InboundMessageInput } from "../../domain/inbound";
import { subjectTicketTokens } from "../../domain/ticket";
import type { LoopReason } from "./loop";
import type { ParsedEmail } from "./parse";

/** The inbound schema's limit on thread keys. */
const MAX_THREAD_KEYS = 50;

export interface NormaliseEmailInput {
  parsed: ParsedEmail;
  idempotencyKey: string;
  envelopeFrom: string;
  recipient: string;
  text: string;
  html: string | undefined;
  loop: LoopReason | null;
  /** Mailing-list mail from a person: a ticket like any other, never acknowledged. */
  listMail: boolean;
  /**
   * The receiving server says the From address failed DMARC: whoever sent it may not be who it
   * says. No `[SUP-n]` threading, no customer matching, no acknowledgement (SPEC §3).
   */
  senderUnverified?: boolean;
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
 * At most MAX_THREAD_KEYS keys are tried; the walk stops there, and de-duplicates with a set, so
 * a References header of thousands of ids costs one pass.
 */
export function normaliseEmail(input: NormaliseEmailInput): InboundMessageInput {
  const { parsed } = input;
  const own = parsed.messageId;
  const seen = new Set<string>(own === undefined ? [] : [own]);
  const keys: string[] = [];
  const rules: string[] = [];
  const add = (key: string | undefined, rule: string) => {
    if (key === undefined || seen.has(key)) return;
    seen.add(key);
    keys.push(key);
    rules.push(rule);
  };
  add(parsed.inReplyTo, "in-reply-to");
  for (let i = parsed.references.length - 1; i >= 0 && keys.length < MAX_THREAD_KEYS; i--) {
    add(parsed.references[i], "references");
  }
  if (input.loop === "bounce") {
    for (const id of input.quoted) if (keys.length < MAX_THREAD_KEYS) add(id, "bounced-original");
  }
  const subject = parsed.subject.trim();
  return {
    channel: "email",
    idempotencyKey: input.idempotencyKey,
    externalId: own ?? input.idempotencyKey,
    threadKeys: keys,
    threadKeyRules: rules,
    lookupOnlyThreadKeys: true,
    extraThreadKeys: own === undefined ? [] : [own],
    ticketReferences:
      input.senderUnverified === true ? [] : [...new Set(subjectTicketTokens(subject))].slice(0, 10),
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
    suppressAcknowledgement: input.loop !== null || input.listMail || input.senderUnverified === true,
    senderUnverified: input.senderUnverified === true,
    ...(input.loop === null ? {} : { quarantineReason: input.loop }),
    bounceOf: input.loop === "bounce" ? input.quoted.slice(0, 20) : [],
    rawStorageKey: input.rawStorageKey,
    attachments: input.attachments,
    receivedAt: input.receivedAt,
  };
}
