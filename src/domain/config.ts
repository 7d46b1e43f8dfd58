import { z } from "zod";
import { calendarProblems, WEEKDAYS, type Weekday, weeklyOpenMinutes } from "./business-hours";
import { channelSchema } from "./inbound";
import { dateTimeFormat } from "./intl";

export const POLICIES = [
  "critical",
  "enterprise-slack",
  "slack",
  "github",
  "discord",
  "email",
  "api",
] as const;
export const policyNameSchema = z.enum(POLICIES);
export type PolicyName = z.infer<typeof policyNameSchema>;

/**
 * Upper bounds of every list in the routing document (README "Limits"): each intake and every
 * alarm walks them, so their size is the desk's cost per message. Generous for a real desk.
 */
export const CONFIG_LIMITS = {
  teams: 200,
  customers: 5000,
  emailDomainsPerCustomer: 50,
  slackTeamIdsPerCustomer: 20,
  agents: 1000,
  routes: 500,
  keywordsPerRoute: 50,
  criticalKeywords: 200,
  securityKeywords: 200,
  criticalLabels: 50,
  githubBotLogins: 20,
  githubRepos: 200,
} as const;

/** The paging cap's default (`paging.unknownSenderPagesPerHour`, SPEC §11). */
export const DEFAULT_UNKNOWN_SENDER_PAGES_PER_HOUR = 3;

const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "lower-case letters, digits, '-' and '_'");

export const teamSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  slackChannel: z.string().min(1).max(64).optional(),
  pagerdutyRoutingKey: z.string().min(1).max(128).optional(),
  linearTeamId: z.string().min(1).max(128).optional(),
  /** The team lead: a Slack user id (U…) is mentioned, anything else is named. */
  lead: z.string().min(1).max(200).optional(),
});
export type Team = z.infer<typeof teamSchema>;

export const accountEngineerSchema = z.strictObject({
  name: z.string().min(1).max(200),
  email: z.string().max(320).email().optional(),
  slackUserId: z.string().min(1).max(64).optional(),
});
export type AccountEngineer = z.infer<typeof accountEngineerSchema>;

export const customerSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  tier: z.enum(["enterprise", "standard", "community"]),
  emailDomains: z.array(z.string().min(1).max(253)).max(CONFIG_LIMITS.emailDomainsPerCustomer).default([]),
  slackTeamIds: z.array(z.string().min(1).max(64)).max(CONFIG_LIMITS.slackTeamIdsPerCustomer).default([]),
  accountEngineer: accountEngineerSchema.optional(),
});
export type Customer = z.infer<typeof customerSchema>;

/** Agents who can be reached directly (an extension of SPEC §6: warnings go to the assignee). */
export const agentSchema = z.strictObject({
  id,
  name: z.string().min(1).max(200),
  email: z.string().max(320).email().optional(),
  slackUserId: z.string().min(1).max(64).optional(),
});
export type Agent = z.infer<typeof agentSchema>;

export const routeConditionSchema = z
  .strictObject({
    channel: channelSchema.optional(),
    to: z.string().min(1).max(320).optional(),
    githubRepo: z.string().min(1).max(200).optional(),
    slackChannel: z.string().min(1).max(64).optional(),
    keywords: z.array(z.string().min(1).max(200)).min(1).max(CONFIG_LIMITS.keywordsPerRoute).optional(),
    customer: z.string().min(1).max(64).optional(),
    tier: z.enum(["enterprise", "standard", "community"]).optional(),
  })
  .refine((when) => Object.keys(when).length > 0, "a route needs at least one condition");
export type RouteCondition = z.infer<typeof routeConditionSchema>;

export const routeSchema = z.strictObject({ team: id, when: routeConditionSchema });
export type Route = z.infer<typeof routeSchema>;

export const policySettingsSchema = z.strictObject({
  firstResponseSeconds: z
    .number()
    .int()
    .positive()
    .max(30 * 86400),
  /** SPEC §14: the id of a `calendars` entry; the target then counts open hours only. None: around the clock. */
  calendar: id.optional(),
});

export const discordPolicySchema = policySettingsSchema.extend({
  /** Same-day rule: due at the end of the local day; a message this close to midnight gets the next day too. */
  sameDay: z.boolean().default(true),
  lateWindowSeconds: z
    .number()
    .int()
    .nonnegative()
    .max(86400)
    .default(4 * 3600),
});

export const policiesSchema = z.strictObject({
  critical: policySettingsSchema.default({ firstResponseSeconds: 3600 }),
  "enterprise-slack": policySettingsSchema.default({ firstResponseSeconds: 4 * 3600 }),
  slack: policySettingsSchema.default({ firstResponseSeconds: 24 * 3600 }),
  github: policySettingsSchema.default({ firstResponseSeconds: 24 * 3600 }),
  discord: discordPolicySchema.default({
    firstResponseSeconds: 24 * 3600,
    sameDay: true,
    lateWindowSeconds: 4 * 3600,
  }),
  email: policySettingsSchema.default({ firstResponseSeconds: 24 * 3600 }),
  api: policySettingsSchema.default({ firstResponseSeconds: 24 * 3600 }),
});
export type Policies = z.infer<typeof policiesSchema>;

/** How the GitHub channel behaves (an extension of SPEC §6; every field has a default). */
export const githubSettingsSchema = z.strictObject({
  /** Post the acknowledgement as an issue comment. Off by default: the `supportLabel` says "we have it" instead. */
  acknowledge: z.boolean().default(false),
  /** Label added to every issue that becomes a ticket; null adds none. */
  supportLabel: z.string().min(1).max(50).nullable().default("support"),
  /** Logins of our own GitHub App (`my-desk[bot]`): their comments count as staff responses. */
  botLogins: z.array(z.string().min(1).max(100)).max(CONFIG_LIMITS.githubBotLogins).default([]),
  /** The weekly engineering triage digest: ISO weekday (1 = Monday) and hour in the desk's time zone. */
  triage: z
    .strictObject({
      enabled: z.boolean().default(true),
      weekday: z.number().int().min(1).max(7).default(1),
      hour: z.number().int().min(0).max(23).default(9),
    })
    .default({ enabled: true, weekday: 1, hour: 9 }),
  /** SPEC §13: resolving a `github` ticket on the desk closes its issue (reopening reopens it). */
  closeOnResolve: z.boolean().default(true),
  /**
   * Repositories whose merged pull requests may ship a ticket's improvement (SPEC §13), besides
   * every repository a route names (`routes[].when.githubRepo`). A pull request from anywhere else
   * is ignored, however it is signed: the webhook may be installed on more than the desk trusts.
   */
  repos: z.array(z.string().min(3).max(200)).max(CONFIG_LIMITS.githubRepos).default([]),
});
export type GithubSettings = z.infer<typeof githubSettingsSchema>;

/** How on-call is paged (an extension of SPEC §6; SPEC §11's cap on unknown senders). */
export const pagingSettingsSchema = z.strictObject({
  /**
   * Pages in any 60 minutes for tickets that are critical only because of a critical keyword from a
   * sender who is no configured customer. Past it, such a ticket stays critical on its 1 h clock,
   * pings its team, and shows why on-call was not paged. 0: such tickets never page.
   */
  unknownSenderPagesPerHour: z.number().int().min(0).max(60).default(DEFAULT_UNKNOWN_SENDER_PAGES_PER_HOUR),
});
export type PagingSettings = z.infer<typeof pagingSettingsSchema>;

/** Closing the loop with engineering (SPEC §13; every field has a default). */
export const linearSettingsSchema = z.strictObject({
  /**
   * When a linked Linear issue completes, post the news on each linked ticket's channel (as a
   * public reply would go) instead of reopening the ticket for an agent to tell the customer.
   */
  announceShipped: z.boolean().default(false),
});
export type LinearSettings = z.infer<typeof linearSettingsSchema>;

/** A host name as `URL.hostname` gives it (no scheme, port or path); compared ignoring case. */
const hostname = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*)$/i,
    "a host name such as hooks.acme.com",
  );

/**
 * SPEC §11: what the desk knows about an integration, by the name of its `API_TOKENS` entry. With
 * `callbackHosts`, its `callbackUrl`s must be on one of those hosts (an empty list: no callbacks).
 */
export const integrationSchema = z.strictObject({
  name: z.string().min(1).max(100),
  callbackHosts: z.array(hostname).max(20).optional(),
});
export type Integration = z.infer<typeof integrationSchema>;

/** One issue per repeated key, at the repeat's own path (`customers.3.id`). */
function uniqueBy<T>(
  ctx: z.RefinementCtx,
  items: readonly T[],
  key: (item: T) => string,
  [list, field]: [string, string],
  label: string,
): void {
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const value = key(item);
    if (seen.has(value))
      ctx.addIssue({ code: "custom", path: [list, i, field], message: `duplicate ${label} "${value}"` });
    seen.add(value);
  });
}

const snowflakeId = z.string().regex(/^\d{1,32}$/, "a Discord id (a snowflake)");

/** How the Discord channel behaves (an extension of SPEC §12's `discord` settings; every field has a default). */
export const discordSettingsSchema = z.strictObject({
  /**
   * Channels every member of the server can read. A ticket opened from a message (the "Open
   * support ticket" message command) is public only in one of these (or a public thread of one);
   * anywhere else — unlisted channels, private threads, DMs — it is private. Discord's interaction
   * payload cannot prove that @everyone can read a channel, so the desk is told.
   */
  publicChannelIds: z
    .array(z.string().regex(/^\d{1,32}$/, "a Discord channel id (a snowflake)"))
    .max(500)
    .default([]),
  /** SPEC §12: forums whose new posts (THREAD_CREATE + starter message) open public tickets. */
  forumChannelIds: z.array(snowflakeId).max(500).default([]),
  /** SPEC §12: text channels whose top-level messages open public tickets (the bot opens a thread on each). */
  supportChannelIds: z.array(snowflakeId).max(500).default([]),
  /** Members with one of these roles (from the event's member roles) are staff: their answers stop the clock. */
  staffRoleIds: z.array(snowflakeId).max(500).default([]),
  /** These users are staff whatever their roles. */
  staffUserIds: z.array(snowflakeId).max(5000).default([]),
});
export type DiscordSettings = z.infer<typeof discordSettingsSchema>;

function isTimeZone(tz: string): boolean {
  try {
    dateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** SPEC §14 limits: generous for a real desk, and they bound every business-hours walk. */
export const CALENDAR_LIMITS = { calendars: 50, rangesPerDay: 12, holidays: 1000 } as const;

/** `HH:MM`; the format, and that ranges do not overlap, is checked by `calendarProblems` (one message per range). */
const clockTime = z.string().max(5);
const dayRanges = z
  .array(z.tuple([clockTime, clockTime]))
  .max(CALENDAR_LIMITS.rangesPerDay)
  .default([]);

/**
 * SPEC §14: business hours. Each weekday lists its open ranges `["09:00","17:30"]` in the
 * calendar's zone; a range whose end is not after its start (`["22:00","06:00"]`) spans midnight;
 * holidays close whole local dates. Semantics in domain/business-hours.ts and the README.
 */
export const calendarSchema = z
  .strictObject({
    id,
    timezone: z.string().max(64).refine(isTimeZone, "not an IANA time zone"),
    week: z.strictObject(
      Object.fromEntries(WEEKDAYS.map((day) => [day, dayRanges])) as Record<Weekday, typeof dayRanges>,
    ),
    holidays: z.array(z.string().max(10)).max(CALENDAR_LIMITS.holidays).default([]),
  })
  .superRefine((calendar, ctx) => {
    for (const [path, message] of calendarProblems(calendar)) ctx.addIssue({ code: "custom", path, message });
  });
export type Calendar = z.infer<typeof calendarSchema>;

export const configSchema = z
  .strictObject({
    timezone: z.string().max(64).refine(isTimeZone, "not an IANA time zone"),
    defaultTeam: id,
    teams: z.array(teamSchema).min(1).max(CONFIG_LIMITS.teams),
    customers: z.array(customerSchema).max(CONFIG_LIMITS.customers).default([]),
    agents: z.array(agentSchema).max(CONFIG_LIMITS.agents).default([]),
    routes: z.array(routeSchema).max(CONFIG_LIMITS.routes).default([]),
    criticalKeywords: z.array(z.string().min(1).max(200)).max(CONFIG_LIMITS.criticalKeywords).default([]),
    securityKeywords: z.array(z.string().min(1).max(200)).max(CONFIG_LIMITS.securityKeywords).default([]),
    /** GitHub labels that make an issue critical. */
    criticalLabels: z
      .array(z.string().min(1).max(100))
      .max(CONFIG_LIMITS.criticalLabels)
      .default(["critical", "P0", "sev1"]),
    policies: policiesSchema.default(policiesSchema.parse({})),
    github: githubSettingsSchema.default(githubSettingsSchema.parse({})),
    paging: pagingSettingsSchema.default(pagingSettingsSchema.parse({})),
    integrations: z.array(integrationSchema).max(200).default([]),
    discord: discordSettingsSchema.default(discordSettingsSchema.parse({})),
    linear: linearSettingsSchema.default(linearSettingsSchema.parse({})),
    /** SPEC §16: `/quality` and `GET /v1/quality` are public; false turns both off (404). */
    publicQuality: z.boolean().default(true),
    calendars: z.array(calendarSchema).max(CALENDAR_LIMITS.calendars).default([]),
  })
  .superRefine((config, ctx) => {
    uniqueBy(ctx, config.calendars, (c) => c.id, ["calendars", "id"], "calendar id");
    for (const [name, settings] of Object.entries(config.policies)) {
      if (settings.calendar === undefined) continue;
      const calendar = config.calendars.find((c) => c.id === settings.calendar);
      if (calendar === undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["policies", name, "calendar"],
          message: `"${settings.calendar}" is not one of the calendars`,
        });
        continue;
      }
      // A target must end within a year of open weeks (holidays aside), so no walk is unbounded.
      const weekly = weeklyOpenMinutes(calendar) * 60;
      if (weekly > 0 && settings.firstResponseSeconds > weekly * 52) {
        ctx.addIssue({
          code: "custom",
          path: ["policies", name, "firstResponseSeconds"],
          message: `${settings.firstResponseSeconds} s of open time is more than a year of calendar "${calendar.id}"`,
        });
      }
    }
    // Team ids are kept: routes and defaultTeam are checked against them below.
    const teamIds = new Set<string>();
    config.teams.forEach((team, i) => {
      if (teamIds.has(team.id)) {
        ctx.addIssue({ code: "custom", path: ["teams", i, "id"], message: `duplicate team id "${team.id}"` });
      }
      teamIds.add(team.id);
    });
    if (!teamIds.has(config.defaultTeam)) {
      ctx.addIssue({
        code: "custom",
        path: ["defaultTeam"],
        message: `"${config.defaultTeam}" is not one of the teams`,
      });
    }
    uniqueBy(ctx, config.customers, (c) => c.id, ["customers", "id"], "customer id");
    const customerIds = new Set(config.customers.map((c) => c.id));
    uniqueBy(ctx, config.integrations, (x) => x.name, ["integrations", "name"], "integration name");
    config.routes.forEach((route, i) => {
      if (!teamIds.has(route.team)) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "team"],
          message: `"${route.team}" is not one of the teams`,
        });
      }
      if (route.when.customer !== undefined && !customerIds.has(route.when.customer)) {
        ctx.addIssue({
          code: "custom",
          path: ["routes", i, "when", "customer"],
          message: `"${route.when.customer}" is not one of the customers`,
        });
      }
    });
  });
export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;

/** What a fresh install routes by until an admin PUTs its own document. */
export const DEFAULT_CONFIG: Config = configSchema.parse({
  timezone: "UTC",
  defaultTeam: "support",
  teams: [
    { id: "support", name: "Support" },
    { id: "platform", name: "Platform" },
    { id: "billing", name: "Billing" },
    { id: "security", name: "Security" },
  ],
  customers: [],
  routes: [
    { team: "billing", when: { keywords: ["invoice", "billing", "refund", "charge"] } },
    { team: "platform", when: { keywords: ["latency", "5xx", "timeout", "outage"] } },
  ],
  criticalKeywords: ["production down", "outage", "sev1", "p0", "data loss"],
  securityKeywords: ["vulnerability", "security", "cve", "exploit", "leaked credential"],
});
