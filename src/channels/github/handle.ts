import {
  type ChannelPatchResult,
  patchFromChannel,
  queueTicketCalls,
  shipOnTickets,
  type TicketPatch,
} from "../../commands";
import type { Config } from "../../domain/config";
import { securityNoticeChannel, slackLine } from "../../domain/escalation";
import { ticketMentions } from "../../domain/improvements";
import { ticketKey } from "../../domain/ticket";
import type { DeskEnv } from "../../env";
import { changeInboundMessage, type IntakeResult, intake } from "../../intake";
import type { OutboxItem } from "../../notify";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import type { ChannelResult } from "../contract";
import {
  commentExternalId,
  type GithubEvent,
  type IssueCommentEvent,
  type IssuesEvent,
  isCriticalLabel,
  issueExternalId,
  issueThreadKey,
  normaliseComment,
  normaliseIssueOpened,
  type PullRequestEvent,
  repositoryIsPublic,
  transferredFrom,
  writtenByOurBot,
} from "./normalise";
import { hasReplyMarker } from "./reply";

type GithubOutcome = ChannelResult;

/** One webhook delivery: `X-GitHub-Delivery` and when it arrived. */
export interface WebhookDelivery {
  id: string;
  receivedAt: number;
}

/** One verified GitHub webhook delivery → intake, a message change, or a ticket patch. */
export async function handleGithubEvent(
  env: DeskEnv,
  event: GithubEvent,
  delivery: WebhookDelivery,
): Promise<GithubOutcome> {
  switch (event.type) {
    case "ping":
      return { kind: "answer", body: { ok: true, pong: true } };
    case "unsupported":
      return { kind: "ignored", reason: `event "${event.name}" is not handled` };
    case "issues":
      return handleIssues(env, event.payload, delivery, await loadConfig(database(env.DB)));
    case "issue_comment":
      return handleComment(env, event.payload, delivery, await loadConfig(database(env.DB)));
    case "pull_request":
      return handlePullRequest(env, event.payload, delivery, await loadConfig(database(env.DB)));
  }
}

/**
 * Repositories whose merged pull requests may ship a ticket's fix: those the desk routes
 * (`routes[].when.githubRepo`) and `github.repos`. The webhook is signed, but it may be installed
 * on more repositories than the desk trusts to say "fixed" to its customers.
 */
export function shipsFromRepo(config: Config, repo: string): boolean {
  const name = repo.toLowerCase();
  return (
    config.github.repos.some((r) => r.toLowerCase() === name) ||
    config.routes.some((r) => r.when.githubRepo?.toLowerCase() === name)
  );
}

/** SPEC §13: a merged pull request whose title or body names tickets ships an improvement on each. */
async function handlePullRequest(
  env: DeskEnv,
  event: PullRequestEvent,
  delivery: WebhookDelivery,
  config: Config,
): Promise<GithubOutcome> {
  const pr = event.pull_request;
  if (event.action !== "closed" || pr.merged !== true) {
    return { kind: "ignored", reason: "a pull request closed without being merged" };
  }
  const repo = event.repository.full_name;
  if (!shipsFromRepo(config, repo)) {
    return { kind: "ignored", reason: `${repo} is not a repository the desk routes (github.repos)` };
  }
  const numbers = ticketMentions(`${pr.title}\n${pr.body ?? ""}`);
  if (numbers.length === 0) return { kind: "ignored", reason: "the pull request names no ticket" };
  const ref = `${repo}#${pr.number}`;
  const result = await shipOnTickets(env, numbers, {
    source: "github",
    externalId: ref.toLowerCase(),
    ref,
    title: pr.title,
    url: pr.html_url ?? `https://github.com/${repo}/pull/${pr.number}`,
    state: "shipped",
    where: `pull request merged on GitHub`,
    event: { channel: "github", key: delivery.id },
    at: Date.parse(pr.merged_at ?? "") || delivery.receivedAt,
  });
  if (result.changed.length === 0 && result.unchanged.length === 0) {
    return { kind: "ignored", reason: "the tickets it names do not exist" };
  }
  const [first] = [...result.changed, ...result.unchanged];
  return {
    kind: "stored",
    ticket: first ?? "",
    created: false,
    replay: result.changed.length === 0,
    what: `shipped ${[...result.changed, ...result.unchanged].join(", ")}`,
  };
}

async function handleIssues(
  env: DeskEnv,
  event: IssuesEvent,
  delivery: WebhookDelivery,
  config: Config,
): Promise<GithubOutcome> {
  const threadKeys = [issueThreadKey(event.repository, event.issue)];
  const actor = `github:${event.sender.login}`;
  /** The issue's state changed on GitHub: the ticket follows, once per delivery. */
  const patchIssue = async (patch: TicketPatch, what: string): Promise<GithubOutcome> =>
    patched(
      await patchFromChannel(env, {
        channel: "github",
        idempotencyKey: delivery.id,
        threadKeys,
        patch,
        actor,
      }),
      what,
    );
  switch (event.action) {
    case "opened":
      return openIssue(env, event, delivery, config);
    case "edited": {
      const changed = await changeInboundMessage(env, {
        channel: "github",
        idempotencyKey: delivery.id,
        threadKeys,
        externalId: issueExternalId(event.issue),
        change: { type: "edit", text: event.issue.body ?? "" },
        subject: event.issue.title,
      });
      return changed.ok
        ? { kind: "stored", ticket: changed.ticket, created: false, replay: changed.replay, what: "edited" }
        : { kind: "ignored", reason: "the issue is not a ticket" };
    }
    case "deleted": {
      // The issue and its comments are gone from GitHub: its text is marked deleted and nothing of
      // the thread (not even its title) stays in the knowledge base.
      const changed = await changeInboundMessage(env, {
        channel: "github",
        idempotencyKey: delivery.id,
        threadKeys,
        externalId: issueExternalId(event.issue),
        change: { type: "delete" },
        threadDeleted: true,
      });
      return changed.ok
        ? { kind: "stored", ticket: changed.ticket, created: false, replay: changed.replay, what: "deleted" }
        : { kind: "ignored", reason: "the issue is not a ticket" };
    }
    case "closed":
      return patchIssue({ status: "resolved" }, "resolved");
    case "reopened":
      return patchIssue({ status: "open" }, "reopened");
    case "labeled": {
      const label = event.label?.name;
      if (label === undefined || !isCriticalLabel(label, config.criticalLabels)) {
        return { kind: "ignored", reason: `label "${label ?? ""}" is not a critical label` };
      }
      return patchIssue({ priority: "critical" }, "critical");
    }
    default:
      return { kind: "ignored", reason: `issues.${event.action} is not handled` };
  }
}

function patched(result: ChannelPatchResult, what: string): GithubOutcome {
  if (result.ok)
    return { kind: "stored", ticket: result.ticket, created: false, replay: result.replay, what };
  return {
    kind: "ignored",
    reason:
      result.reason === "conflict" ? "the ticket kept changing; try again" : "the issue is not a ticket",
  };
}

async function openIssue(
  env: DeskEnv,
  event: IssuesEvent,
  delivery: WebhookDelivery,
  config: Config,
): Promise<GithubOutcome> {
  // Issues opened by bots (dependency dashboards, release bots) are not support requests.
  if (event.issue.user?.type === "Bot") return { kind: "ignored", reason: "opened by a bot" };
  const key = issueThreadKey(event.repository, event.issue);
  const oldKey = transferredFrom(event);
  if (oldKey !== null) {
    // A transferred issue we already track stays one ticket; it now answers to its new address.
    const moved = await intake(
      env,
      {
        channel: "github",
        idempotencyKey: delivery.id,
        threadKeys: [oldKey],
        threadKeyRules: ["transferred-from"],
        extraThreadKeys: [key],
        channelName: event.repository.full_name,
        from: { handle: event.sender.login },
        author: "system",
        text: `Issue transferred from ${oldKey} to ${event.repository.full_name}#${event.issue.number}.`,
        threadOnly: true,
        suppressAcknowledgement: true,
        receivedAt: delivery.receivedAt,
      },
      { config },
    );
    if (moved.ok) {
      if (!moved.replay) {
        await queueTicketCalls(env, moved.ticketNumber, (row) =>
          openingCalls({ key: ticketKey(row.number), security: row.security, team: row.team }, event, config),
        );
      }
      // Moved into a private repository: the ticket follows (out of the knowledge base). Moved out
      // of one, it stays private until an agent decides otherwise.
      if (!repositoryIsPublic(event.repository)) {
        await patchFromChannel(env, {
          channel: "github",
          idempotencyKey: `${delivery.id}:private`,
          threadKeys: [key],
          patch: { visibility: "private" },
          actor: `github:${event.sender.login} (moved it to the private repository ${event.repository.full_name})`,
        });
      }
      return stored(moved, "transferred");
    }
  }
  // The label and notice are owed with the ticket itself (same batch); a replay pays them if a crash left them.
  const result = await intake(
    env,
    normaliseIssueOpened(event, delivery, { acknowledge: config.github.acknowledge }),
    { config, alsoDeliver: (ticket) => openingCalls(ticket, event, config) },
  );
  if (!result.ok) return { kind: "ignored", reason: result.detail };
  return stored(result, "opened");
}

/** What a new GitHub ticket owes besides the acknowledgement: the support label, a security notice. */
function openingCalls(
  ticket: { key: string; security: boolean; team: string },
  event: IssuesEvent,
  config: Config,
): OutboxItem[] {
  const calls: OutboxItem[] = [];
  const repo = event.repository.full_name;
  const issue = event.issue.number;
  const label = config.github.supportLabel;
  if (label !== null) {
    calls.push({
      id: `github-label:${ticket.key}:${repo.toLowerCase()}#${issue}`,
      label: `label "${label}" on ${repo}#${issue}`,
      delivery: { service: "github", repo, issue, action: "labels", labels: [label] },
    });
  }
  if (ticket.security) {
    const channel = securityNoticeChannel(config, ticket.team);
    if (channel !== null) {
      const where = event.issue.html_url ?? `https://github.com/${repo}/issues/${issue}`;
      const text = repositoryIsPublic(event.repository)
        ? `:rotating_light: ${ticket.key} looks security-sensitive and was reported in a *public* GitHub issue ` +
          `(<${where}|${slackLine(repo)}#${issue}> “${slackLine(event.issue.title)}”). ` +
          "It is already public: move the report to a private security advisory and hide or edit the issue. " +
          "The ticket itself is private."
        : `:rotating_light: ${ticket.key} looks security-sensitive: reported in the private repository ` +
          `<${where}|${slackLine(repo)}#${issue}> “${slackLine(event.issue.title)}”. The ticket is private.`;
      calls.push({
        id: `security-public:${ticket.key}`,
        label: `security notice to ${channel}`,
        delivery: { service: "slack", body: { channel, text } },
      });
    }
  }
  return calls;
}

async function handleComment(
  env: DeskEnv,
  event: IssueCommentEvent,
  delivery: WebhookDelivery,
  config: Config,
): Promise<GithubOutcome> {
  const onPullRequest = event.issue.pull_request !== undefined;
  const notTracked = onPullRequest
    ? "a comment on a pull request that is not a ticket"
    : "a comment on an issue that is not a ticket";
  const threadKeys = [issueThreadKey(event.repository, event.issue)];
  const externalId = commentExternalId(event.comment);
  switch (event.action) {
    case "created": {
      // GitHub tells us about the comments we post ourselves; the reply is already on the ticket.
      // Only our own bot's comment is an echo: a customer who pastes the marker is still heard (and
      // an echo we fail to recognise is still stored once: its comment id is our reply's).
      if (
        hasReplyMarker(event.comment.body ?? "") &&
        writtenByOurBot(event.comment, config.github.botLogins)
      ) {
        return { kind: "ignored", reason: "our own reply" };
      }
      const result = await intake(
        env,
        normaliseComment(event, delivery, { botLogins: config.github.botLogins }),
        { config },
      );
      return result.ok ? stored(result, "comment") : { kind: "ignored", reason: notTracked };
    }
    case "edited":
    case "deleted": {
      const changed = await changeInboundMessage(env, {
        channel: "github",
        idempotencyKey: delivery.id,
        threadKeys,
        externalId,
        change:
          event.action === "edited" ? { type: "edit", text: event.comment.body ?? "" } : { type: "delete" },
      });
      return changed.ok
        ? {
            kind: "stored",
            ticket: changed.ticket,
            created: false,
            replay: changed.replay,
            what: event.action,
          }
        : { kind: "ignored", reason: notTracked };
    }
    default:
      return { kind: "ignored", reason: `issue_comment.${event.action} is not handled` };
  }
}

function stored(result: Extract<IntakeResult, { ok: true }>, what: string): GithubOutcome {
  return { kind: "stored", ticket: result.ticket, created: result.created, replay: result.replay, what };
}
