import type { PolicyName } from "./config";
import type { Channel, Priority, Visibility } from "./inbound";

export const TICKET_PREFIX = "SUP";

export function ticketKey(number: number): string {
  return `${TICKET_PREFIX}-${number}`;
}

/** The desk's own base URL (`PUBLIC_URL`), without a trailing slash; localhost when unset. */
export function deskUrl(publicUrl: string | undefined): string {
  return (publicUrl || "http://localhost:8787").replace(/\/+$/, "");
}

/** The console page of a ticket (by its key), for links the desk sends. */
export function ticketUrl(publicUrl: string | undefined, key: string): string {
  return `${deskUrl(publicUrl)}/tickets/${key}`;
}

const KEY_PATTERN = new RegExp(`^${TICKET_PREFIX}-([1-9]\\d{0,14})$`, "i");
const SUBJECT_TOKEN_PATTERN = new RegExp(`\\[${TICKET_PREFIX}-([1-9]\\d{0,14})\\]`, "gi");

/** `SUP-12` (any case) → 12; anything else → null. */
export function parseTicketKey(key: string): number | null {
  const match = KEY_PATTERN.exec(key.trim());
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Every `[SUP-123]` token in an email subject, newest-looking (rightmost) last. */
export function subjectTicketTokens(subject: string): number[] {
  return [...subject.matchAll(SUBJECT_TOKEN_PATTERN)].map((m) => Number(m[1]));
}

export type TicketStatus = "open" | "pending" | "resolved";
export type MessageKind = "customer" | "staff" | "note" | "system" | "community";
export type EscalationKind =
  | "page"
  | "warning"
  | "breach"
  | "lead"
  | "reassign"
  | "engineering"
  | "incident"
  /** A promised update (SPEC §16) was not sent by the time the customer was told. */
  | "promise";
export type ImprovementKind = "bug" | "docs" | "error_message" | "api" | "other";

/** The ticket as SPEC §4 shows it, with a few documented additions. */
export interface TicketView {
  key: string;
  number: number;
  channel: Channel;
  subject: string;
  status: TicketStatus;
  priority: Priority;
  policy: PolicyName;
  team: string;
  assignee: string | null;
  customer: string | null;
  visibility: Visibility;
  escalationLevel: number;
  requester: { name: string | null; email: string | null; handle: string | null };
  createdAt: string;
  firstResponseAt: string | null;
  resolvedAt: string | null;
  responseDueAt: string | null;
  /** The update promised to the customer on a public reply (SPEC §16); null when none is promised. */
  nextUpdateDueAt: string | null;
  breached: boolean;
  security: boolean;
  /** The sender could not be verified (email: DMARC failed): the claimed address proves nothing. */
  senderUnverified: boolean;
  messages: MessageView[];
  escalations: EscalationView[];
  improvements: ImprovementView[];
  /** The latest customer-effort survey (sent at resolution) and its answer, 1–7. */
  customerEffort: { score: number | null; sentAt: string; answeredAt: string | null } | null;
}

export interface MessageView {
  id: string;
  direction: "inbound" | "outbound";
  kind: MessageKind;
  author: string;
  /** The author's address or handle on the channel. */
  sender: string | null;
  subject: string | null;
  text: string;
  /** Sanitised HTML as the customer sent it (email), for display; `text` is always there. */
  html: string | null;
  createdAt: string;
  threadedBy: string | null;
  attachments: {
    filename: string;
    contentType: string;
    size: number;
    url: string;
    contentId: string | null;
  }[];
  delivery: { status: string; error: string | null } | null;
  editedAt: string | null;
  deletedAt: string | null;
}

export interface EscalationView {
  kind: EscalationKind;
  level: number;
  target: string;
  at: string;
  detail: string | null;
  /** When a ladder step was due (null for escalations an agent made); `at - dueAt` is its lateness. */
  dueAt: string | null;
}

export interface ImprovementView {
  kind: ImprovementKind;
  title: string;
  url: string | null;
  at: string;
  /** SPEC §13: `open` until the fix ships (`shipped`, with `shippedAt`) or is dropped (`canceled`). */
  state: "open" | "shipped" | "canceled";
  shippedAt: string | null;
  source: "linear" | "github" | "manual";
  /** `ENG-12`, `acme/app#42`; null for a manual improvement. */
  ref: string | null;
}

export function iso(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString();
}
