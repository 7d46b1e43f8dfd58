import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { CHANNELS } from "../domain/inbound";
import type { StepsAt } from "../domain/sla";

/**
 * The queue's sort key, `queue_due_at`, is the deadline we owe for an `open` ticket and one of two
 * bands after every real deadline for the others: `pending` first, then `resolved`. The status
 * filters become ranges of one index, so every queue page is an ordered index range read that
 * stops at `limit` (see `queueRange`).
 */
export const QUEUE_PENDING = 8_640_000_000_000_000;
export const QUEUE_RESOLVED = QUEUE_PENDING + 1;

export const tickets = sqliteTable(
  "tickets",
  {
    // INTEGER PRIMARY KEY is SQLite's rowid: sequential, and the ticket key is `SUP-<number>`.
    number: integer("number").primaryKey(),
    channel: text("channel", { enum: CHANNELS }).notNull(),
    subject: text("subject").notNull().default(""),
    status: text("status", { enum: ["open", "pending", "resolved"] }).notNull(),
    priority: text("priority", { enum: ["critical", "high", "normal", "low"] }).notNull(),
    policy: text("policy", {
      enum: ["critical", "enterprise-slack", "slack", "github", "discord", "email", "api"],
    }).notNull(),
    team: text("team").notNull(),
    assignee: text("assignee"),
    customer: text("customer"),
    visibility: text("visibility", { enum: ["public", "private"] }).notNull(),
    security: integer("security", { mode: "boolean" }).notNull().default(false),
    /** The channel could not verify the sender (email: DMARC failed at the receiving server). */
    senderUnverified: integer("sender_unverified", { mode: "boolean" }).notNull().default(false),
    escalationLevel: integer("escalation_level").notNull(),
    requesterName: text("requester_name"),
    requesterEmail: text("requester_email"),
    requesterHandle: text("requester_handle"),
    /** Where it came in: email recipient, Slack channel, GitHub repository, Discord channel. */
    channelName: text("channel_name"),
    callbackUrl: text("callback_url"),
    createdAt: integer("created_at").notNull(),
    updatedAt: integer("updated_at").notNull(),
    firstResponseAt: integer("first_response_at"),
    resolvedAt: integer("resolved_at"),
    /** Sequence number of the latest response clock (0 = none yet). */
    clockSeq: integer("clock_seq").notNull().default(0),
    /** Start of the running clock; null when no reply is owed. */
    clockStartedAt: integer("clock_started_at"),
    responseDueAt: integer("response_due_at"),
    /** Deadline of the first response (the first clock, re-timed with it); the metrics' target. */
    firstDueAt: integer("first_due_at"),
    queueDueAt: integer("queue_due_at").notNull().default(QUEUE_PENDING),
    /**
     * SPEC §14: on a business-hours calendar, the instants of the running clock's warning (75 % of
     * open time) and 200 % steps (`StepsAt`); null around the clock, where each step sits at its
     * share of `response_due_at - clock_started_at`.
     */
    clockStepsAt: text("clock_steps_at", { mode: "json" }).$type<StepsAt>(),
    breached: integer("breached", { mode: "boolean" }).notNull().default(false),
    acknowledgedAt: integer("acknowledged_at"),
    /** Bumped by every update, so the ticket's timer can ignore stale instructions that arrive late. */
    revision: integer("revision").notNull().default(1),
    /**
     * Critical only because of a critical keyword, from a sender who is no configured customer: its
     * pages count against config `paging.unknownSenderPagesPerHour` (`paging_decisions`).
     */
    pagingCapped: integer("paging_capped", { mode: "boolean" }).notNull().default(false),
    /**
     * The promise clock (SPEC §16): the sequence number of the latest promised update (0 = none
     * yet), when it was made, and when it is due; `next_update_due_at` is null when no update is
     * promised. `queue_due_at` is the earlier of the reply owed and this (see `promiseQueueDue`).
     */
    promiseSeq: integer("promise_seq").notNull().default(0),
    promiseMadeAt: integer("promise_made_at"),
    nextUpdateDueAt: integer("next_update_due_at"),
  },
  (t) => [
    index("tickets_queue").on(t.queueDueAt, t.number),
    index("tickets_team_queue").on(t.team, t.queueDueAt, t.number),
    index("tickets_channel_queue").on(t.channel, t.queueDueAt, t.number),
    index("tickets_assignee_queue").on(t.assignee, t.queueDueAt, t.number),
    index("tickets_priority_queue").on(t.priority, t.queueDueAt, t.number),
    index("tickets_breached_queue").on(t.breached, t.queueDueAt, t.number),
    // `?status=pending`: a promised update puts a pending ticket among the deadlines (queue_due_at).
    index("tickets_status_queue").on(t.status, t.queueDueAt, t.number),
    // The running clocks of one policy, in ticket order: re-timing after a calendar change (timer/retime.ts).
    index("tickets_running_clocks").on(t.policy, t.number).where(sql`clock_started_at is not null`),
    // Covering for the metrics: a window's scan never visits the table itself.
    index("tickets_created").on(
      t.createdAt,
      t.channel,
      t.team,
      t.firstResponseAt,
      t.firstDueAt,
      t.resolvedAt,
    ),
    // Durations in rank order, for the metrics' percentiles (store/metrics.ts, "ordered"): partial,
    // so only answered (resolved) tickets are in them; created_at lets the walk skip other windows.
    index("tickets_first_response_rank")
      .on(sql`(${t.firstResponseAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.firstResponseAt} is not null`),
    index("tickets_first_response_rank_channel")
      .on(t.channel, sql`(${t.firstResponseAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.firstResponseAt} is not null`),
    index("tickets_first_response_rank_team")
      .on(t.team, sql`(${t.firstResponseAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.firstResponseAt} is not null`),
    index("tickets_resolution_rank")
      .on(sql`(${t.resolvedAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.resolvedAt} is not null`),
    index("tickets_resolution_rank_channel")
      .on(t.channel, sql`(${t.resolvedAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.resolvedAt} is not null`),
    index("tickets_resolution_rank_team")
      .on(t.team, sql`(${t.resolvedAt} - ${t.createdAt})`, t.createdAt)
      .where(sql`${t.resolvedAt} is not null`),
  ],
);

/**
 * What the metrics add up, per UTC day of creation (`created_at` / 86,400,000), channel and team:
 * ticket counts, and the two durations as histograms (JSON objects, bucket → count; buckets in
 * store/metrics-days.ts). Kept by SQLite triggers on `tickets`, `improvements` and `surveys`
 * (migration 0019, SQL from `metricsDaysMigrationSql`): no write path writes it. A migration that
 * rebuilds one of those tables (drizzle-kit does for some column changes) drops its triggers and
 * must create them again.
 */
export const metricsDays = sqliteTable(
  "metrics_days",
  {
    day: integer("day").notNull(),
    channel: text("channel").notNull(),
    team: text("team").notNull(),
    tickets: integer("tickets").notNull().default(0),
    /** With a first response. */
    responded: integer("responded").notNull().default(0),
    /** First response by the first deadline. */
    hits: integer("hits").notNull().default(0),
    /** With a first deadline: answered / not answered (yet). */
    dueResponded: integer("due_responded").notNull().default(0),
    dueOpen: integer("due_open").notNull().default(0),
    resolved: integer("resolved").notNull().default(0),
    /** Resolved, with at least one improvement / one shipped improvement. */
    improved: integer("improved").notNull().default(0),
    shipped: integer("shipped").notNull().default(0),
    /**
     * The latest UTC day on which a first deadline of an unanswered ticket here falls, or null: an
     * upper bound (an answer does not lower it), so a day whose bound is before today holds no
     * ticket "not yet due", and only the others are read to leave those out of the response rate.
     */
    unansweredDueDay: integer("unanswered_due_day"),
    /** Answered surveys and the sum of their scores. */
    effortResponses: integer("effort_responses").notNull().default(0),
    effortTotal: integer("effort_total").notNull().default(0),
    /** First response and resolution times in ms: `{ "<bucket>": count }`. */
    firstResponse: text("first_response").notNull().default("{}"),
    resolution: text("resolution").notNull().default("{}"),
  },
  (t) => [primaryKey({ columns: [t.day, t.channel, t.team] })],
);

export const messages = sqliteTable(
  "messages",
  {
    id: text("id").primaryKey(),
    ticketNumber: integer("ticket_number").notNull(),
    direction: text("direction", { enum: ["inbound", "outbound"] }).notNull(),
    kind: text("kind", { enum: ["customer", "staff", "note", "system", "community"] }).notNull(),
    author: text("author").notNull(),
    /** The author's address or handle on the channel (email address, Slack user, GitHub login). */
    sender: text("sender"),
    /** The message's own subject, where the channel has one (email). */
    subject: text("subject"),
    text: text("text").notNull(),
    html: text("html"),
    createdAt: integer("created_at").notNull(),
    /** The channel's own id for this message (Message-ID, Slack ts, comment id). */
    externalId: text("external_id"),
    /** For outbound messages: pending | sent | failed | skipped. */
    deliveryStatus: text("delivery_status"),
    deliveryError: text("delivery_error"),
    editedAt: integer("edited_at"),
    deletedAt: integer("deleted_at"),
    /** Which rule threaded this inbound message into its ticket (thread key, reference, subject token). */
    threadedBy: text("threaded_by"),
  },
  (t) => [
    index("messages_ticket").on(t.ticketNumber, t.createdAt),
    // One message per channel id per ticket: a provider that sends the same message under two
    // delivery ids (or two concurrent deliveries) still stores it once. Also serves edits/deletes.
    uniqueIndex("messages_external").on(t.ticketNumber, t.externalId).where(sql`${t.externalId} is not null`),
  ],
);

export const attachments = sqliteTable(
  "attachments",
  {
    id: text("id").primaryKey(),
    messageId: text("message_id").notNull(),
    ticketNumber: integer("ticket_number").notNull(),
    filename: text("filename").notNull(),
    contentType: text("content_type").notNull(),
    size: integer("size").notNull(),
    storageKey: text("storage_key").notNull(),
    contentId: text("content_id"),
  },
  (t) => [index("attachments_ticket").on(t.ticketNumber)],
);

/** One row per processed inbound event: a replay finds it and changes nothing. */
export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    channel: text("channel").notNull(),
    key: text("key").notNull(),
    ticketNumber: integer("ticket_number"),
    messageId: text("message_id"),
    created: integer("created", { mode: "boolean" }).notNull().default(false),
    responseDueAt: integer("response_due_at"),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.key] })],
);

/** External references a ticket answers to, one table for every channel. */
export const threadKeys = sqliteTable(
  "thread_keys",
  {
    channel: text("channel").notNull(),
    key: text("key").notNull(),
    ticketNumber: integer("ticket_number").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.channel, t.key] }), index("thread_keys_ticket").on(t.ticketNumber)],
);

export const escalations = sqliteTable(
  "escalations",
  {
    id: text("id").primaryKey(),
    ticketNumber: integer("ticket_number").notNull(),
    /** `<clock>:<step>` for ladder steps (so a re-run alarm records nothing new), a uuid for manual ones. */
    dedupeKey: text("dedupe_key").notNull(),
    kind: text("kind", {
      enum: ["page", "warning", "breach", "lead", "reassign", "engineering", "incident", "promise"],
    }).notNull(),
    level: integer("level").notNull(),
    target: text("target").notNull(),
    detail: text("detail"),
    at: integer("at").notNull(),
    /** When the step was due; `at - dueAt` is the lateness the benchmark reports. */
    dueAt: integer("due_at"),
  },
  (t) => [uniqueIndex("escalations_dedupe").on(t.ticketNumber, t.dedupeKey)],
);

export const improvements = sqliteTable(
  "improvements",
  {
    id: text("id").primaryKey(),
    ticketNumber: integer("ticket_number").notNull(),
    kind: text("kind", { enum: ["bug", "docs", "error_message", "api", "other"] }).notNull(),
    title: text("title").notNull(),
    url: text("url"),
    createdAt: integer("created_at").notNull(),
    /** `open` until its fix ships (`shipped`) or engineering drops it (`canceled`). SPEC §13. */
    state: text("state", { enum: ["open", "shipped", "canceled"] })
      .notNull()
      .default("open"),
    shippedAt: integer("shipped_at"),
    /** Where it is tracked: a Linear issue, a GitHub pull request, or only here (`manual`). */
    source: text("source", { enum: ["linear", "github", "manual"] })
      .notNull()
      .default("manual"),
    /** The tracker's human reference: `ENG-12`, `acme/app#42`; null for a manual improvement. */
    ref: text("ref"),
    /**
     * The tracker's own id (Linear's issue uuid, GitHub's `owner/repo#n` lower-cased): every ticket
     * linked to the same issue has a row with the same (source, external_id), which is how a
     * webhook finds them all.
     */
    externalId: text("external_id"),
  },
  (t) => [
    index("improvements_ticket").on(t.ticketNumber),
    // A webhook's lookup of every ticket linked to one issue; also one link per ticket per issue.
    uniqueIndex("improvements_external")
      .on(t.source, t.externalId, t.ticketNumber)
      .where(sql`${t.externalId} is not null`),
  ],
);

export const surveys = sqliteTable(
  "surveys",
  {
    token: text("token").primaryKey(),
    ticketNumber: integer("ticket_number").notNull(),
    score: integer("score"),
    sentAt: integer("sent_at").notNull(),
    answeredAt: integer("answered_at"),
    /**
     * A link posted where anyone can read it (a public GitHub issue, a Discord channel) stops
     * counting after this; null for links only the requester receives (email, Slack, api).
     */
    expiresAt: integer("expires_at"),
    /** The ticket was reopened before anyone answered: the resolution this survey asked about is gone. */
    revokedAt: integer("revoked_at"),
  },
  (t) => [index("surveys_ticket").on(t.ticketNumber)],
);

export const config = sqliteTable("config", {
  id: text("id").primaryKey(),
  document: text("document", { mode: "json" }).notNull(),
  updatedAt: integer("updated_at").notNull(),
  updatedBy: text("updated_by"),
  /**
   * A new random id with every save: the key each isolate caches the validated document by, so a
   * lookup of a version it holds reads no document text (store/config.ts). Null on rows saved
   * before it existed: those are always read whole.
   */
  version: text("version"),
});

export const quarantine = sqliteTable(
  "quarantine",
  {
    id: text("id").primaryKey(),
    channel: text("channel").notNull(),
    reason: text("reason").notNull(),
    sender: text("sender"),
    recipient: text("recipient"),
    subject: text("subject"),
    externalId: text("external_id"),
    storageKey: text("storage_key"),
    receivedAt: integer("received_at").notNull(),
    /** What could be read of it, so an agent can decide without downloading the raw mail. */
    text: text("text"),
    attachmentCount: integer("attachment_count").notNull().default(0),
    /** The ticket an agent opened from this mail (`POST /v1/quarantine/:id/promote`); set once. */
    promotedTicket: integer("promoted_ticket"),
  },
  (t) => [index("quarantine_received").on(t.receivedAt)],
);

/**
 * What a committed write still owes a ticket's TicketTimer: the sync (clock and outbox items) it
 * must deliver, written in the same D1 batch as the change itself and deleted once the timer has
 * it. A row older than a few seconds is a debt a crash left behind; the reconciler pays it.
 */
export const timerSyncs = sqliteTable(
  "timer_syncs",
  {
    id: text("id").primaryKey(),
    ticketNumber: integer("ticket_number").notNull(),
    /** The TimerSync as JSON; its `revision` makes a late replay harmless. */
    payload: text("payload").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("timer_syncs_created").on(t.createdAt), index("timer_syncs_ticket").on(t.ticketNumber)],
);

/**
 * One row per page a capped ticket's ladder step asked for (`tickets.paging_capped`): whether it
 * went to on-call or was held back by the per-hour cap. The step decides once — written with a
 * guarded insert that counts the pages of the last hour in the same statement, so concurrent
 * timers are serialised by D1 and never page past the cap — and a re-run alarm reads the decision
 * back instead of deciding again.
 */
export const pagingDecisions = sqliteTable(
  "paging_decisions",
  {
    ticketNumber: integer("ticket_number").notNull(),
    /** The escalation it decides, as its dedupe key: `<clock>:page` or `<clock>:breach-page`. */
    step: text("step").notNull(),
    at: integer("at").notNull(),
    paged: integer("paged", { mode: "boolean" }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.ticketNumber, t.step] }),
    // The cap's count reads only the pages of the last hour: at most the cap's worth of rows.
    index("paging_decisions_window").on(t.paged, t.at),
  ],
);

/**
 * Every promised update (SPEC §16), one row per (ticket, promise clock): when it was made, when it
 * is due, when a public staff reply or a resolve fulfilled it (`kept_at`, late or not), and when
 * its `promise` escalation fired. Kept = fulfilled by the due time; broken = due passed without.
 */
export const promises = sqliteTable(
  "promises",
  {
    ticketNumber: integer("ticket_number").notNull(),
    /** The ticket's `promise_seq` for this promise. */
    seq: integer("seq").notNull(),
    madeAt: integer("made_at").notNull(),
    dueAt: integer("due_at").notNull(),
    madeBy: text("made_by").notNull(),
    /** The public reply that made it. */
    messageId: text("message_id").notNull(),
    keptAt: integer("kept_at"),
    escalatedAt: integer("escalated_at"),
  },
  (t) => [
    primaryKey({ columns: [t.ticketNumber, t.seq] }),
    // Covering for the metrics: promises made in a window, with their outcome.
    index("promises_made").on(t.madeAt, t.ticketNumber, t.dueAt, t.keptAt),
    // The open promise of a ticket, kept by a reply or a resolve.
    index("promises_open").on(t.ticketNumber).where(sql`${t.keptAt} is null`),
  ],
);

/**
 * SPEC §14: a `PUT /v1/config` that changes how a policy's clocks are timed (its calendar, that
 * calendar's hours or holidays, its target) owes every running clock of that policy a re-timing
 * from its start. The config write records one row per such policy in its own batch; the
 * re-timer (timer/retime.ts) walks that policy's running clocks in ticket order, a page at a time,
 * moving `after` on in the batch that re-times the page (and records its timer debts).
 */
export const clockRetimes = sqliteTable(
  "clock_retimes",
  {
    id: text("id").primaryKey(),
    policy: text("policy").notNull(),
    /** Tickets up to this number are done. */
    after: integer("after").notNull().default(0),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [index("clock_retimes_created").on(t.createdAt)],
);
