import { z } from "zod";
import { isHashedKey } from "../../domain/inbound";
import type { DeliveryOutcome } from "../../notify/http";
import type { OutboundEnv } from "../../notify/types";
import type { ChannelOutbound } from "../contract";
import { sendEmail } from "./mime";

export const emailDeliverySchema = z.object({
  service: z.literal("email"),
  mail: z.object({
    from: z.string(),
    fromName: z.string(),
    to: z.string(),
    replyTo: z.string(),
    subject: z.string(),
    text: z.string(),
    messageId: z.string(),
    inReplyTo: z.string().optional(),
    references: z.array(z.string()),
    autoSubmitted: z.boolean(),
  }),
});
export type EmailDelivery = z.infer<typeof emailDeliverySchema>;

/** A fresh Message-ID on our own domain (RFC 5322 §3.6.4), without angle brackets. */
export function newEmailMessageId(supportAddress: string): string {
  const domain = supportAddress.split("@")[1] ?? "switchboard.invalid";
  return `${crypto.randomUUID()}@${domain}`;
}

/** `Re: <subject> [SUP-12]`: the key in the subject lets a reply thread even without its headers. */
export function emailSubject(subject: string, key: string): string {
  const base = subject.trim() === "" ? "Your support request" : subject.trim();
  const withoutRe = base.replace(/^((re|aw|sv|fw|fwd)\s*:\s*)+/i, "");
  const tagged = withoutRe.includes(`[${key}]`) ? withoutRe : `${withoutRe} [${key}]`;
  return `Re: ${tagged}`;
}

/**
 * Mail to the requester, threaded under what it answers. Acknowledgements and surveys are
 * `Auto-Submitted` (RFC 3834), so well-behaved auto-responders stay quiet; replies are not.
 */
export const emailOutbound: ChannelOutbound<EmailDelivery> = {
  service: "email",
  needsThreadKeys: false,
  noDeliveryReason: "the ticket has no requester address",
  compose(target, message) {
    if (target.requesterEmail === null || message.email === undefined) return null;
    const { email } = message;
    return {
      id: `msg:${message.messageId}`,
      messageId: message.messageId,
      label: `${message.kind} email to ${target.requesterEmail}`,
      delivery: {
        service: "email",
        mail: {
          from: email.from,
          fromName: "Support",
          to: target.requesterEmail,
          replyTo: email.supportAddress,
          subject: emailSubject(target.subject, target.key),
          text: message.url === undefined ? message.text : `${message.text}\n\n${message.url}`,
          messageId: email.messageId,
          // A hashed key stands for a Message-ID too long to keep (domain/inbound `boundedKey`): it is
          // no Message-ID, so it is left out; the `[SUP-n]` subject token still threads the answer.
          ...(email.inReplyTo === undefined || isHashedKey(email.inReplyTo)
            ? {}
            : { inReplyTo: email.inReplyTo }),
          references: email.references.filter((r) => !isHashedKey(r)),
          autoSubmitted: message.kind !== "reply",
        },
      },
    };
  },
  send: (env: OutboundEnv, delivery: EmailDelivery): Promise<DeliveryOutcome> =>
    sendEmail(env, delivery.mail),
};
