import { configuredAddresses } from "../../domain/routing";
import { type IntakeResult, intake, seenBefore } from "../../intake";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { parseEmail } from "./parse";
import { emailIdempotencyKey, prepareEmail } from "./prepare";

/** Email Routing's own limit. */
export const MAX_EMAIL_BYTES = 25 * 1024 * 1024;

/** `support+acme@example.com` is `support@example.com`. */
function withoutTag(address: string): string {
  return address.replace(/\+[^@]*@/, "@");
}

export type EmailOutcome = { kind: "rejected"; reason: string } | { kind: "stored"; result: IntakeResult };

/**
 * The Worker's `email()` handler: accept mail for our addresses, keep the raw message and its
 * attachments in R2 (`prepareEmail`: bodies too long for D1 in full, at most
 * MAX_STORED_ATTACHMENTS one by one), and hand a normalised message to the intake pipeline. Throwing makes Email
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
  const idempotencyKey = await emailIdempotencyKey(raw, parsed);
  const seen = await seenBefore(env, "email", idempotencyKey);
  if (seen !== null) return { kind: "stored", result: seen };

  const input = await prepareEmail(env, raw, parsed, idempotencyKey, {
    envelopeFrom: message.from?.toLowerCase() ?? "",
    recipient,
    ourAddresses: ours,
    receivedAt: Date.now(),
  });
  const result = await intake(env, input, { config });
  return { kind: "stored", result };
}
