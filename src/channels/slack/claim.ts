import { patchTicket } from "../../commands";
import { ticketKey } from "../../domain/ticket";
import type { DeskEnv } from "../../env";
import { loadConfig } from "../../store/config";
import { database } from "../../store/db";
import type { SlackInteraction } from "./normalise";
import { claimedNoticeBlocks } from "./reply";

export type ClaimResult =
  | { ok: true; ticket: string; assignee: string }
  | { ok: false; reason: "not_configured" | "not_staff" | "not_found" | "conflict"; ticket: string };

/**
 * Someone pressed **Claim** on an escalation notice: the ticket is theirs. They are named as the
 * desk knows them — the `agents[]` entry or account engineer with that Slack user id — else by
 * their Slack user id (which the warning step can DM). The notice is then updated to say who
 * took it, through the ticket's timer outbox with the assignment itself.
 */
export async function claimFromSlack(
  env: DeskEnv,
  claim: Extract<SlackInteraction, { kind: "claim" }>,
  ourTeamId: string | undefined,
): Promise<ClaimResult> {
  const key = ticketKey(claim.ticketNumber);
  // Fails closed. Notices only go to our own channels, but a Slack Connect channel could carry one
  // further: without SLACK_TEAM_ID nobody can be told apart from a guest, and a click that does not
  // name the clicker's workspace is not staff.
  if (ourTeamId === undefined) return { ok: false, reason: "not_configured", ticket: key };
  if (claim.user.teamId !== ourTeamId) return { ok: false, reason: "not_staff", ticket: key };
  const config = await loadConfig(database(env.DB));
  const agent = config.agents.find((a) => a.slackUserId === claim.user.id);
  const engineer = config.customers
    .map((c) => c.accountEngineer)
    .find((e) => e?.slackUserId !== undefined && e.slackUserId === claim.user.id);
  const assignee = agent?.id ?? engineer?.name ?? claim.user.id;
  const { notice } = claim;
  const who = `<@${claim.user.id}>`;
  const result = await patchTicket(env, claim.ticketNumber, { assignee }, assignee, {
    alsoDeliver: (row) =>
      notice === null
        ? []
        : [
            {
              id: `claim:${row.revision}`,
              label: "Slack notice update (claimed)",
              delivery: {
                service: "slack",
                method: "chat.update",
                body: {
                  channel: notice.channel,
                  ts: notice.ts,
                  text: `${notice.text} — claimed by ${who}`,
                  blocks: claimedNoticeBlocks(notice.text, who),
                },
              },
            },
          ],
  });
  if (!result.ok) {
    return { ok: false, reason: result.reason === "not_found" ? "not_found" : "conflict", ticket: key };
  }
  return { ok: true, ticket: key, assignee };
}
