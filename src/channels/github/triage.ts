import { deskUrl, ticketKey } from "../../domain/ticket";
import { digestText, isTriageDay, localWeekTime } from "../../domain/triage";
import { deliver, type OutboundEnv } from "../../notify";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import { claimOnce, githubThreadKeysOf, openGithubTickets, releaseClaim } from "../../store/triage";
import { slackNotice } from "../outbound";
import { githubIssueOf } from "./keys";

export type TriageRun =
  | { ran: false; reason: string }
  | { ran: true; posted: string[]; failed: string[]; alreadySent: string[] };

/**
 * The weekly engineering triage: each team's open GitHub tickets, with age and state, to the
 * team's Slack channel. The cron runs hourly (crons are UTC); this decides in the desk's time
 * zone whether it is time. Once per team per ISO week: a `digest:<team>:<week>` key is claimed
 * before posting and given back if the post fails, so the next hourly run retries it.
 */
export async function runWeeklyTriage(
  env: OutboundEnv & { DB: D1Database },
  scheduledTime: number,
): Promise<TriageRun> {
  const db = database(env.DB);
  const config = await loadConfig(db);
  const local = localWeekTime(scheduledTime, config.timezone);
  if (!isTriageDay(local, config.github.triage)) return { ran: false, reason: "not the triage hour" };
  const rows = await openGithubTickets(db);
  const issues = await githubThreadKeysOf(
    db,
    rows.map((r) => r.number),
  );
  const base = deskUrl(env.PUBLIC_URL);
  const run = {
    ran: true as const,
    posted: [] as string[],
    failed: [] as string[],
    alreadySent: [] as string[],
  };
  for (const team of config.teams) {
    const mine = rows.filter((r) => r.team === team.id);
    // Empty teams get nothing; a team without a channel cannot be told.
    if (mine.length === 0 || team.slackChannel === undefined) continue;
    const claim = `digest:${team.id}:${local.isoWeek}`;
    if (!(await claimOnce(db, claim, scheduledTime))) {
      run.alreadySent.push(team.id);
      continue;
    }
    const text = digestText(
      team,
      mine.map((r) => {
        const issue = githubIssueOf(issues.get(r.number) ?? []);
        return {
          key: ticketKey(r.number),
          subject: r.subject,
          status: r.status,
          priority: r.priority,
          createdAt: r.createdAt,
          responseDueAt: r.responseDueAt,
          breached: r.breached,
          issue: issue === null ? null : `${issue.repo}#${issue.issue}`,
        };
      }),
      { now: scheduledTime, timeZone: config.timezone, link: (key) => `${base}/tickets/${key}` },
    );
    const outcome = await deliver(env, slackNotice(team.slackChannel, text));
    if (outcome.ok === false) {
      console.warn(`triage digest for ${team.id} failed (${outcome.error}); the next hourly run retries`);
      await releaseClaim(db, claim);
      run.failed.push(team.id);
      continue;
    }
    if (outcome.ok === "skipped") console.log(`triage digest for ${team.id} skipped: ${outcome.reason}`);
    run.posted.push(team.id);
  }
  return run;
}
