import type { Config } from "./config";
import type { Priority } from "./inbound";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Whole-word, case-insensitive match: "p0" must not fire on "p02" and "cve" not on "cvent".
 * Spaces in a keyword match any run of whitespace so "production down" survives line wrapping.
 */
export function containsKeyword(text: string, keyword: string): boolean {
  const needle = keyword.trim().toLowerCase();
  if (needle === "") return false;
  const pattern = escapeRegExp(needle).replace(/\s+/g, "\\s+");
  return new RegExp(`(^|[^\\p{L}\\p{N}])${pattern}($|[^\\p{L}\\p{N}])`, "iu").test(text);
}

export function firstKeyword(text: string, keywords: readonly string[]): string | undefined {
  return keywords.find((keyword) => containsKeyword(text, keyword));
}

export interface Classification {
  priority: Priority;
  /** Why the priority is what it is, for the ticket's audit trail. */
  priorityReason: "caller" | "keyword" | "default";
  criticalKeyword?: string;
  security: boolean;
  securityKeyword?: string;
}

/**
 * The caller's explicit priority wins (an integration knows its own severity); otherwise a
 * critical keyword makes the message critical; otherwise it is normal.
 */
export function classify(
  message: { subject?: string; text: string; priority?: Priority },
  config: Pick<Config, "criticalKeywords" | "securityKeywords">,
): Classification {
  const haystack = `${message.subject ?? ""}\n${message.text}`;
  const criticalKeyword = firstKeyword(haystack, config.criticalKeywords);
  const securityKeyword = firstKeyword(haystack, config.securityKeywords);
  const security = securityKeyword !== undefined;
  if (message.priority !== undefined) {
    return { priority: message.priority, priorityReason: "caller", security, securityKeyword };
  }
  if (criticalKeyword !== undefined) {
    return { priority: "critical", priorityReason: "keyword", criticalKeyword, security, securityKeyword };
  }
  return { priority: "normal", priorityReason: "default", security, securityKeyword };
}

export const PRIORITY_RANK: Record<Priority, number> = { critical: 0, high: 1, normal: 2, low: 3 };

/**
 * The security classification of a follow-up or an edit: the keyword that makes the ticket
 * `private` and `security`, or null when nothing changes (no keyword, or the ticket is both
 * already). A ticket never becomes public again by itself; only an agent makes it so.
 */
export function securityFlipKeyword(
  ticket: { visibility: "public" | "private"; security: boolean },
  message: { subject?: string | undefined; text: string },
  config: Pick<Config, "securityKeywords">,
): string | null {
  if (ticket.visibility === "private" && ticket.security) return null;
  return firstKeyword(`${message.subject ?? ""}\n${message.text}`, config.securityKeywords) ?? null;
}
