import { describe, expect, it } from "vitest";
import { type Config, configSchema } from "../../src/domain/config";
import { findCustomer, policyFor, type RoutingFacts, route, startingLevel } from "../../src/domain/routing";

const config: Config = configSchema.parse({
  timezone: "Europe/Berlin",
  defaultTeam: "support",
  teams: [
    { id: "support", name: "Support" },
    { id: "billing", name: "Billing" },
    { id: "sdk", name: "SDK" },
    { id: "platform", name: "Platform" },
    { id: "enterprise", name: "Enterprise" },
    { id: "community", name: "Community" },
    { id: "security", name: "Security" },
  ],
  customers: [
    { id: "acme", name: "Acme", tier: "enterprise", emailDomains: ["acme.com"], slackTeamIds: ["T0ACME"] },
    { id: "smallco", name: "SmallCo", tier: "standard", emailDomains: ["small.co"] },
  ],
  routes: [
    { team: "billing", when: { channel: "email", to: "billing@example.com" } },
    { team: "sdk", when: { githubRepo: "acme/sdk" } },
    { team: "platform", when: { keywords: ["latency", "5xx"] } },
    { team: "enterprise", when: { tier: "enterprise" } },
    { team: "community", when: { channel: "discord" } },
  ],
  criticalKeywords: ["outage"],
  securityKeywords: ["vulnerability"],
});

const base: RoutingFacts = { channel: "api", text: "hello", security: false };

describe("route", () => {
  describe.each<[string, Partial<RoutingFacts>, string, RoutingDecisionReason]>([
    ["email to a routed address", { channel: "email", to: "Billing@Example.com" }, "billing", "route"],
    ["email to another address", { channel: "email", to: "support@example.com" }, "support", "default"],
    [
      "an address rule on another channel",
      { channel: "api", to: "billing@example.com" },
      "support",
      "default",
    ],
    ["a GitHub repository", { channel: "github", githubRepo: "ACME/sdk" }, "sdk", "route"],
    ["a keyword in the text", { text: "p99 latency doubled" }, "platform", "route"],
    ["a keyword in the subject", { subject: "Lots of 5xx" }, "platform", "route"],
    ["a customer tier", { customer: config.customers[0] }, "enterprise", "route"],
    ["a channel", { channel: "discord" }, "community", "route"],
    [
      "security beats every route",
      { channel: "github", githubRepo: "acme/sdk", security: true },
      "security",
      "security",
    ],
    ["nothing matches", {}, "support", "default"],
  ])("%s", (_name, facts, team, reason) => {
    it(`goes to ${team}`, () => {
      expect(route(config, { ...base, ...facts })).toMatchObject({ team, reason });
    });
  });

  it("the first matching route wins", () => {
    expect(
      route(config, { ...base, channel: "email", to: "billing@example.com", text: "latency" }).team,
    ).toBe("billing");
  });

  it("security falls back to normal routing when no security team exists", () => {
    const noSecurity = { ...config, teams: config.teams.filter((t) => t.id !== "security") };
    expect(route(noSecurity, { ...base, text: "latency", security: true }).team).toBe("platform");
  });
});

type RoutingDecisionReason = "security" | "route" | "default";

describe("findCustomer", () => {
  it("matches the sender's email domain, case-insensitively, and subdomains", () => {
    expect(findCustomer(config, { email: "Jo@ACME.com" })?.id).toBe("acme");
    expect(findCustomer(config, { email: "jo@eu.acme.com" })?.id).toBe("acme");
    expect(findCustomer(config, { email: "jo@notacme.com" })).toBeUndefined();
  });
  it("matches a Slack Connect workspace", () => {
    expect(findCustomer(config, { slackTeamId: "T0ACME" })?.id).toBe("acme");
    expect(findCustomer(config, { slackTeamId: "T0OTHER" })).toBeUndefined();
  });
});

describe("policyFor", () => {
  const acme = config.customers[0];
  const small = config.customers[1];
  it.each([
    ["api", "critical", undefined, "critical"],
    ["slack", "normal", acme, "enterprise-slack"],
    ["slack", "normal", small, "slack"],
    ["slack", "critical", acme, "critical"],
    ["email", "normal", acme, "email"],
    ["github", "high", undefined, "github"],
    ["discord", "low", undefined, "discord"],
  ] as const)("%s at %s → %s", (channel, priority, customer, policy) => {
    expect(policyFor(channel, priority, customer)).toBe(policy);
  });

  it("community channels start at level 1, direct ones at 2", () => {
    expect([startingLevel("discord"), startingLevel("github")]).toEqual([1, 1]);
    expect([startingLevel("email"), startingLevel("slack"), startingLevel("api")]).toEqual([2, 2, 2]);
  });
});

describe("configSchema", () => {
  it("lists every problem of a bad document", () => {
    const result = configSchema.safeParse({
      timezone: "Mars/Olympus",
      defaultTeam: "nobody",
      teams: [
        { id: "a", name: "A" },
        { id: "a", name: "A again" },
      ],
      routes: [{ team: "ghost", when: {} }],
    });
    expect(result.success).toBe(false);
    const paths = result.error?.issues.map((i) => i.path.join(".")) ?? [];
    expect(paths).toEqual(expect.arrayContaining(["timezone", "routes.0.when"]));
  });

  it("cross-checks team references once the shape is right", () => {
    const result = configSchema.safeParse({
      timezone: "UTC",
      defaultTeam: "nobody",
      teams: [
        { id: "a", name: "A" },
        { id: "a", name: "A again" },
      ],
      routes: [{ team: "ghost", when: { channel: "email" } }],
    });
    const paths = result.error?.issues.map((i) => i.path.join(".")) ?? [];
    expect(paths).toEqual(expect.arrayContaining(["teams.1.id", "defaultTeam", "routes.0.team"]));
  });
});
