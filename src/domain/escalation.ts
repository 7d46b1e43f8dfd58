import type { Config, PolicyName } from "./config";
import { findTeam, SECURITY_TEAM } from "./routing";
import { formatDeadline, type LadderStep, policyCalendar } from "./sla";
import type { EscalationKind } from "./ticket";

export interface EscalationTicket {
  key: string;
  subject: string;
  policy: PolicyName;
  team: string;
  assignee: string | null;
  customer: string | null;
  escalationLevel: number;
}

/** One line of the ticket's escalation history; `step` makes it unique per clock. */
export interface EscalationRecord {
  step: string;
  kind: EscalationKind;
  level: number;
  target: string;
  detail: string;
}

/** Who to tell, independent of how: the timer turns these into Slack / PagerDuty calls. */
export type Notice =
  | {
      via: "chat";
      to: string;
      text: string;
      /** A notice to a team channel: anyone there may take the ticket (Slack shows a Claim button). */
      claimable?: boolean;
    }
  | { via: "page"; routingKey: string | null; summary: string; severity: "critical" | "error" };

export interface StepPlan {
  records: EscalationRecord[];
  notices: Notice[];
  breached: boolean;
}

export const INCIDENT_LEVEL = 4;

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/** Slack mrkdwn treats &, < and > as control characters. */
export function slackEscape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Line breaks of every kind (CR, LF, NEL, LS, PS, VT, FF) and the other C0/C1 controls. */
const LINE_BREAKS = /[\r\n\v\f\u0085\u2028\u2029]+/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/g;
/** Bidirectional overrides and isolates: they can make a line read as something it is not. */
const BIDI = /[\u202a-\u202e\u2066-\u2069]/g;

/**
 * Customer text (a subject, a name) inside one line of a Slack notice: one line, no controls, and
 * no mrkdwn that acts — `&`, `<` and `>` escaped (so `<!channel>`, `<@U…>` and `<http…|…>` are
 * shown, never parsed, and no line starts a quote), and `@channel`/`@here`/`@everyone` broken by
 * a word joiner in case a workspace links bare names.
 */
export function slackLine(text: string): string {
  const oneLine = text.replace(LINE_BREAKS, " ").replace(CONTROLS, " ").replace(BIDI, "").trim();
  return slackEscape(oneLine).replace(/@(channel|here|everyone)\b/gi, "@\u2060$1");
}

/** Where a security notice goes: the `security` team's channel, else the ticket's own team's. */
export function securityNoticeChannel(config: Pick<Config, "teams">, team: string): string | null {
  const security = config.teams.find((t) => t.id === SECURITY_TEAM && t.slackChannel !== undefined);
  return security?.slackChannel ?? findTeam(config, team)?.slackChannel ?? null;
}

const PUBLIC_CHANNEL_NAMES: Partial<Record<string, string>> = { github: "GitHub", discord: "Discord" };

/**
 * The security team is told when a ticket's follow-up or edit looks security-sensitive: the ticket
 * is now private (and out of the knowledge base); if it came from a public channel the text is
 * still visible there, and only a person can hide it.
 */
export function securityFlipNotice(
  config: Pick<Config, "teams">,
  t: {
    key: string;
    link: string;
    subject: string;
    team: string;
    channel: string;
    keyword: string;
    what: "follow-up" | "edit";
    wasPublic: boolean;
  },
): { to: string; text: string } | null {
  const to = securityNoticeChannel(config, t.team);
  if (to === null) return null;
  const where = PUBLIC_CHANNEL_NAMES[t.channel];
  const still =
    t.wasPublic && where !== undefined
      ? ` The ${t.what} is still public on ${where}: hide or edit it there and move the report somewhere private.`
      : "";
  return {
    to,
    text:
      `:rotating_light: <${t.link}|${t.key}> “${slackLine(t.subject || "(no subject)")}” now looks security-sensitive: ` +
      `a customer ${t.what} mentions “${slackLine(t.keyword)}”. The ticket is private and out of the knowledge base ` +
      `(team ${slackLine(t.team)}).${still}`,
  };
}

interface PlanContext {
  ticket: EscalationTicket;
  config: Config;
  link: string;
  dueAt: number;
  now: number;
  /**
   * Set when this step's page is held back by the paging cap (SPEC §11): why, as the ticket shows
   * it. The step is recorded and the team told, but on-call is not paged.
   */
  pageWithheld?: string;
}

/** Why a capped ticket's page did not go out (`paging.unknownSenderPagesPerHour`). */
export function pageWithheldReason(perHour: number): string {
  if (perHour === 0) {
    return "not paged: critical keywords from unknown senders never page (paging.unknownSenderPagesPerHour = 0)";
  }
  return `not paged: ${perHour} page${perHour === 1 ? "" : "s"} from unknown senders already in the last hour (paging.unknownSenderPagesPerHour = ${perHour})`;
}

/** A page step the cap held back: recorded at the ticket's own level, since on-call was not reached. */
function withheldPageRecord(step: string, level: number, why: string) {
  return { step, kind: "page", level, target: "on-call (not paged)", detail: why } as const;
}

function headline(ctx: PlanContext): string {
  const customer = ctx.ticket.customer === null ? "" : ` · customer ${slackLine(ctx.ticket.customer)}`;
  // SPEC §14: a business deadline reads in its calendar's zone, as the acknowledgement named it.
  const zone = policyCalendar(ctx.ticket.policy, ctx.config)?.timezone ?? ctx.config.timezone;
  const due = formatDeadline(ctx.dueAt, ctx.now, zone);
  return `<${ctx.link}|${ctx.ticket.key}> “${slackLine(ctx.ticket.subject || "(no subject)")}” · team ${slackLine(ctx.ticket.team)}${customer} · due ${due}`;
}

function pageSummary(ctx: PlanContext, why: string): string {
  const subject = ctx.ticket.subject || "(no subject)";
  return `${ctx.ticket.key} ${why}: ${subject}`.slice(0, 1024);
}

/** A step that pages on-call is recorded at the incident level. */
function pageRecord(step: string, detail: string) {
  return { step, kind: "page", level: INCIDENT_LEVEL, target: "pagerduty:on-call", detail } as const;
}

/** Who gets the warning: the assignee directly when we can reach them, else the team's channel. */
function assigneeAddress(ctx: Pick<PlanContext, "ticket" | "config">): string | null {
  return directAddress(ctx.config, ctx.ticket);
}

/**
 * Where a notice for the ticket's assignee goes: the assignee's own Slack user when we can reach
 * them, else the team's channel (naming the assignee there); null when neither exists.
 */
export function assigneeNoticeTarget(
  config: Config,
  ticket: Pick<EscalationTicket, "assignee" | "customer" | "team">,
): { to: string; mention: string | null } | null {
  const direct = directAddress(config, ticket);
  if (direct !== null) return { to: direct, mention: null };
  const channel = findTeam(config, ticket.team)?.slackChannel;
  if (channel === undefined) return null;
  return { to: channel, mention: ticket.assignee === null ? null : slackLine(ticket.assignee) };
}

function directAddress(
  config: Config,
  ticket: Pick<EscalationTicket, "assignee" | "customer">,
): string | null {
  const { assignee } = ticket;
  if (assignee === null) return null;
  const agent = config.agents.find((a) => a.id === assignee || a.name === assignee);
  if (agent?.slackUserId !== undefined) return agent.slackUserId;
  const customer = config.customers.find((c) => c.id === ticket.customer);
  const engineer = customer?.accountEngineer;
  if (engineer?.slackUserId !== undefined && (engineer.name === assignee || engineer.email === assignee)) {
    return engineer.slackUserId;
  }
  return SLACK_USER_ID.test(assignee) ? assignee : null;
}

/**
 * A `warning` step of either ladder (response clock or promise clock): the assignee directly when
 * we can reach them, else the team's channel naming the assignee; the team when unassigned.
 */
export function warningPlan(
  w: {
    ticket: EscalationTicket;
    config: Config;
    step: string;
    level: number;
    detail: string;
    toTeam: (text: string) => Notice[];
  },
  text: string,
): StepPlan {
  const { ticket, step, level, detail } = w;
  if (ticket.assignee === null) {
    return {
      records: [{ step, kind: "warning", level, target: `team:${ticket.team}`, detail }],
      notices: w.toTeam(text),
      breached: false,
    };
  }
  const direct = assigneeAddress({ ticket, config: w.config });
  const mention = direct === null ? slackLine(ticket.assignee) : `<@${direct}>`;
  return {
    records: [{ step, kind: "warning", level, target: `agent:${ticket.assignee}`, detail }],
    notices: direct !== null ? [{ via: "chat", to: direct, text }] : w.toTeam(`${mention}: ${text}`),
    breached: false,
  };
}

export function planStep(step: LadderStep, ctx: PlanContext): StepPlan {
  const team = findTeam(ctx.config, ctx.ticket.team);
  const teamChannel = team?.slackChannel ?? null;
  const teamTarget = `team:${ctx.ticket.team}`;
  const level = ctx.ticket.escalationLevel;
  const head = headline(ctx);
  const routingKey = team?.pagerdutyRoutingKey ?? null;
  const toTeam = (text: string): Notice[] =>
    teamChannel === null ? [] : [{ via: "chat", to: teamChannel, text, claimable: true }];

  switch (step) {
    case "page":
      if (ctx.pageWithheld !== undefined) {
        return {
          records: [withheldPageRecord(step, level, ctx.pageWithheld)],
          notices: toTeam(
            `:rotating_light: Critical ticket from an unknown sender — on-call was ${slackEscape(ctx.pageWithheld)}. ${head}`,
          ),
          breached: false,
        };
      }
      return {
        records: [pageRecord(step, "critical at intake")],
        notices: [
          { via: "page", routingKey, summary: pageSummary(ctx, "critical"), severity: "critical" },
          ...toTeam(`:rotating_light: Critical ticket — on-call paged. ${head}`),
        ],
        breached: false,
      };
    case "warning":
      return warningPlan(
        { ticket: ctx.ticket, config: ctx.config, step, level, detail: "75 % of target", toTeam },
        `:hourglass_flowing_sand: 75 % of the response time is gone. ${head}`,
      );
    case "breach": {
      const text = `:red_circle: Response deadline missed. ${head}`;
      const records: EscalationRecord[] = [
        { step, kind: "breach", level, target: teamTarget, detail: "100 % of target" },
      ];
      const notices: Notice[] = toTeam(text);
      if (ctx.ticket.policy === "enterprise-slack") {
        const customer = ctx.config.customers.find((c) => c.id === ctx.ticket.customer);
        const engineer = customer?.accountEngineer;
        if (engineer !== undefined) {
          records[0] = {
            ...records[0],
            target: `${teamTarget}, account-engineer:${engineer.name}`,
          } as EscalationRecord;
          if (engineer.slackUserId !== undefined)
            notices.push({ via: "chat", to: engineer.slackUserId, text });
        }
      }
      if (ctx.ticket.policy === "critical" && ctx.pageWithheld !== undefined) {
        records.push(
          withheldPageRecord("breach-page", level, `critical deadline missed: ${ctx.pageWithheld}`),
        );
      } else if (ctx.ticket.policy === "critical") {
        records.push(pageRecord("breach-page", "critical deadline missed: re-page"));
        notices.push({
          via: "page",
          routingKey,
          summary: pageSummary(ctx, "missed its 1-hour deadline"),
          severity: "critical",
        });
      }
      return { records, notices, breached: true };
    }
    case "overdue": {
      const text = `:warning: Twice the response time and still unanswered. ${head}`;
      if (ctx.ticket.policy === "enterprise-slack") {
        return {
          records: [pageRecord(step, "200 % of target")],
          notices: [
            {
              via: "page",
              routingKey,
              summary: pageSummary(ctx, "enterprise ticket unanswered at 200 %"),
              severity: "error",
            },
            ...toTeam(text),
          ],
          breached: true,
        };
      }
      const lead = team?.lead ?? null;
      const leadNotices: Notice[] =
        lead !== null && SLACK_USER_ID.test(lead)
          ? [{ via: "chat", to: lead, text }]
          : toTeam(lead === null ? text : `${slackLine(lead)}: ${text}`);
      return {
        records: [
          { step, kind: "lead", level, target: `lead:${lead ?? ctx.ticket.team}`, detail: "200 % of target" },
        ],
        notices: leadNotices,
        breached: true,
      };
    }
  }
}
