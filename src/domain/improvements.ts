import { TICKET_PREFIX } from "./ticket";

/** SPEC §13: where an improvement stands, where it is tracked. */
export type ImprovementState = "open" | "shipped" | "canceled";
export type ImprovementSource = "linear" | "github" | "manual";

/** Linear's issue identifier: team key, a dash, the number (`ENG-12`). */
const LINEAR_IDENTIFIER = /^[A-Za-z][A-Za-z0-9_]{0,9}-[1-9]\d{0,9}$/;

/**
 * A Linear issue named by an agent: its identifier (`ENG-12`, any case) or its URL
 * (`https://linear.app/<workspace>/issue/ENG-12/<slug>`). Returns the identifier, upper-cased as
 * Linear writes it, or null when the text names no Linear issue.
 */
export function linearIssueRef(text: string): string | null {
  const trimmed = text.trim();
  if (LINEAR_IDENTIFIER.test(trimmed)) return trimmed.toUpperCase();
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch {
    return null;
  }
  if (url.protocol !== "https:" || (url.hostname !== "linear.app" && !url.hostname.endsWith(".linear.app"))) {
    return null;
  }
  const parts = url.pathname.split("/").filter((p) => p !== "");
  const at = parts.indexOf("issue");
  const id = at === -1 ? undefined : parts[at + 1];
  return id !== undefined && LINEAR_IDENTIFIER.test(id) ? id.toUpperCase() : null;
}

/**
 * Linear's workflow state types: `triage`, `backlog`, `unstarted`, `started`, `completed`,
 * `canceled` (and `duplicate`, which Linear files under canceled). What an improvement becomes.
 */
export function improvementStateOfLinear(stateType: string | null | undefined): ImprovementState {
  if (stateType === "completed") return "shipped";
  if (stateType === "canceled" || stateType === "duplicate") return "canceled";
  return "open";
}

const TICKET_MENTION = new RegExp(`(?<![A-Za-z0-9-])${TICKET_PREFIX}-([1-9]\\d{0,14})(?![A-Za-z0-9])`, "gi");

/** Every ticket number a text names (`SUP-12`, `fixes sup-12`), once each, in order of mention. */
export function ticketMentions(text: string, limit = 20): number[] {
  const seen = new Set<number>();
  for (const match of text.matchAll(TICKET_MENTION)) {
    const n = Number(match[1]);
    if (Number.isSafeInteger(n)) seen.add(n);
    if (seen.size >= limit) break;
  }
  return [...seen];
}

/** The line every linked ticket gets when its fix ships (or is dropped). */
export function shippedText(
  ref: string,
  title: string,
  state: Exclude<ImprovementState, "open">,
  where: string,
): string {
  const name = title === "" || title.startsWith(`${ref}:`) ? ref : `${ref} “${title}”`;
  return state === "shipped"
    ? `${name} has shipped (${where}): the fix for this ticket is out.`
    : `${name} was canceled (${where}): no fix is coming from it.`;
}

/** What the customer is told when the desk announces a shipped fix itself (`linear.announceShipped`). */
export function announcementText(key: string, publicRef: string | null): string {
  const which = publicRef === null ? "" : ` (${publicRef})`;
  return `Good news about ${key}: the fix for the problem you reported${which} has shipped. Please let us know if you still see it.`;
}
