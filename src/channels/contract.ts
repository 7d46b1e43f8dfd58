import type { Channel, InboundMessageInput } from "../domain/inbound";
import type { ProblemIssue } from "../domain/issues";
import type { DeliveryOutcome } from "../notify/http";
import type { OutboundEnv, OutboxItem } from "../notify/types";

/**
 * The one contract every channel implements, in two halves (after cloudflare/agents' `Channel`
 * with its `ingress` and `deliver`):
 *
 * - **ingress** (`ChannelIngress`, the channel's `index.ts`): its webhook endpoints. Each one
 *   verifies the raw request, accepts it (answers the cheap cases, refuses bad input, or hands back
 *   a job for the intake pipeline) and runs jobs. The HTTP plumbing around that — body limit,
 *   verification failure → problem response, JSON parsing, queue or inline — is written once in
 *   `http/webhooks.ts` and generated for every endpoint in `registry.ts`.
 * - **outbound** (`ChannelOutbound`, the channel's `reply.ts`): how a message to the customer
 *   leaves on this channel (`compose`) and the provider call that carries it (`send`). The core —
 *   intake, ticket commands, the timer — reaches it only through `outbound.ts`.
 */

// ---------------------------------------------------------------------------------------------
// Ingress

/** A webhook request as a verifier and parser see it: the raw bytes, exactly as received. */
export interface RawRequest {
  body: Uint8Array<ArrayBuffer>;
  /** The raw body as UTF-8 text. */
  text: string;
  header(name: string): string | undefined;
}

/** Every verifier's answer; `reason` is mapped to an HTTP problem once, in `http/webhooks.ts`. */
export type Verification =
  | { ok: true }
  | { ok: false; reason: "not_configured" | "missing_signature" | "stale_timestamp" | "bad_signature" };

/** What one delivery to a channel came to. Every channel's handlers answer in this shape. */
export type ChannelResult =
  | { kind: "stored"; ticket: string; created: boolean; replay: boolean; what?: string }
  | { kind: "changed"; ticket: string; changed: number; replay: boolean }
  | { kind: "ignored"; reason: string }
  /** The provider expects this exact body (a Discord interaction response, a URL challenge, a pong). */
  | { kind: "answer"; body: unknown }
  | { kind: "invalid"; detail: string; issues?: ProblemIssue[] };

/** A verified request, accepted: answered at once, or a job for the intake pipeline. */
export type Accepted<Job> = ChannelResult | { kind: "job"; job: Job };

export interface WebhookContext {
  /** Work that may finish after the answer (Workers' `waitUntil`). */
  waitUntil(promise: Promise<unknown>): void;
}

/** How a signature failure is worded: which secret is missing, which headers are wrong. */
export interface SignatureInfo {
  /** The provider's name in messages ("GitHub"). */
  provider: string;
  /** The secret the endpoint needs (`GITHUB_WEBHOOK_SECRET`). */
  secret: string;
  /** The header(s) that carry the signature, as named in a "missing" message. */
  headers: string;
  /** The header a bad signature is reported on. */
  signatureHeader: string;
  /** How far the signed timestamp may be from our clock, as a stale-timestamp message says it (default "5 minutes"). */
  window?: string;
  /** Extra headers on a 503 "not configured" answer (Slack: `X-Slack-No-Retry`). */
  notConfiguredHeaders?: Record<string, string>;
}

export interface WebhookEndpoint<Job> {
  /** The full path, e.g. `/webhooks/github`. */
  path: string;
  signature: SignatureInfo;
  verify(env: Env, request: RawRequest, now: number): Promise<Verification>;
  /**
   * The body as the provider encodes it; a throw is answered 400 "The body is not JSON". Default:
   * `JSON.parse` of the text.
   */
  decode?(request: RawRequest): unknown;
  accept(env: Env, body: unknown, request: RawRequest, now: number): Accepted<Job> | Promise<Accepted<Job>>;
  /** Run an accepted job: inline here, or later by the intake queue's consumer. */
  run(env: Env, job: Job, context: WebhookContext): Promise<ChannelResult>;
  /**
   * When set, jobs go through INTAKE_QUEUE in `queue` mode; this is the answer sent once the job
   * is queued.
   */
  queued?(job: Job): { status: 200 | 202; body: unknown };
  /** HTTP status of a `stored` result (GitHub: 202 for new work, 200 for a replay; Slack: always 200). */
  storedStatus(result: Extract<ChannelResult, { kind: "stored" }>): 200 | 202;
  /**
   * Inline mode only: answer after this long even if the job is still running (it finishes in
   * `waitUntil`). Slack wants an answer within 3 s.
   */
  ackBudgetMs?: number;
}

/**
 * A channel's inbound half: its endpoints, and what it owes on the hourly cron. Endpoints carry
 * their own job types; here they are seen through `unknown` (each only ever runs the jobs it accepted).
 */
/** What the quarantine kept of a message (a `quarantine` row), as a channel needs it to read it again. */
export interface QuarantinedMessage {
  storageKey: string | null;
  sender: string | null;
  recipient: string | null;
  receivedAt: number;
}

export interface ChannelIngress {
  name: Channel;
  endpoints: readonly WebhookEndpoint<unknown>[];
  scheduled?(env: Env, scheduledTime: number): Promise<void>;
  /**
   * Read a message this channel quarantined again, in full, for an agent opening a ticket from it
   * (`POST /v1/quarantine/:id/promote`); null when its raw form is gone.
   */
  reread?(env: Env, message: QuarantinedMessage): Promise<InboundMessageInput | null>;
}

// ---------------------------------------------------------------------------------------------
// Outbound

/** The columns of a stored ticket that say where a message to its customer goes. */
export interface ReplyTargetRow {
  number: number;
  channel: Channel;
  callbackUrl: string | null;
  subject: string;
  requesterName: string | null;
  requesterEmail: string | null;
  /** Where the ticket came in (email: the address written to; GitHub: the repository; Discord: the channel id). */
  channelName: string | null;
}

/** What a message to the customer needs to know about its ticket. */
export interface ReplyTarget extends Omit<ReplyTargetRow, "number"> {
  key: string;
  /** The ticket's thread keys, newest first: GitHub's `owner/repo#n`, Discord's follow-up webhook. */
  threadKeys?: readonly string[];
}

export type ReplyKind = "acknowledgement" | "reply" | "survey";

/** Email threading of one outgoing message: our Message-ID and what it answers. */
export interface EmailThreading {
  messageId: string;
  inReplyTo?: string;
  references: string[];
  /** The address we answer from (one of ours); the support address unless the customer wrote to another. */
  from: string;
  supportAddress: string;
}

/** One message to the customer, before it knows its channel. */
export interface OutgoingMessage {
  kind: ReplyKind;
  text: string;
  /** The stored outbound message this delivers (its id names the outbox item). */
  messageId: string;
  /** A link that goes with the text (the survey). */
  url?: string;
  email?: EmailThreading;
}

/** A channel's outbound half. `D` is its delivery (one member of `notify/types` `Delivery`). */
export interface ChannelOutbound<D extends { service: string }> {
  /** The `service` of this channel's deliveries. */
  service: D["service"];
  /** Whether `compose` needs the ticket's thread keys (they hold the reply address). */
  needsThreadKeys: boolean;
  /** The outbox item that carries `message` on this channel, or null when the channel has no way back. */
  compose(target: ReplyTarget, message: OutgoingMessage): OutboxItem | null;
  /** Why `compose` gave null, shown as the message's delivery error. */
  noDeliveryReason: string;
  /** Perform one call; never throws, the outcome says whether another try may help. */
  send(env: OutboundEnv, delivery: D): Promise<DeliveryOutcome>;
  /**
   * Calls the provider's own thread owes when an agent changes the ticket on the desk (GitHub:
   * close or reopen the issue, add the critical label). Item ids must be deterministic per change.
   */
  ticketChangeCalls?(target: ReplyTarget, change: TicketChange, settings: TicketChangeSettings): OutboxItem[];
}

/** A change an agent made on the desk, as a channel's own thread may need to follow it. */
export interface TicketChange {
  /** The ticket's revision after the change (item ids are derived from it). */
  revision: number;
  /** Resolved, or reopened (`open`) from resolved. */
  status?: "resolved" | "open";
  /** The priority became critical. */
  critical?: boolean;
}

/** The routing document's settings a ticket change reads. */
export interface TicketChangeSettings {
  github: { closeOnResolve: boolean };
  criticalLabels: readonly string[];
}
