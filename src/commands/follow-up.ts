import { linearIssueRef } from "../domain/improvements";
import { findTeam } from "../domain/routing";
import { ticketKey, ticketUrl } from "../domain/ticket";
import type { DeskEnv } from "../env";
import { type FeedEnv, publishChange } from "../live/publish";
import {
  createLinearIssue,
  findLinearIssue,
  type LinearEnv,
  type LinearIssue,
  type OutboxItem,
} from "../notify";
import { loadConfig } from "../store/config";
import { database, isUniqueViolation } from "../store/db";
import { ticketImprovements } from "../store/improvements";
import { getSurvey, recordSurveyAnswer, type SurveyState } from "../store/surveys";
import {
  type CommandOnce,
  commandRecord,
  commandRecordInsert,
  firstCustomerText,
  recordIncident,
} from "../store/ticket-changes";
import { getTicketRow, type TicketRow } from "../store/tickets";
import { newTimerDebt, payTimerDebt } from "../timer/client";
import { reconcileTimers } from "../timer/reconcile";
import { linkLinearIssue } from "./improvements";
import { commandOnce } from "./tickets";

export type FollowUpEnv = DeskEnv & LinearEnv;

export type EscalationResult =
  | {
      ok: true;
      level: number;
      improvement?: { kind: "bug"; title: string; url: string };
      replay: boolean;
      /** Engineering: `filed` a new Linear issue, or `linked` one already filed (SPEC §13). */
      linear?: "filed" | "linked";
    }
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "not_configured"; detail: string }
  | { ok: false; reason: "issue_not_found"; detail: string }
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
  options: { idempotencyKey?: string; issue?: string } = {},
): Promise<EscalationResult> {
  const db = database(env.DB);
  const once = commandOnce(to, agent, number, options.idempotencyKey);
  const first = once === undefined ? undefined : await escalationReplay(env, db, once, number);
  if (first !== undefined) return first;
  const ticket = await getTicketRow(db, number);
  if (ticket === undefined) return { ok: false, reason: "not_found" };
  const key = ticketKey(number);
  const link = ticketUrl(env.PUBLIC_URL, key);
  const now = Date.now();
  if (to === "engineering") return escalateToEngineering(env, ticket, agent, once, options.issue);
  const config = await loadConfig(db);
  const escalationId = crypto.randomUUID();
  const page: OutboxItem = {
    id: `incident:${escalationId}`,
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
  const debt = newTimerDebt("updated", [page]);
  let updated: TicketRow | undefined;
  try {
    updated = await recordIncident(db, {
      escalation: {
        id: escalationId,
        ticketNumber: number,
        dedupeKey: `incident:${escalationId}`,
        kind: "incident",
        level: INCIDENT_LEVEL,
        target: "pagerduty:on-call",
        detail: `declared by ${agent}`,
        at: now,
        dueAt: null,
      },
      level: INCIDENT_LEVEL,
      timerDebt: { id: debt.id, payload: debt.payload },
      ...(once === undefined ? {} : { once }),
      now,
    });
  } catch (error) {
    const raced =
      once !== undefined && isUniqueViolation(error)
        ? await escalationReplay(env, db, once, number)
        : undefined;
    if (raced !== undefined) return raced;
    throw error;
  }
  if (updated !== undefined) await payTimerDebt(env, db, debt.id, updated, debt.debt);
  return { ok: true, level: Math.max(ticket.escalationLevel, INCIDENT_LEVEL), replay: false };
}

/**
 * File the bug in Linear, or link the one already filed: an issue the agent names (`issue`), or
 * the Linear issue this ticket already links. Many tickets share one bug this way: the second
 * ticket escalated to ENG-12 is linked to it (and attached on it), not filed again.
 */
async function escalateToEngineering(
  env: FollowUpEnv,
  ticket: TicketRow,
  agent: string,
  once: CommandOnce | undefined,
  named: string | undefined,
): Promise<EscalationResult> {
  const db = database(env.DB);
  const key = ticketKey(ticket.number);
  const link = ticketUrl(env.PUBLIC_URL, key);
  const ref = named === undefined ? null : linearIssueRef(named);
  const already = (await ticketImprovements(db, ticket.number)).find(
    (i) => i.source === "linear" && i.externalId !== null && i.ref !== null,
  );
  let issue: LinearIssue;
  let how: "filed" | "linked";
  if (ref !== null || already !== undefined) {
    const found = await findLinearIssue(env, ref ?? already?.externalId ?? "");
    if (!found.ok) {
      if (found.reason === "not_configured")
        return { ok: false, reason: "not_configured", detail: found.detail };
      if (found.reason === "not_found") return { ok: false, reason: "issue_not_found", detail: found.detail };
      return { ok: false, reason: "upstream_failed", detail: found.detail };
    }
    issue = found.issue;
    how = "linked";
  } else {
    const config = await loadConfig(db);
    const filed = await createLinearIssue(env, {
      teamId: findTeam(config, ticket.team)?.linearTeamId,
      title: `${key}: ${ticket.subject || "(no subject)"}`.slice(0, 250),
      description: await linearDescription(env, ticket, link, agent),
    });
    if (!filed.ok) {
      return filed.reason === "not_configured"
        ? { ok: false, reason: "not_configured", detail: filed.detail }
        : { ok: false, reason: "upstream_failed", detail: filed.detail };
    }
    issue = {
      id: filed.id,
      identifier: filed.identifier,
      title: ticket.subject || key,
      url: filed.url,
      stateType: null,
    };
    how = "filed";
  }
  const now = Date.now();
  const escalationId = crypto.randomUUID();
  let linked: Awaited<ReturnType<typeof linkLinearIssue>>;
  try {
    linked = await linkLinearIssue(env, ticket, issue, {
      kind: "bug",
      title: `${issue.identifier}: ${ticket.subject || issue.title || key}`.slice(0, 300),
      agent,
      escalation: {
        id: escalationId,
        dedupeKey: `engineering:${issue.id}`,
        kind: "engineering",
        level: ENGINEERING_LEVEL,
        target: `linear:${issue.identifier}`,
        detail: `${how} by ${agent}: ${issue.url}`,
        at: now,
        dueAt: null,
      },
      level: ENGINEERING_LEVEL,
      ...(once === undefined
        ? {}
        : { before: [commandRecordInsert(db, once, ticket.number, escalationId, now)] }),
    });
  } catch (error) {
    // The same Idempotency-Key racing this request won, or the ticket was escalated to this issue
    // before (one engineering escalation per ticket per issue): nothing new was written.
    if (!isUniqueViolation(error)) throw error;
    const raced = once === undefined ? undefined : await escalationReplay(env, db, once, ticket.number);
    if (raced !== undefined) return raced;
    const row = await getTicketRow(db, ticket.number);
    return {
      ok: true,
      level: row?.escalationLevel ?? ticket.escalationLevel,
      replay: true,
      linear: "linked",
    };
  }
  if (!linked.ok) return { ok: false, reason: "not_found" };
  return {
    ok: true,
    level: Math.max(ticket.escalationLevel, ENGINEERING_LEVEL),
    improvement: { kind: "bug", title: linked.improvement.title, url: issue.url },
    replay: false,
    linear: how,
  };
}

/** An escalation seen before under its Idempotency-Key: its debts paid, the ticket's level as it is now. */
async function escalationReplay(
  env: FollowUpEnv,
  db: ReturnType<typeof database>,
  once: CommandOnce,
  number: number,
): Promise<EscalationResult | undefined> {
  if ((await commandRecord(db, once)) === undefined) return undefined;
  await reconcileTimers(env, { ticketNumber: number });
  const row = await getTicketRow(db, number);
  return row === undefined ? undefined : { ok: true, level: row.escalationLevel, replay: true };
}

async function linearDescription(
  env: FollowUpEnv,
  ticket: TicketRow,
  link: string,
  agent: string,
): Promise<string> {
  const text = (await firstCustomerText(database(env.DB), ticket.number)).slice(0, 4000);
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
  | { ok: true; ticket: string | null }
  | { ok: false; reason: SurveyClosed | "unknown"; ticket: string | null };

/** Why a survey no longer takes an answer. */
export type SurveyClosed = "already_answered" | "revoked" | "expired";

/** The reason a survey no longer counts, or null while it takes an answer. */
export function surveyClosed(survey: SurveyState, now: number): SurveyClosed | null {
  if (survey.answeredAt !== null) return "already_answered";
  if (survey.revokedAt !== null) return "revoked";
  if (survey.expiresAt !== null && survey.expiresAt <= now) return "expired";
  return null;
}

/**
 * Single use: the first answer is kept, a second one is refused; so is one after the ticket was
 * reopened (the survey asked about a resolution that no longer holds) or after a public link's
 * lifetime. The ticket is named only when it is public: a survey page is public too.
 */
export async function answerSurvey(
  env: { DB: D1Database } & FeedEnv,
  token: string,
  score: number,
): Promise<SurveyAnswer> {
  const db = database(env.DB);
  const now = Date.now();
  const answered = await recordSurveyAnswer(db, token, score, now);
  const survey = await getSurvey(db, token);
  const ticket = survey?.ticketPublic === true ? ticketKey(survey.ticketNumber) : null;
  if (answered !== undefined) {
    if (survey !== undefined) publishChange(env, survey.ticketNumber, "survey");
    return { ok: true, ticket };
  }
  if (survey === undefined) return { ok: false, reason: "unknown", ticket: null };
  return { ok: false, reason: surveyClosed(survey, now) ?? "already_answered", ticket };
}

export async function surveyState(env: { DB: D1Database }, token: string): Promise<SurveyState | undefined> {
  return getSurvey(database(env.DB), token);
}
