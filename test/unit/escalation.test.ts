import { describe, expect, it } from "vitest";
import { type Config, configSchema, POLICIES, type PolicyName } from "../../src/domain/config";
import {
  type EscalationTicket,
  INCIDENT_LEVEL,
  type Notice,
  pageWithheldReason,
  planStep,
  type StepPlan,
} from "../../src/domain/escalation";
import { type LadderStep, ladderFor } from "../../src/domain/sla";

type PlanContext = Parameters<typeof planStep>[1];

const at = (iso: string) => Date.parse(iso);
const NOW = at("2026-05-05T13:00:00Z");
const DUE = at("2026-05-05T14:00:00Z");
const LINK = "https://desk.test/tickets/SUP-42";
const HEAD_PREFIX = `<${LINK}|SUP-42>`;

const config: Config = configSchema.parse({
  timezone: "UTC",
  defaultTeam: "support",
  teams: [
    // A lead given as a Slack user id is DMed; a lead given as a name is mentioned in the channel.
    {
      id: "platform",
      name: "Platform",
      slackChannel: "C0PLATFORM",
      pagerdutyRoutingKey: "pd-platform",
      lead: "U0LEAD",
    },
    { id: "billing", name: "Billing", slackChannel: "C0BILLING", lead: "Dana <Lead> & co" },
    { id: "support", name: "Support", slackChannel: "C0SUPPORT" },
    { id: "quiet", name: "Quiet" },
    { id: "named-quiet", name: "Named but quiet", lead: "Lee" },
  ],
  customers: [
    {
      id: "acme",
      name: "Acme",
      tier: "enterprise",
      accountEngineer: { name: "Erin Engineer", email: "erin@desk.test", slackUserId: "U0ERIN" },
    },
    { id: "globex", name: "Globex", tier: "enterprise", accountEngineer: { name: "Gus" } },
    { id: "initech", name: "Initech", tier: "enterprise" },
  ],
  agents: [
    { id: "alice", name: "Alice", slackUserId: "U0ALICE" },
    { id: "bob", name: "Bob" },
  ],
});

const NON_ENTERPRISE = POLICIES.filter((p) => p !== "enterprise-slack");
const NON_CRITICAL = POLICIES.filter((p) => p !== "critical");

function ticket(over: Partial<EscalationTicket> = {}): EscalationTicket {
  return {
    key: "SUP-42",
    subject: "Checkout fails",
    policy: "email",
    team: "platform",
    assignee: null,
    customer: null,
    escalationLevel: 2,
    ...over,
  };
}

function plan(
  step: LadderStep,
  over: Partial<EscalationTicket> = {},
  ctx: Partial<PlanContext> = {},
): StepPlan {
  return planStep(step, { ticket: ticket(over), config, link: LINK, dueAt: DUE, now: NOW, ...ctx });
}

const chats = (p: StepPlan) =>
  p.notices.filter((n): n is Extract<Notice, { via: "chat" }> => n.via === "chat");
const pages = (p: StepPlan) =>
  p.notices.filter((n): n is Extract<Notice, { via: "page" }> => n.via === "page");

describe("page at intake (critical)", () => {
  it("records a level-4 page and pages on-call with the team's routing key, then tells the channel", () => {
    expect(plan("page", { policy: "critical" })).toEqual({
      records: [
        {
          step: "page",
          kind: "page",
          level: INCIDENT_LEVEL,
          target: "pagerduty:on-call",
          detail: "critical at intake",
        },
      ],
      notices: [
        {
          via: "page",
          routingKey: "pd-platform",
          summary: "SUP-42 critical: Checkout fails",
          severity: "critical",
        },
        {
          via: "chat",
          to: "C0PLATFORM",
          text: `:rotating_light: Critical ticket — on-call paged. ${HEAD_PREFIX} “Checkout fails” · team platform · due 14:00 UTC`,
          claimable: true,
        },
      ],
      breached: false,
    });
  });

  it("without a team routing key the page carries null (the desk-wide key applies)", () => {
    expect(pages(plan("page", { policy: "critical", team: "support" }))).toEqual([
      expect.objectContaining({ via: "page", routingKey: null }),
    ]);
  });

  it("a team without a Slack channel still gets paged, with no chat notice", () => {
    const p = plan("page", { policy: "critical", team: "quiet" });
    expect(p.notices).toEqual([expect.objectContaining({ via: "page", routingKey: null })]);
  });
});

describe("a page the paging cap holds back (SPEC §11)", () => {
  const why = pageWithheldReason(3);

  it("names the cap and its number", () => {
    expect(why).toBe(
      "not paged: 3 pages from unknown senders already in the last hour (paging.unknownSenderPagesPerHour = 3)",
    );
    expect(pageWithheldReason(1)).toContain("1 page from unknown senders");
    expect(pageWithheldReason(0)).toContain("never page");
  });

  it("at intake: recorded at the ticket's own level with the reason, no PagerDuty call, the team told why", () => {
    const p = plan("page", { policy: "critical" }, { pageWithheld: why });
    expect(p.records).toEqual([
      { step: "page", kind: "page", level: 2, target: "on-call (not paged)", detail: why },
    ]);
    expect(pages(p)).toEqual([]);
    expect(chats(p)).toEqual([
      expect.objectContaining({ to: "C0PLATFORM", text: expect.stringContaining(`on-call was ${why}`) }),
    ]);
  });

  it("at breach: the breach is recorded and told as always; the re-page is recorded as not paged", () => {
    const p = plan("breach", { policy: "critical" }, { pageWithheld: why });
    expect(p.breached).toBe(true);
    expect(p.records).toEqual([
      expect.objectContaining({ step: "breach", kind: "breach" }),
      {
        step: "breach-page",
        kind: "page",
        level: 2,
        target: "on-call (not paged)",
        detail: `critical deadline missed: ${why}`,
      },
    ]);
    expect(pages(p)).toEqual([]);
    expect(chats(p)).toHaveLength(1);
  });
});

describe("warning at 75 %", () => {
  describe.each(POLICIES)("%s", (policy) => {
    it("unassigned: one claimable notice to the team's channel, recorded against the team", () => {
      const p = plan("warning", { policy });
      expect(p.breached).toBe(false);
      expect(p.records).toEqual([
        { step: "warning", kind: "warning", level: 2, target: "team:platform", detail: "75 % of target" },
      ]);
      expect(p.notices).toEqual([
        {
          via: "chat",
          to: "C0PLATFORM",
          text: `:hourglass_flowing_sand: 75 % of the response time is gone. ${HEAD_PREFIX} “Checkout fails” · team platform · due 14:00 UTC`,
          claimable: true,
        },
      ]);
    });

    it("assigned to an agent with a Slack id: a DM to the agent, not claimable, recorded against the agent", () => {
      const p = plan("warning", { policy, assignee: "alice" });
      expect(p.records).toEqual([
        { step: "warning", kind: "warning", level: 2, target: "agent:alice", detail: "75 % of target" },
      ]);
      expect(p.notices).toEqual([
        {
          via: "chat",
          to: "U0ALICE",
          text: `:hourglass_flowing_sand: 75 % of the response time is gone. ${HEAD_PREFIX} “Checkout fails” · team platform · due 14:00 UTC`,
        },
      ]);
    });
  });

  it("finds the agent by name as well as by id", () => {
    const p = plan("warning", { assignee: "Alice" });
    expect(p.records[0]?.target).toBe("agent:Alice");
    expect(p.notices).toEqual([expect.objectContaining({ via: "chat", to: "U0ALICE" })]);
    expect(chats(p)[0]?.claimable).toBeUndefined();
  });

  it.each(["Erin Engineer", "erin@desk.test"])(
    "assigned to the customer's account engineer (%s): a DM to the engineer's Slack id",
    (assignee) => {
      const p = plan("warning", { policy: "enterprise-slack", customer: "acme", assignee });
      expect(p.records[0]?.target).toBe(`agent:${assignee}`);
      expect(p.notices).toEqual([expect.objectContaining({ via: "chat", to: "U0ERIN" })]);
      expect(chats(p)[0]?.claimable).toBeUndefined();
    },
  );

  it("another customer's account engineer is not looked up: the warning goes to the channel, naming them", () => {
    const p = plan("warning", { policy: "enterprise-slack", customer: "globex", assignee: "Erin Engineer" });
    expect(p.notices).toEqual([expect.objectContaining({ via: "chat", to: "C0PLATFORM", claimable: true })]);
    expect(chats(p)[0]?.text).toMatch(/^Erin Engineer: :hourglass_flowing_sand: /);
  });

  it("an assignee that is itself a Slack user id (claimed from Slack) is DMed", () => {
    const p = plan("warning", { assignee: "U0CAROL" });
    expect(p.notices).toEqual([expect.objectContaining({ via: "chat", to: "U0CAROL" })]);
    expect(p.records[0]?.target).toBe("agent:U0CAROL");
  });

  it("an assignee the desk cannot reach is named in a claimable channel notice, still recorded against them", () => {
    const p = plan("warning", { assignee: "bob" });
    expect(p.records).toEqual([
      { step: "warning", kind: "warning", level: 2, target: "agent:bob", detail: "75 % of target" },
    ]);
    expect(p.notices).toEqual([
      {
        via: "chat",
        to: "C0PLATFORM",
        text: `bob: :hourglass_flowing_sand: 75 % of the response time is gone. ${HEAD_PREFIX} “Checkout fails” · team platform · due 14:00 UTC`,
        claimable: true,
      },
    ]);
  });

  it("the unreachable assignee's name is escaped for Slack", () => {
    const text = chats(plan("warning", { assignee: "<!channel> & co" }))[0]?.text;
    expect(text).toMatch(/^&lt;!channel&gt; &amp; co: /);
    expect(text).not.toContain("<!channel>");
  });

  it.each<[string, Partial<EscalationTicket>, string]>([
    ["unassigned, team has no channel", { team: "quiet" }, "team:quiet"],
    ["unreachable assignee, team has no channel", { team: "quiet", assignee: "bob" }, "agent:bob"],
    ["the team is not in the configuration", { team: "gone" }, "team:gone"],
  ])("%s: recorded, but no notice at all", (_name, over, target) => {
    const p = plan("warning", over);
    expect(p.records).toEqual([expect.objectContaining({ step: "warning", kind: "warning", target })]);
    expect(p.notices).toEqual([]);
  });

  it("a reachable assignee is DMed even when the team has no channel", () => {
    expect(plan("warning", { team: "quiet", assignee: "alice" }).notices).toEqual([
      expect.objectContaining({ via: "chat", to: "U0ALICE" }),
    ]);
  });
});

describe("breach at 100 %", () => {
  describe.each(POLICIES)("%s", (policy) => {
    it("is a breach, recorded as `breach`, with a claimable notice to the team's channel first", () => {
      const p = plan("breach", { policy });
      expect(p.breached).toBe(true);
      expect(p.records[0]).toEqual({
        step: "breach",
        kind: "breach",
        level: 2,
        target: "team:platform",
        detail: "100 % of target",
      });
      expect(p.notices[0]).toEqual({
        via: "chat",
        to: "C0PLATFORM",
        text: `:red_circle: Response deadline missed. ${HEAD_PREFIX} “Checkout fails” · team platform · due 14:00 UTC`,
        claimable: true,
      });
    });
  });

  describe("enterprise-slack: the account engineer", () => {
    it("is named in the record and DMed the same text, not claimable", () => {
      const p = plan("breach", { policy: "enterprise-slack", customer: "acme" });
      expect(p.records).toEqual([
        {
          step: "breach",
          kind: "breach",
          level: 2,
          target: "team:platform, account-engineer:Erin Engineer",
          detail: "100 % of target",
        },
      ]);
      const text = `:red_circle: Response deadline missed. ${HEAD_PREFIX} “Checkout fails” · team platform · customer acme · due 14:00 UTC`;
      expect(p.notices).toEqual([
        { via: "chat", to: "C0PLATFORM", text, claimable: true },
        { via: "chat", to: "U0ERIN", text },
      ]);
    });

    it("is DMed even when the team has no channel", () => {
      const p = plan("breach", { policy: "enterprise-slack", customer: "acme", team: "quiet" });
      expect(p.notices).toEqual([expect.objectContaining({ via: "chat", to: "U0ERIN" })]);
    });

    it("without a Slack id is named in the record but gets no notice", () => {
      const p = plan("breach", { policy: "enterprise-slack", customer: "globex" });
      expect(p.records[0]?.target).toBe("team:platform, account-engineer:Gus");
      expect(p.notices).toEqual([expect.objectContaining({ to: "C0PLATFORM" })]);
    });

    it.each<[string, string | null]>([
      ["a customer without an account engineer", "initech"],
      ["no customer", null],
      ["a customer missing from the configuration", "vanished"],
    ])("with %s only the team is told", (_name, customer) => {
      const p = plan("breach", { policy: "enterprise-slack", customer });
      expect(p.records).toEqual([expect.objectContaining({ target: "team:platform" })]);
      expect(p.notices).toEqual([expect.objectContaining({ to: "C0PLATFORM" })]);
    });
  });

  describe.each(NON_ENTERPRISE)("%s with an enterprise customer", (policy) => {
    it("does not involve the account engineer", () => {
      const p = plan("breach", { policy, customer: "acme" });
      expect(p.records[0]?.target).toBe("team:platform");
      expect(chats(p).map((n) => n.to)).toEqual(["C0PLATFORM"]);
    });
  });

  describe("critical: the re-page", () => {
    it("adds a level-4 `page` record named `breach-page` and a second PagerDuty trigger", () => {
      const p = plan("breach", { policy: "critical" });
      expect(p.records).toEqual([
        { step: "breach", kind: "breach", level: 2, target: "team:platform", detail: "100 % of target" },
        {
          step: "breach-page",
          kind: "page",
          level: INCIDENT_LEVEL,
          target: "pagerduty:on-call",
          detail: "critical deadline missed: re-page",
        },
      ]);
      expect(p.notices).toEqual([
        expect.objectContaining({ via: "chat", to: "C0PLATFORM", claimable: true }),
        {
          via: "page",
          routingKey: "pd-platform",
          summary: "SUP-42 missed its 1-hour deadline: Checkout fails",
          severity: "critical",
        },
      ]);
    });

    it("uses null as routing key when the team has no override", () => {
      expect(pages(plan("breach", { policy: "critical", team: "support" }))).toEqual([
        expect.objectContaining({ routingKey: null, severity: "critical" }),
      ]);
    });

    it("still pages when the team has no channel", () => {
      const p = plan("breach", { policy: "critical", team: "quiet" });
      expect(p.notices).toEqual([expect.objectContaining({ via: "page", routingKey: null })]);
      expect(p.records.map((r) => r.step)).toEqual(["breach", "breach-page"]);
    });
  });

  describe.each(NON_CRITICAL)("%s", (policy) => {
    it("does not page at breach", () => {
      const p = plan("breach", { policy, customer: "acme" });
      expect(pages(p)).toEqual([]);
      expect(p.records.map((r) => r.kind)).toEqual(["breach"]);
    });
  });
});

describe("200 %, still unanswered", () => {
  describe("enterprise-slack", () => {
    it("pages on-call (severity error), records a level-4 `page`, and tells the channel", () => {
      expect(plan("overdue", { policy: "enterprise-slack", customer: "acme" })).toEqual({
        records: [
          {
            step: "overdue",
            kind: "page",
            level: INCIDENT_LEVEL,
            target: "pagerduty:on-call",
            detail: "200 % of target",
          },
        ],
        notices: [
          {
            via: "page",
            routingKey: "pd-platform",
            summary: "SUP-42 enterprise ticket unanswered at 200 %: Checkout fails",
            severity: "error",
          },
          {
            via: "chat",
            to: "C0PLATFORM",
            text: `:warning: Twice the response time and still unanswered. ${HEAD_PREFIX} “Checkout fails” · team platform · customer acme · due 14:00 UTC`,
            claimable: true,
          },
        ],
        breached: true,
      });
    });

    it("sends no lead notice, even when the team has a lead", () => {
      const p = plan("overdue", { policy: "enterprise-slack", team: "platform" });
      expect(p.records.map((r) => r.kind)).toEqual(["page"]);
      expect(chats(p).map((n) => n.to)).toEqual(["C0PLATFORM"]);
    });

    it("with no routing key and no channel: only the page, with a null key", () => {
      expect(plan("overdue", { policy: "enterprise-slack", team: "quiet" }).notices).toEqual([
        expect.objectContaining({ via: "page", routingKey: null, severity: "error" }),
      ]);
    });
  });

  describe.each(NON_ENTERPRISE)("%s", (policy) => {
    const text = `:warning: Twice the response time and still unanswered. ${HEAD_PREFIX} “Checkout fails” · team TEAM · due 14:00 UTC`;
    const textFor = (team: string) => text.replace("TEAM", team);

    it("a lead given as a Slack user id is DMed; recorded as `lead` at the ticket's level; no page", () => {
      const p = plan("overdue", { policy, team: "platform" });
      expect(p.breached).toBe(true);
      expect(p.records).toEqual([
        { step: "overdue", kind: "lead", level: 2, target: "lead:U0LEAD", detail: "200 % of target" },
      ]);
      expect(p.notices).toEqual([{ via: "chat", to: "U0LEAD", text: textFor("platform") }]);
    });

    it("a lead given as a name is mentioned (escaped) in a claimable notice to the team's channel", () => {
      const p = plan("overdue", { policy, team: "billing" });
      expect(p.records).toEqual([expect.objectContaining({ kind: "lead", target: "lead:Dana <Lead> & co" })]);
      expect(p.notices).toEqual([
        {
          via: "chat",
          to: "C0BILLING",
          text: `Dana &lt;Lead&gt; &amp; co: ${textFor("billing")}`,
          claimable: true,
        },
      ]);
    });

    it("a team without a lead: the channel gets the notice, the record names the team", () => {
      const p = plan("overdue", { policy, team: "support" });
      expect(p.records).toEqual([expect.objectContaining({ kind: "lead", target: "lead:support" })]);
      expect(p.notices).toEqual([
        { via: "chat", to: "C0SUPPORT", text: textFor("support"), claimable: true },
      ]);
    });

    it.each([
      ["no lead and no channel", "quiet", "lead:quiet"],
      ["a named lead but no channel", "named-quiet", "lead:Lee"],
    ])("%s: recorded, but no notice at all", (_name, team, target) => {
      const p = plan("overdue", { policy, team });
      expect(p.records).toEqual([expect.objectContaining({ kind: "lead", target })]);
      expect(p.notices).toEqual([]);
      expect(p.breached).toBe(true);
    });
  });
});

describe("escalation levels", () => {
  describe.each([1, 2, 3, 4])("a ticket at level %i", (level) => {
    it.each<[LadderStep, PolicyName]>([
      ["warning", "github"],
      ["breach", "email"],
      ["breach", "enterprise-slack"],
      ["overdue", "discord"],
    ])("%s (%s) is recorded at the ticket's own level", (step, policy) => {
      const p = plan(step, { policy, escalationLevel: level, customer: "acme" });
      expect(p.records.map((r) => r.level)).toEqual([level]);
    });

    it.each<[LadderStep, PolicyName, string]>([
      ["page", "critical", "page"],
      ["breach", "critical", "breach-page"],
      ["overdue", "enterprise-slack", "overdue"],
    ])("a %s (%s) page is recorded at the incident level, 4", (step, policy, recordStep) => {
      const page = plan(step, { policy, escalationLevel: level }).records.find((r) => r.step === recordStep);
      expect(page).toEqual(expect.objectContaining({ kind: "page", level: INCIDENT_LEVEL }));
    });
  });
});

describe("record step names (the `<clock>:<step>` dedupe key)", () => {
  describe.each<[PolicyName, string[], string[]]>([
    [
      "critical",
      ["page", "warning", "breach", "breach-page", "overdue"],
      ["page", "warning", "breach", "page", "lead"],
    ],
    ["enterprise-slack", ["warning", "breach", "overdue"], ["warning", "breach", "page"]],
    ...NON_ENTERPRISE.filter((p) => p !== "critical").map((p): [PolicyName, string[], string[]] => [
      p,
      ["warning", "breach", "overdue"],
      ["warning", "breach", "lead"],
    ]),
  ])("%s", (policy, steps, kinds) => {
    const records = ladderFor(policy).flatMap((step) => plan(step, { policy, customer: "acme" }).records);

    it("the whole ladder records these steps and kinds, in order", () => {
      expect(records.map((r) => r.step)).toEqual(steps);
      expect(records.map((r) => r.kind)).toEqual(kinds);
    });

    it("no two records of one clock share a step name", () => {
      expect(new Set(records.map((r) => r.step)).size).toBe(records.length);
    });

    it("the first record of each ladder step is named after the step", () => {
      for (const step of ladderFor(policy)) expect(plan(step, { policy }).records[0]?.step).toBe(step);
    });
  });
});

describe("Slack text", () => {
  const nasty = "<!channel> & <https://evil.test|click me>";
  const steps: [LadderStep, PolicyName][] = [
    ["page", "critical"],
    ["warning", "email"],
    ["breach", "enterprise-slack"],
    ["overdue", "enterprise-slack"],
    ["overdue", "slack"],
  ];

  it.each(steps)("%s (%s) escapes &, < and > in the customer's subject", (step, policy) => {
    const texts = chats(plan(step, { policy, subject: nasty, customer: "acme" })).map((n) => n.text);
    expect(texts.length).toBeGreaterThan(0);
    for (const text of texts) {
      expect(text).toContain("“&lt;!channel&gt; &amp; &lt;https://evil.test|click me&gt;”");
      expect(text).not.toContain("<!channel>");
      expect(text).not.toContain("<https://evil.test");
    }
  });

  it.each(steps)("%s (%s) PagerDuty summaries carry the subject unescaped", (step, policy) => {
    for (const page of pages(plan(step, { policy, subject: nasty }))) {
      expect(page.summary).toContain(nasty);
    }
  });

  it("a PagerDuty summary is cut to 1024 characters", () => {
    const summary = pages(plan("page", { policy: "critical", subject: "x".repeat(2000) }))[0]?.summary;
    expect(summary).toHaveLength(1024);
    expect(summary?.startsWith("SUP-42 critical: xxx")).toBe(true);
  });

  it("an empty subject reads “(no subject)” in chat and in pages", () => {
    const p = plan("breach", { policy: "critical", subject: "" });
    expect(chats(p)[0]?.text).toContain("“(no subject)”");
    expect(pages(p)[0]?.summary).toBe("SUP-42 missed its 1-hour deadline: (no subject)");
  });

  it("the headline links the ticket and names customer and team", () => {
    const text = chats(plan("warning", { customer: "acme", team: "support" }))[0]?.text;
    expect(text).toBe(
      `:hourglass_flowing_sand: 75 % of the response time is gone. ${HEAD_PREFIX} “Checkout fails” · team support · customer acme · due 14:00 UTC`,
    );
  });

  it("a deadline on another day carries its date", () => {
    const text = chats(plan("warning", {}, { dueAt: at("2026-05-06T09:00:00Z") }))[0]?.text;
    expect(text).toMatch(/ · due Wed 6 May, 09:00 UTC$/);
  });

  it("the deadline is shown in the desk's time zone", () => {
    const text = chats(plan("warning", {}, { config: { ...config, timezone: "Europe/Berlin" } }))[0]?.text;
    expect(text).toMatch(/ · due 16:00 CEST$/);
  });
});

describe("claimable notices", () => {
  const cases = POLICIES.flatMap((policy) =>
    ladderFor(policy).flatMap((step) =>
      [null, "alice", "bob"].map((assignee): [PolicyName, LadderStep, string | null] => [
        policy,
        step,
        assignee,
      ]),
    ),
  );

  it.each(cases)(
    "%s %s (assignee %s): channel notices are claimable, DMs are not",
    (policy, step, assignee) => {
      const p = plan(step, { policy, assignee, customer: "acme" });
      expect(chats(p).length).toBeGreaterThan(0);
      for (const notice of chats(p)) {
        if (notice.to.startsWith("C")) expect(notice.claimable).toBe(true);
        else expect(notice.claimable).toBeUndefined();
      }
    },
  );
});
