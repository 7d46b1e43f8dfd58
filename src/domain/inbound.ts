import { z } from "zod";
import { sha256Hex } from "./encoding";

export const CHANNELS = ["email", "slack", "github", "discord", "api"] as const;
export const channelSchema = z.enum(CHANNELS);
export type Channel = z.infer<typeof channelSchema>;

export const PRIORITIES = ["critical", "high", "normal", "low"] as const;
export const prioritySchema = z.enum(PRIORITIES);
export type Priority = z.infer<typeof prioritySchema>;

export const visibilitySchema = z.enum(["public", "private"]);
export type Visibility = z.infer<typeof visibilitySchema>;

/** The longest idempotency key, external id or thread key the desk stores (`boundedKey` hashes longer ones). */
export const MAX_KEY_LENGTH = 512;

const HASHED_KEY = /^sha256:[0-9a-f]{64}$/;

/**
 * A provider's id as the desk keys it: as it is when it fits MAX_KEY_LENGTH, else `sha256:<hex>`
 * of it. The same id always maps to the same key, so a long email Message-ID stored as a thread
 * key is found again when a reply's In-Reply-To or References names it.
 */
export async function boundedKey(id: string): Promise<string> {
  return id.length <= MAX_KEY_LENGTH ? id : `sha256:${await sha256Hex(id)}`;
}

/** A key `boundedKey` hashed: it names nothing outside the desk, so it is never sent out as an id. */
export function isHashedKey(key: string): boolean {
  return HASHED_KEY.test(key);
}

export const partySchema = z.object({
  name: z.string().max(200).optional(),
  email: z.string().max(320).optional(),
  handle: z.string().max(200).optional(),
});
export type Party = z.infer<typeof partySchema>;

export const inboundAttachmentSchema = z.object({
  filename: z.string(),
  contentType: z.string(),
  size: z.number().int().nonnegative(),
  /** Where the channel adapter already put the bytes (R2 object key). */
  storageKey: z.string(),
  contentId: z.string().optional(),
});
export type InboundAttachment = z.infer<typeof inboundAttachmentSchema>;

/**
 * The one shape every channel adapter hands to the intake pipeline.
 * Provider quirks stay in the adapters; from here on every channel is the same.
 */
export const inboundMessageSchema = z.object({
  channel: channelSchema,
  /** Per-channel idempotency key (Message-ID, event_id, X-GitHub-Delivery, interaction id, externalId). */
  idempotencyKey: z.string().min(1).max(MAX_KEY_LENGTH),
  /** The provider's own id of this message (Slack `ts`, GitHub comment id, Message-ID); defaults to the idempotency key. Edits and deletions find the message by it. */
  externalId: z.string().min(1).max(MAX_KEY_LENGTH).optional(),
  /** Thread keys in the order they should be tried; the first is the one a new ticket is opened under. */
  threadKeys: z.array(z.string().min(1).max(MAX_KEY_LENGTH)).max(50),
  /** Name of the rule behind each thread key ("in-reply-to", "references"…), recorded on the message. */
  threadKeyRules: z.array(z.string().max(40)).max(50).default([]),
  /** Further references a new ticket should answer to later (e.g. the email's own Message-ID). */
  extraThreadKeys: z.array(z.string().min(1).max(MAX_KEY_LENGTH)).max(50).default([]),
  /** Ticket numbers named in the message (e.g. a `[SUP-12]` subject token), tried after thread keys. */
  ticketReferences: z.array(z.number().int().positive()).max(10).default([]),
  /** Channel-specific address the message came in on: email recipient, Slack channel id, repository. */
  channelName: z.string().max(320).optional(),
  from: partySchema,
  /** Who sent it: a customer, or one of our own staff answering natively on the channel. */
  author: z.enum(["customer", "staff", "system", "community"]).default("customer"),
  /**
   * A `community` message that threads by the thread-key rule named here is the requester's own:
   * it is stored as the `customer`'s (Discord: the ticket's requester key in a thread).
   */
  customerByRule: z.string().max(40).optional(),
  subject: z.string().max(1000).optional(),
  text: z.string(),
  html: z.string().optional(),
  priority: prioritySchema.optional(),
  visibility: visibilitySchema.optional(),
  callbackUrl: z.string().url().optional(),
  /** Provider context used by routing and customer matching. */
  context: z
    .object({
      recipient: z.string().optional(),
      githubRepo: z.string().optional(),
      slackTeamId: z.string().optional(),
      slackChannel: z.string().optional(),
    })
    .default({}),
  /**
   * The thread keys only find an existing ticket; a new ticket does not answer to them (an email's
   * In-Reply-To may name someone else's newsletter). It answers to `extraThreadKeys` instead.
   */
  lookupOnlyThreadKeys: z.boolean().default(false),
  /** Loop protection: when this message threads nowhere, keep it in quarantine for this reason instead of opening a ticket. */
  quarantineReason: z.string().max(100).optional(),
  /** Ids (`externalId`s) of our own outbound messages this one reports as undeliverable. */
  bounceOf: z.array(z.string().max(MAX_KEY_LENGTH)).max(20).default([]),
  /** Where the adapter kept the raw message (R2 key). */
  rawStorageKey: z.string().max(512).optional(),
  /** Only thread into an existing ticket, never open one (e.g. a comment on a GitHub issue we do not track). */
  threadOnly: z.boolean().default(false),
  /**
   * An agent opened this ticket from quarantined mail (`POST /v1/quarantine/:id/promote`): the
   * quarantine row's id, marked with the new ticket in the same batch that creates it.
   */
  promotedFrom: z.string().max(100).optional(),
  /** The channel forbids an acknowledgement (loop protection, list mail, a promoted quarantined mail). */
  suppressAcknowledgement: z.boolean().default(false),
  /**
   * The channel could not verify who sent it (email: DMARC failed at the receiving server). The
   * sender's claimed address opens no customer's account and threads by no ticket token.
   */
  senderUnverified: z.boolean().default(false),
  attachments: z.array(inboundAttachmentSchema).default([]),
  receivedAt: z.number().int(),
});
export type InboundMessage = z.infer<typeof inboundMessageSchema>;
export type InboundMessageInput = z.input<typeof inboundMessageSchema>;
