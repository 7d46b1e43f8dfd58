import { sha256Hex } from "../../domain/encoding";
import { configuredAddresses } from "../../domain/routing";
import { type IntakeResult, intake, seenBefore } from "../../intake";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { htmlToText, sanitizeHtml } from "./html";
import { loopReason } from "./loop";
import { normaliseEmail } from "./normalise";
import { parseEmail, quotedMessageIds } from "./parse";

/** Email Routing's own limit. */
export const MAX_EMAIL_BYTES = 25 * 1024 * 1024;

/** `support+acme@example.com` is `support@example.com`. */
function withoutTag(address: string): string {
  return address.replace(/\+[^@]*@/, "@");
}

export type EmailOutcome = { kind: "rejected"; reason: string } | { kind: "stored"; result: IntakeResult };

/**
 * The Worker's `email()` handler: accept mail for our addresses, keep the raw message and its
 * attachments in R2, and hand a normalised message to the intake pipeline. Throwing makes Email
 * Routing answer with a temporary failure, so the sender retries: a D1 outage loses nothing.
 */
export async function handleEmail(message: ForwardableEmailMessage, env: Env): Promise<EmailOutcome> {
  const db = database(env.DB);
  const config = await loadConfig(db);
  const recipient = message.to.trim().toLowerCase();
  const ours = configuredAddresses(config, env.SUPPORT_ADDRESS);
  if (!ours.includes(recipient) && !ours.includes(withoutTag(recipient))) {
    const reason = `${recipient} is not a support address of this desk`;
    message.setReject(reason);
    return { kind: "rejected", reason };
  }
  if (message.rawSize > MAX_EMAIL_BYTES) {
    const reason = `message too large: ${message.rawSize} bytes, the limit is ${MAX_EMAIL_BYTES}`;
    message.setReject(reason);
    return { kind: "rejected", reason };
  }
  const raw = new Uint8Array(await new Response(message.raw).arrayBuffer());
  const parsed = await parseEmail(raw);
  const idempotencyKey = parsed.messageId ?? `sha256:${await sha256Hex(raw)}`;
  const seen = await seenBefore(env, "email", idempotencyKey);
  if (seen !== null) return { kind: "stored", result: seen };

  const id = await sha256Hex(idempotencyKey);
  const rawStorageKey = `mail/in/${id}.eml`;
  // Keys derive from the Message-ID, so a redelivery overwrites rather than orphans.
  await env.ATTACHMENTS.put(rawStorageKey, raw, { httpMetadata: { contentType: "message/rfc822" } });
  const attachments = await Promise.all(
    parsed.attachments.map(async (attachment, index) => {
      const storageKey = `att/${id}/${index}`;
      await env.ATTACHMENTS.put(storageKey, attachment.content, {
        httpMetadata: { contentType: attachment.contentType },
      });
      return {
        filename: attachment.filename.slice(0, 255),
        contentType: attachment.contentType.slice(0, 255),
        size: attachment.content.byteLength,
        storageKey,
        ...(attachment.contentId === undefined ? {} : { contentId: attachment.contentId.slice(0, 255) }),
      };
    }),
  );
  const loop = loopReason({
    header: parsed.header,
    from: parsed.from.address,
    envelopeFrom: message.from?.toLowerCase(),
    contentType: parsed.contentType,
    ourAddresses: ours,
  });
  const text = parsed.text ?? (parsed.html === undefined ? "" : await htmlToText(parsed.html));
  const html = parsed.html === undefined ? undefined : await sanitizeHtml(parsed.html);
  const result = await intake(
    env,
    normaliseEmail({
      parsed,
      idempotencyKey,
      envelopeFrom: message.from?.toLowerCase() ?? "",
      recipient,
      text,
      html,
      loop,
      quoted: loop === "bounce" ? quotedMessageIds(raw, parsed.messageId) : [],
      attachments,
      rawStorageKey,
      receivedAt: Date.now(),
    }),
    { config },
  );
  return { kind: "stored", result };
}
