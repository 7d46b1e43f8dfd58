import type { ChannelIngress } from "../contract";
import { handleEmail } from "./handler";
import { rereadQuarantinedEmail } from "./prepare";

/**
 * The email channel's ingress is the Worker's `email()` handler (Email Routing), not a webhook:
 * `index.ts` hands every message to `receiveEmail`.
 */
export const emailIngress: ChannelIngress = {
  name: "email",
  endpoints: [],
  reread: rereadQuarantinedEmail,
};

/** `email()`: store the message (or refuse it) and log what became of it. */
export async function receiveEmail(message: ForwardableEmailMessage, env: Env): Promise<void> {
  const outcome = await handleEmail(message, env);
  if (outcome.kind === "rejected") console.log(`email to ${message.to} rejected: ${outcome.reason}`);
  else if (!outcome.result.ok)
    console.log(`email from ${message.from} ${outcome.result.reason}: ${outcome.result.detail}`);
}
