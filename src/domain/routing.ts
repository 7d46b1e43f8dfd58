import { containsKeyword } from "./classify";
import type { Config, Customer, PolicyName, RouteCondition, Team } from "./config";
import type { Channel, Priority } from "./inbound";

export interface RoutingFacts {
  channel: Channel;
  subject?: string;
  text: string;
  /** Email recipient address. */
  to?: string;
  githubRepo?: string;
  slackChannel?: string;
  customer?: Customer;
  security: boolean;
}

export interface RoutingDecision {
  team: string;
  /** Index of the route that matched; `null` for the default team or the security override. */
  routeIndex: number | null;
  reason: "security" | "route" | "default";
}

export const SECURITY_TEAM = "security";

function emailDomain(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const at = address.lastIndexOf("@");
  if (at < 0) return undefined;
  return address
    .slice(at + 1)
    .trim()
    .toLowerCase()
    .replace(/>$/, "");
}

/** A customer is known by the domain of the sender's address or by the Slack workspace it writes from. */
export function findCustomer(
  config: Pick<Config, "customers">,
  facts: { email?: string; slackTeamId?: string },
): Customer | undefined {
  const domain = emailDomain(facts.email);
  return config.customers.find(
    (customer) =>
      (domain !== undefined &&
        customer.emailDomains.some((d) => {
          const wanted = d.toLowerCase();
          return domain === wanted || domain.endsWith(`.${wanted}`);
        })) ||
      (facts.slackTeamId !== undefined && customer.slackTeamIds.includes(facts.slackTeamId)),
  );
}

export function routeMatches(when: RouteCondition, facts: RoutingFacts): boolean {
  if (when.channel !== undefined && when.channel !== facts.channel) return false;
  if (when.to !== undefined && when.to.toLowerCase() !== facts.to?.toLowerCase()) return false;
  if (when.githubRepo !== undefined && when.githubRepo.toLowerCase() !== facts.githubRepo?.toLowerCase()) {
    return false;
  }
  if (when.slackChannel !== undefined && when.slackChannel !== facts.slackChannel) return false;
  if (when.customer !== undefined && when.customer !== facts.customer?.id) return false;
  if (when.tier !== undefined && when.tier !== facts.customer?.tier) return false;
  if (when.keywords !== undefined) {
    const haystack = `${facts.subject ?? ""}\n${facts.text}`;
    if (!when.keywords.some((keyword) => containsKeyword(haystack, keyword))) return false;
  }
  return true;
}

/**
 * Security-looking messages go to the security team when one is configured; otherwise routes are
 * tried in order, the first match wins, and `defaultTeam` catches the rest.
 */
export function route(
  config: Pick<Config, "routes" | "defaultTeam" | "teams">,
  facts: RoutingFacts,
): RoutingDecision {
  if (facts.security && config.teams.some((team) => team.id === SECURITY_TEAM)) {
    return { team: SECURITY_TEAM, routeIndex: null, reason: "security" };
  }
  const index = config.routes.findIndex((r) => routeMatches(r.when, facts));
  const matched = config.routes[index];
  if (matched !== undefined) return { team: matched.team, routeIndex: index, reason: "route" };
  return { team: config.defaultTeam, routeIndex: null, reason: "default" };
}

export function findTeam(config: Pick<Config, "teams">, id: string): Team | undefined {
  return config.teams.find((team) => team.id === id);
}

/** The SLA policy follows from priority first, then from the channel and who the customer is. */
export function policyFor(channel: Channel, priority: Priority, customer: Customer | undefined): PolicyName {
  if (priority === "critical") return "critical";
  if (channel === "slack") return customer?.tier === "enterprise" ? "enterprise-slack" : "slack";
  return channel;
}

export const ESCALATION_LEVELS = { community: 1, direct: 2, engineering: 3, incident: 4 } as const;

/** Community channels start at level 1, direct ones at 2. */
export function startingLevel(channel: Channel): number {
  return channel === "discord" || channel === "github"
    ? ESCALATION_LEVELS.community
    : ESCALATION_LEVELS.direct;
}

export function defaultVisibility(channel: Channel): "public" | "private" {
  return channel === "discord" || channel === "github" ? "public" : "private";
}

/** Every address the desk receives mail on: the support address and each address a route names. */
export function configuredAddresses(
  config: Pick<Config, "routes">,
  supportAddress: string | undefined,
): string[] {
  const addresses = [supportAddress, ...config.routes.map((r) => r.when.to)]
    .filter((a): a is string => a !== undefined && a.trim() !== "")
    .map((a) => a.trim().toLowerCase());
  return [...new Set(addresses)];
}

/** The address we answer from: the one the customer wrote to when it is ours, else the support address. */
export function replyFromAddress(
  config: Pick<Config, "routes">,
  supportAddress: string,
  wroteTo: string | null | undefined,
): string {
  const to = wroteTo?.trim().toLowerCase();
  return to !== undefined && configuredAddresses(config, supportAddress).includes(to) ? to : supportAddress;
}
