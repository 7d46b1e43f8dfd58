import { and, eq, isNull, sql } from "drizzle-orm";
import { findTeam } from "../domain/routing";
import type { ImprovementKind } from "../domain/ticket";
import { ticketKey } from "../domain/ticket";
import { createLinearIssue, type LinearEnv } from "../notify/linear";
import type { OutboxItem } from "../notify/types";
import { loadConfig } from "../store/config";
import { database } from "../store/db";
import { escalations, improvements, surveys, tickets } from "../store/schema";
import { getTicketRow, type TicketRow } from "../store/tickets";
import { syncTimer } from "../timer/client";
import type { DeskEnv } from "./tickets";

export type FollowUpEnv = DeskEnv & LinearEnv;

export interface ImprovementInput {
  kind: ImprovementKind;
  title: string;
  url?: string | null;
}

export type ImprovementResult =
  | {
      ok: true;
      improvement: { id: string; kind: ImprovementKind; title: string; url: string | null; at: number };
    }
  | { ok: false; reason: "not_found" };

/** Link a ticket to a product improvement (bug, docs, error message, API, other). */
export async function addImprovement(
  env: FollowUpEnv,
  number: number,
  input: ImprovementInput,
): Promise<ImprovementResult> {
  const db = database(env.DB);
  const ticket = await getTicketRow(db, number);
  if (ticket === undefined) return { ok: false, reason: "not_found" };
  const improvement = {
    id: crypto.randomUUID(),
    kind: input.kind,
    title: input.title,
    url: input.url ?? null,
    at: Date.now(),
  };
  await db.insert(improvements).values({ ...improvement, ticketNumber: number, createdAt: improvement.at });
  return { ok: true, improvement };
}

export type EscalationResult =
  | { ok: true; level: number; improvement?: { kind: "bug"; title: string; url: string } }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "not_configured"; detail: string }
  | { ok: false; reason: "upstream_failed"; detail: string };

const ENGINEERING_LEVEL = 3;
const INCIDENT_LEVEL = 4;

/**
 * `engineering`: file the bug in Linear (the team's `linearTeamId`) with the ticket's summary and a
 * link back, and link it as a `bug` improvement. `incident`: page on-call through PagerDuty.
 * Either raises `escalationLevel`. Nothing is recorded when Linear refuses.
 */
export async function escalateTicket(
  env: FollowUpEnv,
  number: number,
  to: "engineering" | "incident",
  agent: string,
): Promise<EscalationResult> {
  const db = database(env.DB);
  const ticket = await getTicketRow(db, number);
  if (ticket === undefined) return { ok: false, reason: "not_found" };
  const key = ticketKey(number);
  const link = `${(env.PUBLIC_URL || "http://localhost:8787").replace(/\/+$/, "")}/tickets/${key}`;
  const now = Date.now();
  if (to === "engineering") {
    const config = await loadConfig(db);
    const issue = await createLinearIssue(env, {
      teamId: findTeam(config, ticket.team)?.linearTeamId,
      title: `${key}: ${ticket.subject || "(no subject)"}`.slice(0, 250),
      description: await linearDescription(env, ticket, link, agent),
    });
    if (!issue.ok) {
      return issue.reason === "not_configured"
        ? { ok: false, reason: "not_configured", detail: issue.detail }
        : { ok: false, reason: "upstream_failed", detail: issue.detail };
    }
    const title = `${issue.identifier}: ${ticket.subject || key}`.slice(0, 300);
    await db.batch([
      db.insert(improvements).values({
        id: crypto.randomUUID(),
        ticketNumber: number,
        kind: "bug",
        title,
        url: issue.url,
        createdAt: now,
      }),
      db.insert(escalations).values({
        id: crypto.randomUUID(),
        ticketNumber: number,
        dedupeKey: `engineering:${issue.id}`,
        kind: "engineering",
        level: ENGINEERING_LEVEL,
        target: `linear:${issue.identifier}`,
        detail: `filed by ${agent}: ${issue.url}`,
        at: now,
        dueAt: null,
      }),
      raiseLevel(db, number, ENGINEERING_LEVEL),
    ]);
    return {
      ok: true,
      level: Math.max(ticket.escalationLevel, ENGINEERING_LEVEL),
      improvement: { kind: "bug", title, url: issue.url },
    };
  }
  const [, updated] = await db.batch([
    db.insert(escalations).values({
      id: crypto.randomUUID(),
      ticketNumber: number,
      dedupeKey: `incident:${crypto.randomUUID()}`,
      kind: "incident",
      level: INCIDENT_LEVEL,
      target: "pagerduty:on-call",
      detail: `declared by ${agent}`,
      at: now,
      dueAt: null,
    }),
    raiseLevel(db, number, INCIDENT_LEVEL),
  ]);
  const row = (updated as TicketRow[])[0] ?? ticket;
  const config = await loadConfig(db);
  const page: OutboxItem = {
    id: `incident:${row.revision}`,
    label: "PagerDuty page (incident declared)",
    delivery: {
      service: "pagerduty",
      routingKey: findTeam(config, ticket.team)?.pagerdutyRoutingKey ?? null,
      action: "trigger",
      dedupKey: key,
      summary: `${key} incident: ${ticket.subject || "(no subject)"}`.slice(0, 1024),
      severity: "critical",
      link,
    },
  };
  await syncTimer(env, row, "updated", [page]);
  return { ok: true, level: Math.max(ticket.escalationLevel, INCIDENT_LEVEL) };
}

function raiseLevel(db: ReturnType<typeof database>, number: number, level: number) {
  return db
    .update(tickets)
    .set({
      escalationLevel: sql`max(${tickets.escalationLevel}, ${level})`,
      revision: sql`${tickets.revision} + 1`,
      updatedAt: Date.now(),
    })
    .where(eq(tickets.number, number))
    .returning();
}

async function linearDescription(
  env: FollowUpEnv,
  ticket: TicketRow,
  link: string,
  agent: string,
): Promise<string> {
  const db = database(env.DB);
  const first = await db.run(
    sql`select text from messages where ticket_number = ${ticket.number} and kind = 'customer' order by created_at limit 1`,
  );
  const text = String((first.results[0] as { text?: unknown } | undefined)?.text ?? "").slice(0, 4000);
  return [
    `Escalated from support ticket [${ticketKey(ticket.number)}](${link}) by ${agent}.`,
    "",
    `- Channel: ${ticket.channel}`,
    `- Team: ${ticket.team}`,
    `- Priority: ${ticket.priority}`,
    ...(ticket.customer === null ? [] : [`- Customer: ${ticket.customer}`]),
    "",
    "Customer's report:",
    "",
    ...text.split("\n").map((line) => `> ${line}`),
  ].join("\n");
}

export type SurveyAnswer =
  | { ok: true; ticket: string }
  | { ok: false; reason: "unknown" | "already_answered"; ticket?: string };

/** Single use: the first answer is kept, a second one is refused. */
export async function answerSurvey(
  env: { DB: D1Database },
  token: string,
  score: number,
): Promise<SurveyAnswer> {
  const db = database(env.DB);
  const updated = await db
    .update(surveys)
    .set({ score, answeredAt: Date.now() })
    .where(and(eq(surveys.token, token), isNull(surveys.answeredAt)))
    .returning({ ticketNumber: surveys.ticketNumber });
  const row = updated[0];
  if (row !== undefined) return { ok: true, ticket: ticketKey(row.ticketNumber) };
  const existing = await db.select().from(surveys).where(eq(surveys.token, token)).get();
  return existing === undefined
    ? { ok: false, reason: "unknown" }
    : { ok: false, reason: "already_answered", ticket: ticketKey(existing.ticketNumber) };
}

export async function surveyState(env: { DB: D1Database }, token: string) {
  return database(env.DB).select().from(surveys).where(eq(surveys.token, token)).get();
}
