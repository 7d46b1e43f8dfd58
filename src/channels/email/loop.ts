/**
 * Mail we must never answer (RFC 3834 §2, RFC 3464 and common practice): an acknowledgement to any
 * of these starts or feeds a mail loop. Returns why, or null for mail from a person.
 *
 * List mail is not among them (SPEC §3): a customer writing from a Google Group is a person, so
 * `List-Id`, `List-Unsubscribe` and `Precedence: list` alone make a ticket that is never
 * acknowledged (`isListMail`), not a quarantined mail. Quarantine rows stored before this rule
 * may still say `mailing-list`.
 */
export type LoopReason =
  | "auto-submitted"
  | "auto-reply"
  | "precedence"
  | "auto-response-suppress"
  | "bounce"
  | "own-address";

export interface LoopFacts {
  /** Header lookup by lower-case name (first value). */
  header: (name: string) => string | undefined;
  /** The From address (lower-case), when there is one. */
  from: string | undefined;
  /** The envelope sender (MAIL FROM / Return-Path), lower-case; empty for bounces. */
  envelopeFrom: string | undefined;
  contentType: string | undefined;
  /** Addresses that are ours: mail from them is our own mail coming back. */
  ourAddresses: readonly string[];
}

const DAEMON = /^(mailer-daemon|postmaster)@/i;

export function loopReason(facts: LoopFacts): LoopReason | null {
  const from = facts.from?.toLowerCase();
  if (from !== undefined && facts.ourAddresses.some((a) => a.toLowerCase() === from)) return "own-address";
  const contentType = (facts.contentType ?? facts.header("content-type") ?? "").toLowerCase();
  if (
    contentType.startsWith("multipart/report") &&
    /report-type\s*=\s*"?(delivery-status|disposition-notification)/.test(contentType)
  ) {
    return "bounce";
  }
  if (
    (from !== undefined && DAEMON.test(from)) ||
    (facts.envelopeFrom !== undefined && DAEMON.test(facts.envelopeFrom))
  ) {
    return "bounce";
  }
  const autoSubmitted = facts.header("auto-submitted")?.trim().toLowerCase();
  if (autoSubmitted !== undefined && autoSubmitted !== "" && !autoSubmitted.startsWith("no"))
    return "auto-submitted";
  if (facts.header("x-autoreply") !== undefined || facts.header("x-autorespond") !== undefined)
    return "auto-reply";
  const precedence = facts.header("precedence")?.trim().toLowerCase();
  if (precedence !== undefined && ["bulk", "junk", "auto_reply"].includes(precedence)) return "precedence";
  if (facts.header("x-auto-response-suppress") !== undefined) return "auto-response-suppress";
  return null;
}

/**
 * Mail that came through a mailing list (RFC 2919 `List-Id`, RFC 2369 `List-Unsubscribe`,
 * `Precedence: list`). Answering it would write to the whole list, so it is never acknowledged;
 * its author is still a person, so it opens or joins a ticket like any customer mail.
 */
export function isListMail(header: LoopFacts["header"]): boolean {
  return (
    header("list-id") !== undefined ||
    header("list-unsubscribe") !== undefined ||
    header("precedence")?.trim().toLowerCase() === "list"
  );
}
