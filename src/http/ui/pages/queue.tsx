import { CHANNELS, PRIORITIES } from "../../../domain/inbound";
import type { TicketView } from "../../../domain/ticket";
import { CHANNEL_LABELS } from "../format";
import { ChannelBadge, Countdown, Flash, Layout } from "../layout";

type Summary = Omit<TicketView, "messages" | "escalations" | "improvements" | "customerEffort">;

export interface QueueFilters {
  status: string;
  team: string;
  channel: string;
  priority: string;
  breached: string;
  q: string;
}

export interface QueueProps {
  nonce: string;
  agent: string;
  csrf: string;
  filters: QueueFilters;
  teams: { id: string; name: string }[];
  tickets: Summary[];
  nextHref: string | null;
  firstHref: string | null;
  now: number;
  error?: string;
  /** The "Mine" view: tickets assigned to the signed-in agent. */
  mine: boolean;
  /** Agents a bulk action can assign to. */
  agents: string[];
  flash?: { kind: "ok" | "error"; text: string };
  /** Where the bulk form comes back to (this view with its filters). */
  backHref: string;
  /** SPEC §14: when a ticket's clock, paused outside business hours, resumes (ISO); absent when it counts. */
  pausedUntil?: (ticket: Summary) => string | null;
}

const STATUS_OPTIONS: [string, string][] = [
  ["", "Open + pending"],
  ["open", "Open (reply owed)"],
  ["pending", "Pending (waiting on customer)"],
  ["resolved", "Resolved"],
  ["all", "All"],
];

function Select(props: { id: string; label: string; value: string; options: [string, string][] }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.id}>
        {props.options.map(([value, text]) => (
          <option value={value} selected={value === props.value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

function Due(props: { ticket: Summary; now: number; pausedUntil?: QueueProps["pausedUntil"] }) {
  const t = props.ticket;
  // A promised update due before the reply (or with no reply owed) is what is due first.
  if (t.nextUpdateDueAt !== null && (t.responseDueAt === null || t.nextUpdateDueAt < t.responseDueAt)) {
    return (
      <span class="promise-due">
        update <Countdown due={t.nextUpdateDueAt} now={props.now} />
      </span>
    );
  }
  if (t.responseDueAt !== null) {
    return <Countdown due={t.responseDueAt} now={props.now} pausedUntil={props.pausedUntil?.(t) ?? null} />;
  }
  if (t.status === "resolved") return <span class="muted">resolved</span>;
  return <span class="muted">no reply owed</span>;
}

export function QueuePage(props: QueueProps) {
  const f = props.filters;
  return (
    <Layout
      title={props.mine ? "My tickets" : "Queue"}
      nonce={props.nonce}
      section="queue"
      agent={props.agent}
      csrf={props.csrf}
      live="queue"
    >
      <h1>{props.mine ? "My tickets" : "Queue"}</h1>
      <nav class="views" aria-label="Queue views">
        <a href="/queue" aria-current={props.mine ? undefined : "page"} id="view-all">
          All tickets
        </a>
        <a href="/queue?mine=1" aria-current={props.mine ? "page" : undefined} id="view-mine">
          Mine (assigned to {props.agent})
        </a>
      </nav>
      {props.flash === undefined ? null : <Flash kind={props.flash.kind}>{props.flash.text}</Flash>}
      <search>
        <form method="get" action="/queue" class="card filters" aria-label="Filter the queue">
          {props.mine ? <input type="hidden" name="mine" value="1" /> : null}
          <div class="row">
            <Select id="status" label="Status" value={f.status} options={STATUS_OPTIONS} />
            <Select
              id="team"
              label="Team"
              value={f.team}
              options={[["", "Any team"], ...props.teams.map((t): [string, string] => [t.id, t.name])]}
            />
            <Select
              id="channel"
              label="Channel"
              value={f.channel}
              options={[
                ["", "Any channel"],
                ...CHANNELS.map((c): [string, string] => [c, CHANNEL_LABELS[c] ?? c]),
              ]}
            />
            <Select
              id="priority"
              label="Priority"
              value={f.priority}
              options={[["", "Any priority"], ...PRIORITIES.map((p): [string, string] => [p, p])]}
            />
            <Select
              id="breached"
              label="SLA"
              value={f.breached}
              options={[
                ["", "Breached or not"],
                ["true", "Breached only"],
                ["false", "Not breached"],
              ]}
            />
            <div class="field">
              <label for="q">Subject contains</label>
              <input type="search" id="q" name="q" value={f.q} maxlength={200} />
            </div>
            <div>
              <button type="submit">Filter</button> <a href="/queue">Reset</a>
            </div>
          </div>
        </form>
      </search>
      {props.error === undefined ? null : <Flash kind="error">{props.error}</Flash>}
      <p class="muted" id="queue-order">
        Most urgent first: breached and soonest-due tickets lead; tickets that owe no reply come last.
      </p>
      <p id="live-status" class="live-status" aria-live="polite" />
      <div id="queue-live">
        <p id="queue-count" class="muted" aria-live="polite">
          {props.tickets.length === 1 ? "1 ticket" : `${props.tickets.length} tickets`} on this page
          {props.nextHref === null ? "" : " (more on the next page)"}
        </p>
        {props.tickets.length === 0 ? (
          <p class="card">No tickets match these filters.</p>
        ) : (
          <form method="post" action="/queue/bulk" aria-label="Bulk actions on the selected tickets">
            <input type="hidden" name="_csrf" value={props.csrf} />
            <input type="hidden" name="back" value={props.backHref} />
            <fieldset class="bulk card">
              <legend>Selected tickets</legend>
              <div class="field">
                <label for="bulk-assignee">Assign to</label>
                <select id="bulk-assignee" name="assignee">
                  <option value="">Unassigned</option>
                  {props.agents.map((a) => (
                    <option value={a} selected={a === props.agent}>
                      {a}
                    </option>
                  ))}
                </select>
              </div>
              <button type="submit" name="action" value="assign" class="secondary">
                Assign selected
              </button>
              <button type="submit" name="action" value="resolve" class="secondary">
                Resolve selected
              </button>
            </fieldset>
            <div class="table-wrap">
              <table class="queue" aria-describedby="queue-order">
                <caption class="visually-hidden">Tickets, most urgent first</caption>
                <thead>
                  <tr>
                    <th scope="col">
                      <span class="visually-hidden">Select</span>
                    </th>
                    <th scope="col">Ticket</th>
                    <th scope="col">Subject</th>
                    <th scope="col">Channel</th>
                    <th scope="col">Priority</th>
                    <th scope="col">Status</th>
                    <th scope="col">Team</th>
                    <th scope="col">Assignee</th>
                    <th scope="col">Reply</th>
                  </tr>
                </thead>
                <tbody>
                  {props.tickets.map((t) => (
                    <tr class={t.breached ? "breached-row" : undefined} data-ticket={t.key}>
                      <td>
                        <input
                          type="checkbox"
                          name="ticket"
                          value={t.key}
                          id={`select-${t.key}`}
                          aria-label={`Select ${t.key}`}
                        />
                      </td>
                      <td data-label="Ticket">
                        <a href={`/tickets/${t.key}`}>{t.key}</a>
                      </td>
                      <td class="subject">
                        <a href={`/tickets/${t.key}`}>{t.subject === "" ? "(no subject)" : t.subject}</a>
                        {t.breached ? (
                          <>
                            {" "}
                            <span class="badge breached">SLA breached</span>
                          </>
                        ) : null}
                      </td>
                      <td data-label="Channel">
                        <ChannelBadge channel={t.channel} />
                      </td>
                      <td data-label="Priority">
                        <span class={`badge p-${t.priority}`}>{t.priority}</span>
                      </td>
                      <td data-label="Status">
                        <span class={`badge st-${t.status}`}>{t.status}</span>
                      </td>
                      <td data-label="Team">{t.team}</td>
                      <td data-label="Assignee">{t.assignee ?? <span class="muted">unassigned</span>}</td>
                      <td data-label="Reply">
                        <Due ticket={t} now={props.now} pausedUntil={props.pausedUntil} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </form>
        )}
        <nav class="pager" aria-label="Queue pages">
          {props.firstHref === null ? <span /> : <a href={props.firstHref}>« First page</a>}
          {props.nextHref === null ? null : (
            <a href={props.nextHref} rel="next">
              Next page »
            </a>
          )}
        </nav>
      </div>
      <details class="card shortcuts">
        <summary>Keyboard shortcuts</summary>
        <dl>
          <dt>
            <kbd>j</kbd> / <kbd>k</kbd>
          </dt>
          <dd>next / previous ticket</dd>
          <dt>
            <kbd>x</kbd>
          </dt>
          <dd>select the ticket for a bulk action</dd>
          <dt>
            <kbd>o</kbd>
          </dt>
          <dd>open the ticket</dd>
          <dt>
            <kbd>m</kbd>
          </dt>
          <dd>my tickets (the Mine view)</dd>
          <dt>
            <kbd>/</kbd>
          </dt>
          <dd>search the subjects</dd>
        </dl>
        <p class="muted">Not while typing in a field. The queue updates by itself when tickets change.</p>
      </details>
    </Layout>
  );
}
