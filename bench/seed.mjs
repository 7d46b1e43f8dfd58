// Bulk rows for the benchmark's local D1, generated inside SQLite: each statement is a recursive
// CTE that produces 50,000 rows, so a million tickets and their messages take a few hundred bytes of
// SQL and run as `wrangler d1 execute --local --file` (the same local D1 the desk then opens; no
// native dependency). Tickets are numbered 1..n (rowid order = age order, newest last).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { d1Bytes, d1File, d1SqliteFile, round } from "./desk.mjs";

const CHUNK = 50_000;
const QUEUE_PENDING = 8640000000000000;
const QUEUE_RESOLVED = 8640000000000001;

/** `WITH RECURSIVE seq(i) AS (…)`: i from `from` to `to - 1`. */
const seq = (from, to) =>
  `WITH RECURSIVE seq(i) AS (SELECT ${from} UNION ALL SELECT i + 1 FROM seq WHERE i < ${to - 1})`;

// A customer's message and a staff reply of realistic length (D1 stores text as it is: no compression).
const CUSTOMER_TEXT =
  "Hello, since this morning our webhook deliveries arrive 10 to 15 minutes late and some of them twice. " +
  "We did not change anything on our side; the endpoint answers 200 within 80 ms. Request ids from the " +
  "dashboard: ";
const STAFF_TEXT =
  "Thanks for the request ids. We found a backlog on one delivery node and drained it; deliveries should " +
  "be on time again. Duplicates carry the same webhook-id header, so your receiver can drop the copy. ";
const ACK_TEXT = "Thanks — we have your request as SUP-%d. We will reply by 14:32 UTC, within 24 hours.";

function ticketsSql(from, to, n, now, spanMs) {
  // Ticket i (1-based number i + 1) was created `spanMs` ago for i = 0 and just now for i = n - 1.
  const created = `(${now} - ${spanMs} + CAST(i AS INTEGER) * ${Math.floor(spanMs / n)})`;
  const status = "CASE i % 3 WHEN 0 THEN 'open' WHEN 1 THEN 'pending' ELSE 'resolved' END";
  const channel =
    "CASE i % 5 WHEN 0 THEN 'email' WHEN 1 THEN 'slack' WHEN 2 THEN 'github' WHEN 3 THEN 'discord' ELSE 'api' END";
  return `${seq(from, to)}
INSERT INTO tickets (number, channel, subject, status, priority, policy, team, assignee, customer, visibility,
  security, escalation_level, requester_name, requester_email, requester_handle, channel_name, callback_url,
  created_at, updated_at, first_response_at, resolved_at, clock_seq, clock_started_at, response_due_at,
  first_due_at, queue_due_at, breached, acknowledged_at, revision)
SELECT i + 1, ${channel}, 'Webhook deliveries late since this morning (' || i || ')', ${status},
  CASE WHEN i % 50 = 0 THEN 'critical' ELSE 'normal' END,
  CASE WHEN i % 50 = 0 THEN 'critical' ELSE ${channel} END,
  CASE i % 3 WHEN 0 THEN 'support' WHEN 1 THEN 'platform' ELSE 'security' END,
  CASE WHEN i % 7 = 0 THEN 'alice' ELSE NULL END,
  CASE WHEN i % 4 = 0 THEN 'acme' ELSE NULL END,
  CASE WHEN i % 5 IN (2, 3) THEN 'public' ELSE 'private' END,
  0, 2, 'Customer ' || (i % 5000), 'customer' || (i % 5000) || '@example.com', NULL, 'support@example.com', NULL,
  ${created}, ${created} + 600000,
  CASE WHEN i % 3 = 0 THEN NULL ELSE ${created} + (i % 7200) * 1000 END,
  CASE WHEN i % 3 = 2 THEN ${created} + 7200000 + (i % 86400) * 1000 ELSE NULL END,
  1,
  CASE WHEN i % 3 = 0 THEN ${created} ELSE NULL END,
  CASE WHEN i % 3 = 0 THEN ${created} + 86400000 ELSE NULL END,
  ${created} + 86400000,
  CASE i % 3 WHEN 0 THEN ${created} + 86400000 WHEN 1 THEN ${QUEUE_PENDING} ELSE ${QUEUE_RESOLVED} END,
  CASE WHEN i % 11 = 0 THEN 1 ELSE 0 END, ${created}, 3
FROM seq;
`;
}

/**
 * Every ticket's conversation: the customer's message, the acknowledgement, and for every ticket
 * that was answered (pending, resolved: two in three) a staff reply; every third ticket a second
 * customer message. About 2.9 messages a ticket, with their idempotency records and thread keys.
 */
function messagesSql(from, to) {
  const created = "(SELECT created_at FROM tickets WHERE number = i + 1)";
  return `${seq(from, to)}
INSERT INTO messages (id, ticket_number, direction, kind, author, sender, subject, text, html, created_at, external_id, delivery_status, threaded_by)
SELECT lower(hex(randomblob(16))), i + 1, 'inbound', 'customer', 'Customer ' || (i % 5000), 'customer' || (i % 5000) || '@example.com',
  NULL, '${CUSTOMER_TEXT}' || lower(hex(randomblob(12))), NULL, ${created}, '<' || lower(hex(randomblob(12))) || '@mail.example.com>', NULL, NULL FROM seq;
${seq(from, to)}
INSERT INTO messages (id, ticket_number, direction, kind, author, text, created_at, delivery_status)
SELECT lower(hex(randomblob(16))), i + 1, 'outbound', 'system', 'switchboard', printf('${ACK_TEXT}', i + 1), ${created} + 1, 'sent' FROM seq;
${seq(from, to)}
INSERT INTO messages (id, ticket_number, direction, kind, author, text, created_at, delivery_status)
SELECT lower(hex(randomblob(16))), i + 1, 'outbound', 'staff', 'alice', '${STAFF_TEXT}', ${created} + 3600000, 'sent' FROM seq WHERE i % 3 <> 0;
${seq(from, to)}
INSERT INTO messages (id, ticket_number, direction, kind, author, sender, text, created_at, external_id, threaded_by)
SELECT lower(hex(randomblob(16))), i + 1, 'inbound', 'customer', 'Customer ' || (i % 5000), 'customer' || (i % 5000) || '@example.com',
  'Thanks, that fixed it for us. ' || lower(hex(randomblob(12))), ${created} + 7000000, '<' || lower(hex(randomblob(12))) || '@mail.example.com>', 'thread-key' FROM seq WHERE i % 3 = 0;
${seq(from, to)}
INSERT INTO idempotency_keys (channel, key, ticket_number, message_id, created, response_due_at, created_at)
SELECT 'email', '<seed-' || i || '@mail.example.com>', i + 1, lower(hex(randomblob(16))), 1, ${created} + 86400000, ${created} FROM seq;
${seq(from, to)}
INSERT INTO thread_keys (channel, key, ticket_number, created_at)
SELECT 'email', '<seed-' || i || '@mail.example.com>', i + 1, ${created} FROM seq;
`;
}

function runSql(persist, name, text) {
  const file = path.join(os.tmpdir(), `switchboard-seed-${process.pid}-${name}.sql`);
  fs.writeFileSync(file, text);
  try {
    d1File(persist, file);
  } finally {
    fs.rmSync(file, { force: true });
  }
}

/**
 * Seed `n` tickets created over `spanDays` (oldest first), optionally with their messages, into
 * the migrated local D1 under `persist`. Returns the time it took and what the database grew by.
 */
export function seedTickets(persist, n, { spanDays = 60, messages = false, log = () => {} } = {}) {
  const now = Date.now();
  const spanMs = spanDays * 86_400_000;
  const file = d1SqliteFile(persist);
  const size = () => d1Bytes(file);
  const empty = size();
  const t0 = performance.now();
  for (let from = 0; from < n; from += CHUNK * 4) {
    const parts = [];
    for (let a = from; a < Math.min(from + CHUNK * 4, n); a += CHUNK)
      parts.push(ticketsSql(a, Math.min(a + CHUNK, n), n, now, spanMs));
    runSql(persist, `tickets-${from}`, parts.join(""));
    log(`  tickets ${Math.min(from + CHUNK * 4, n)} / ${n}`);
  }
  const ticketsSeconds = (performance.now() - t0) / 1000;
  const afterTickets = size();
  let messageSeconds = 0;
  if (messages) {
    const t1 = performance.now();
    for (let from = 0; from < n; from += CHUNK * 2) {
      const parts = [];
      for (let a = from; a < Math.min(from + CHUNK * 2, n); a += CHUNK)
        parts.push(messagesSql(a, Math.min(a + CHUNK, n)));
      runSql(persist, `messages-${from}`, parts.join(""));
      log(`  messages for ${Math.min(from + CHUNK * 2, n)} / ${n} tickets`);
    }
    messageSeconds = (performance.now() - t1) / 1000;
  }
  runSql(persist, "analyze", "ANALYZE;\n");
  const after = size();
  return {
    tickets: n,
    spanDays,
    seconds: round(ticketsSeconds + messageSeconds),
    bytes: { empty, afterTickets, total: after },
  };
}
