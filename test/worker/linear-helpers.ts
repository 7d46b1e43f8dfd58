import { env } from "cloudflare:workers";
import type {
  EntityWebhookPayloadWithCommentData,
  EntityWebhookPayloadWithIssueData,
} from "@linear/sdk/webhooks";
import { linearSignature } from "../../src/integrations/linear/verify";
import { request } from "./helpers";

/**
 * Linear webhook payloads as Linear's docs (https://linear.app/developers/webhooks) and
 * @linear/sdk's webhook types define them. The SDK types DateTime fields as `Date`; on the wire
 * they are ISO strings, so those few are cast where the payload is built.
 */

export interface FakeIssue {
  id: string;
  identifier: string;
  title: string;
  url: string;
  teamId: string;
}

let sequence = 0;

export function fakeIssue(): FakeIssue {
  sequence += 1;
  const n = 100 + sequence + Math.floor(Math.random() * 100_000);
  return {
    id: crypto.randomUUID(),
    identifier: `ENG-${n}`,
    title: `Exports time out (${n})`,
    url: `https://linear.app/acme/issue/ENG-${n}/exports-time-out`,
    teamId: "lin-team-platform",
  };
}

const STARTED = { id: "state-started", name: "In Progress", type: "started", color: "#f2c94c" };
export const STATES = {
  started: STARTED,
  completed: { id: "state-done", name: "Done", type: "completed", color: "#5e6ad2" },
  canceled: { id: "state-canceled", name: "Canceled", type: "canceled", color: "#95a2b3" },
} as const;

const wire = (iso: string) => iso as unknown as Date;

/** `Issue` `update`: the issue moved from `from` to `to` (`updatedFrom.stateId` is the old state). */
export function issueUpdate(
  issue: FakeIssue,
  to: (typeof STATES)[keyof typeof STATES],
  from: (typeof STATES)[keyof typeof STATES] = STARTED,
): EntityWebhookPayloadWithIssueData {
  const now = new Date(Date.now()).toISOString();
  return {
    action: "update",
    type: "Issue",
    createdAt: wire(now),
    organizationId: "org-acme",
    url: issue.url,
    webhookId: "webhook-1",
    webhookTimestamp: Date.now(),
    actor: {
      id: "user-eng",
      name: "Eli Engineer",
      type: "user",
    } as EntityWebhookPayloadWithIssueData["actor"],
    updatedFrom: {
      stateId: from.id,
      updatedAt: now,
      ...(to.type === "completed" ? { completedAt: null } : {}),
    },
    data: {
      id: issue.id,
      identifier: issue.identifier,
      number: Number(issue.identifier.split("-")[1]),
      title: issue.title,
      url: issue.url,
      createdAt: now,
      updatedAt: now,
      ...(to.type === "completed" ? { completedAt: now } : {}),
      ...(to.type === "canceled" ? { canceledAt: now } : {}),
      stateId: to.id,
      state: to,
      teamId: issue.teamId,
      team: { id: issue.teamId, key: "ENG", name: "Engineering" },
      labelIds: [],
      labels: [],
      previousIdentifiers: [],
      priority: 2,
      priorityLabel: "High",
      prioritySortOrder: 0,
      sortOrder: 0,
      subscriberIds: [],
      reactionData: [],
      releases: [],
    },
  } as EntityWebhookPayloadWithIssueData;
}

/** `Comment` `create` on the issue. */
export function commentCreate(issue: FakeIssue, body: string): EntityWebhookPayloadWithCommentData {
  const now = new Date(Date.now()).toISOString();
  return {
    action: "create",
    type: "Comment",
    createdAt: wire(now),
    organizationId: "org-acme",
    url: `${issue.url}#comment-1`,
    webhookId: "webhook-1",
    webhookTimestamp: Date.now(),
    data: {
      id: crypto.randomUUID(),
      body,
      createdAt: now,
      updatedAt: now,
      issueId: issue.id,
      issue: {
        id: issue.id,
        identifier: issue.identifier,
        title: issue.title,
        url: issue.url,
        teamId: issue.teamId,
        team: { id: issue.teamId, key: "ENG", name: "Engineering" },
      },
      userId: "user-eng",
      user: {
        id: "user-eng",
        name: "Eli Engineer",
        email: "eli@acme.test",
        url: "https://linear.app/acme/profiles/eli",
      },
      reactionData: [],
    },
  } as EntityWebhookPayloadWithCommentData;
}

/** POST a delivery the way Linear does: raw JSON, `Linear-Signature`, `Linear-Delivery`, `Linear-Event`. */
export async function postLinear(
  payload: { type: string; webhookTimestamp: number },
  options: { delivery?: string; signature?: string | null; body?: string } = {},
) {
  const body = options.body ?? JSON.stringify(payload);
  const delivery = options.delivery ?? crypto.randomUUID();
  const headers = new Headers({
    "content-type": "application/json; charset=utf-8",
    "user-agent": "Linear-Webhook",
    "linear-delivery": delivery,
    "linear-event": payload.type,
  });
  const signature =
    options.signature === undefined
      ? await linearSignature(env.LINEAR_WEBHOOK_SECRET, body)
      : options.signature;
  if (signature !== null) headers.set("linear-signature", signature);
  const response = await request("/webhooks/linear", { method: "POST", headers, body, token: null });
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not JSON
  }
  return { response, status: response.status, body: json, delivery };
}

/**
 * A fake Linear GraphQL API: answers `issue(id:)` from the issues it knows, files new ones on
 * `issueCreate`, and acknowledges `attachmentCreate`.
 */
export function linearApi(known: FakeIssue[]) {
  const filed: FakeIssue[] = [];
  return {
    filed,
    async answer(body: unknown): Promise<Response> {
      const { query, variables } = body as { query: string; variables: Record<string, unknown> };
      if (query.includes("issueCreate")) {
        const issue = fakeIssue();
        filed.push(issue);
        known.push(issue);
        return Response.json({ data: { issueCreate: { success: true, issue } } });
      }
      if (query.includes("attachmentCreate")) {
        return Response.json({
          data: { attachmentCreate: { success: true, attachment: { id: crypto.randomUUID() } } },
        });
      }
      if (query.includes("issue(id")) {
        const id = String(variables.id);
        const issue = known.find((i) => i.id === id || i.identifier === id);
        if (issue === undefined) {
          return Response.json({ data: null, errors: [{ message: "Entity not found: Issue" }] });
        }
        return Response.json({ data: { issue: { ...issue, state: { type: "started" } } } });
      }
      return Response.json({ errors: [{ message: "unknown operation" }] }, { status: 400 });
    },
  };
}
