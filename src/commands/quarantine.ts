import { type Channel, channelSchema, type InboundMessageInput } from "../domain/inbound";
import { ticketKey } from "../domain/ticket";
import type { DeskEnv } from "../env";
import { intake } from "../intake";
import { database } from "../store/db";
import { getQuarantined, type QuarantineRow } from "../store/quarantine";
import { findThread } from "../store/tickets";

/**
 * How the channel that quarantined a message reads it again in full (email: the raw mail from R2,
 * with its HTML and attachments); null when only the stored row is left. Passed in by the caller
 * (`channels/registry` `rereadQuarantined`), so commands import no channel.
 */
export type Reread = (mail: QuarantineRow) => Promise<InboundMessageInput | null>;

export type PromoteResult =
  | {
      ok: true;
      ticket: string;
      ticketNumber: number;
      /** False when the message had been promoted already (a second call, or the loser of a race). */
      created: boolean;
    }
  | { ok: false; reason: "not_found" };

/** The message as the quarantine row has it, when the channel cannot read it again. */
function fromStoredRow(mail: QuarantineRow, channel: Channel): InboundMessageInput {
  const sender = mail.sender ?? undefined;
  return {
    channel,
    idempotencyKey: mail.externalId ?? mail.id,
    ...(mail.externalId === null ? {} : { externalId: mail.externalId }),
    threadKeys: [],
    from: sender === undefined ? {} : sender.includes("@") ? { email: sender } : { handle: sender },
    ...(mail.subject === null || mail.subject === "" ? {} : { subject: mail.subject }),
    text: mail.text ?? "",
    context: mail.recipient === null ? {} : { recipient: mail.recipient },
    ...(mail.recipient === null ? {} : { channelName: mail.recipient }),
    receivedAt: mail.receivedAt,
  };
}

/**
 * An agent opens a ticket from a quarantined message (SPEC §7 `POST /v1/quarantine/:id/promote`).
 * The ticket's clock starts when the message arrived, no acknowledgement is sent (the message was
 * quarantined because answering it could start a mail loop), and it never joins another ticket.
 *
 * Once only: the new ticket is written with the idempotency key `promote:<id>` and marks the
 * quarantine row in the same D1 batch, so a second call — or a racing one, whose batch fails on
 * that key and finds the winner's ticket — answers the same ticket.
 */
export async function promoteQuarantined(env: DeskEnv, id: string, reread: Reread): Promise<PromoteResult> {
  const db = database(env.DB);
  const mail = await getQuarantined(db, id);
  const channel = channelSchema.safeParse(mail?.channel);
  if (mail === undefined || !channel.success) return { ok: false, reason: "not_found" };
  if (mail.promotedTicket !== null) {
    return {
      ok: true,
      ticket: ticketKey(mail.promotedTicket),
      ticketNumber: mail.promotedTicket,
      created: false,
    };
  }
  const message = (await reread(mail)) ?? fromStoredRow(mail, channel.data);
  const own = message.externalId ?? message.idempotencyKey;
  // Replies to the mail thread into the new ticket, unless its id already leads to another one.
  const ownFree = (await findThread(db, channel.data, [own])) === null;
  const result = await intake(env, {
    ...message,
    channel: channel.data,
    idempotencyKey: `promote:${mail.id}`,
    externalId: own,
    // A new ticket, always: nothing it names is looked up.
    threadKeys: [],
    threadKeyRules: [],
    ticketReferences: [],
    lookupOnlyThreadKeys: true,
    extraThreadKeys: ownFree ? [own] : [],
    author: "customer",
    threadOnly: false,
    quarantineReason: undefined,
    bounceOf: [],
    suppressAcknowledgement: true,
    receivedAt: mail.receivedAt,
    promotedFrom: mail.id,
  });
  if (!result.ok) throw new Error(`promoting quarantined message ${mail.id}: ${result.reason}`);
  return { ok: true, ticket: result.ticket, ticketNumber: result.ticketNumber, created: !result.replay };
}
