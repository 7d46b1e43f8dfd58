import { PRIORITIES } from "../../../domain/inbound";
import { NEXT_UPDATE_CHOICES } from "../../../domain/promise";
import type { MessageView, TicketView } from "../../../domain/ticket";
import { bytes, CHANNEL_LABELS, dateTime, LEVEL_LABELS, shortDuration } from "../format";
import { ChannelBadge, Countdown, Flash, Layout, LocalTime } from "../layout";

export interface TicketPageProps {
  nonce: string;
  agent: string;
  csrf: string;
  ticket: TicketView;
  teams: { id: string; name: string }[];
  agents: string[];
  now: number;
  /** The zone a promised update is worded and entered in (domain/promise `promiseTimeZone`). */
  timeZone: string;
  flash?: { kind: "ok" | "error"; text: string };
  /** SPEC §14: when the reply clock, paused outside business hours, resumes (ISO); null when it counts. */
  pausedUntil?: string | null;
  /**
   * A public reply refused because the conversation moved on while it was written (SPEC §7
   * `ifLastMessageId`): what arrived, and the agent's text, to send deliberately or rework.
   */
  collision?: { newer: MessageView[]; text: string };
}

const KIND_LABELS: Record<MessageView["kind"], string> = {
  customer: "Customer",
  staff: "Public reply",
  note: "Internal note",
  system: "System",
  community: "Community",
};

/** The last path segment of the API's attachment URL is the attachment's id. */
function attachmentHref(url: string): string {
  const id = url.split("/").pop() ?? "";
  return `/attachments/${encodeURIComponent(id)}`;
}

function safeHref(url: string | null): string | undefined {
  return url !== null && /^https?:\/\//i.test(url) ? url : undefined;
}

function Csrf(props: { token: string }) {
  return <input type="hidden" name="_csrf" value={props.token} />;
}

/**
 * A fresh key per rendered form: submitting the same form twice (a double click, the browser's
 * resubmit after a timeout) sends the reply or pages on-call once.
 */
function Once() {
  return <input type="hidden" name="idempotencyKey" value={crypto.randomUUID()} />;
}

function Delivery(props: { message: MessageView }) {
  const d = props.message.delivery;
  if (d === null) return null;
  const text =
    d.status === "failed"
      ? `delivery failed${d.error === null ? "" : `: ${d.error}`}`
      : d.status === "skipped"
        ? `not sent${d.error === null ? "" : ` (${d.error})`}`
        : d.status;
  return <span class={d.status === "failed" ? "overdue" : "muted"}>{text}</span>;
}

function Message(props: { message: MessageView; channel: string; ticketSubject: string }) {
  const m = props.message;
  const cls = m.kind === "customer" || m.kind === "community" ? "inbound" : m.kind;
  const headingId = `msg-${m.id}`;
  return (
    <li data-message-id={m.id}>
      <article class={`msg ${cls}`} aria-labelledby={headingId} data-kind={m.kind}>
        <header>
          <span class="author" id={headingId}>
            {m.kind === "note" ? `${m.author} — internal note` : m.author}
          </span>
          {m.kind === "note" ? (
            <span class="badge internal">Internal · not sent to the customer</span>
          ) : m.kind === "staff" ? (
            <>
              <span class="badge st-pending">Public reply</span>
              <ChannelBadge
                channel={props.channel}
                label={`via ${CHANNEL_LABELS[props.channel] ?? props.channel}`}
              />
            </>
          ) : m.kind === "community" ? (
            <>
              <span class="badge">{KIND_LABELS.community} · no clock effect</span>
              <ChannelBadge channel={props.channel} />
            </>
          ) : m.kind === "system" ? (
            <>
              <span class="badge">{KIND_LABELS.system}</span>
              <ChannelBadge channel={props.channel} />
            </>
          ) : (
            <ChannelBadge channel={props.channel} />
          )}
          {m.sender === null || m.sender === m.author ? null : <span class="muted">{m.sender}</span>}
          <span class="muted">
            <LocalTime at={m.createdAt} />
          </span>
          {m.editedAt === null ? null : (
            <span class="muted">
              edited <LocalTime at={m.editedAt} />
            </span>
          )}
          {m.deletedAt === null ? null : <span class="badge">deleted by the sender</span>}
          <Delivery message={m} />
        </header>
        {m.subject === null || m.subject === "" || m.subject === props.ticketSubject ? null : (
          <p class="muted">
            <strong>Subject:</strong> {m.subject}
          </p>
        )}
        <p class="body">{m.text}</p>
        {m.html === null || m.html === "" ? null : (
          <details>
            <summary>Show the formatted email</summary>
            <iframe
              sandbox=""
              srcdoc={m.html}
              title={`Formatted email from ${m.author}`}
              referrerpolicy="no-referrer"
              loading="lazy"
            />
          </details>
        )}
        {m.attachments.length === 0 ? null : (
          <ul class="attachments" aria-label="Attachments">
            {m.attachments.map((a) => (
              <li>
                <a href={attachmentHref(a.url)} download={a.filename}>
                  {a.filename}
                </a>{" "}
                <span class="muted">
                  {a.contentType} · {bytes(a.size)}
                </span>
              </li>
            ))}
          </ul>
        )}
      </article>
    </li>
  );
}

/** What arrived while a refused reply was being written, and from whom (escaped like the conversation). */
function Collision(props: { newer: MessageView[] }) {
  const n = props.newer.length;
  const who = [...new Set(props.newer.map((m) => m.author))].join(", ");
  return (
    <div class="flash error collision" role="alert" id="collision">
      <strong>
        Not sent: while you were writing, {n} new message{n === 1 ? "" : "s"} arrived (from {who}).
      </strong>{" "}
      Read {n === 1 ? "it" : "them"}, then send your reply anyway or change it first.
      <ol>
        {props.newer.map((m) => (
          <li>
            <strong>{m.author}</strong> · {KIND_LABELS[m.kind]} · <LocalTime at={m.createdAt} />
            <p class="body">{m.text}</p>
          </li>
        ))}
      </ol>
    </div>
  );
}

function Select(props: {
  id: string;
  name: string;
  label: string;
  value: string;
  options: [string, string][];
}) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} name={props.name}>
        {props.options.map(([value, text]) => (
          <option value={value} selected={value === props.value}>
            {text}
          </option>
        ))}
      </select>
    </div>
  );
}

export function TicketPage(props: TicketPageProps) {
  const t = props.ticket;
  const base = `/tickets/${t.key}`;
  const requester = t.requester.name ?? t.requester.email ?? t.requester.handle ?? "the customer";
  const channelName = CHANNEL_LABELS[t.channel] ?? t.channel;
  const agents = [...new Set([...props.agents, ...(t.assignee === null ? [] : [t.assignee])])].sort();
  const teams = props.teams.some((team) => team.id === t.team)
    ? props.teams
    : [...props.teams, { id: t.team, name: t.team }];
  const lastMessageId = t.messages.at(-1)?.id;
  const firstResponseAfter =
    t.firstResponseAt === null ? null : Date.parse(t.firstResponseAt) - Date.parse(t.createdAt);
  return (
    <Layout
      title={`${t.key} ${t.subject}`}
      nonce={props.nonce}
      section="ticket"
      agent={props.agent}
      csrf={props.csrf}
      live={`ticket:${t.key}`}
    >
      <p>
        <a href="/queue">« Queue</a>
      </p>
      <p id="live-status" class="live-status" aria-live="polite" />
      <h1>
        <span class="muted">{t.key}</span> {t.subject === "" ? "(no subject)" : t.subject}
      </h1>
      <p id="presence" class="presence" hidden aria-live="polite" />
      <p class="row" id="ticket-badges">
        <ChannelBadge channel={t.channel} />
        <span class={`badge st-${t.status}`}>{t.status}</span>
        <span class={`badge p-${t.priority}`}>priority {t.priority}</span>
        <span class="badge">{t.visibility}</span>
        {t.security ? <span class="badge p-high">security</span> : null}
        {t.senderUnverified ? (
          <span
            class="badge p-high"
            title="The receiving mail server says this sender failed DMARC: the From address may be forged."
          >
            sender unverified
          </span>
        ) : null}
        {t.breached ? <span class="badge breached">SLA breached</span> : null}
        <span class="badge">level {LEVEL_LABELS[t.escalationLevel] ?? t.escalationLevel}</span>
      </p>
      {props.flash === undefined ? null : <Flash kind={props.flash.kind}>{props.flash.text}</Flash>}
      <div class="ticket-layout">
        <div>
          <section aria-labelledby="conversation-heading">
            <h2 id="conversation-heading">Conversation</h2>
            <ol class="conversation" id="conversation">
              {t.messages.map((m) => (
                <Message message={m} channel={t.channel} ticketSubject={t.subject} />
              ))}
            </ol>
          </section>
          <section aria-labelledby="respond-heading">
            <h2 id="respond-heading">Respond</h2>
            <p id="live-notice" class="flash error" role="status" hidden />
            {props.collision === undefined ? null : <Collision newer={props.collision.newer} />}
            <div class="composer">
              <form method="post" action={`${base}/replies`} class="public">
                <Csrf token={props.csrf} />
                <Once />
                <input type="hidden" name="internal" value="false" />
                {lastMessageId === undefined ? null : (
                  <input type="hidden" name="ifLastMessageId" id="reply-last-id" value={lastMessageId} />
                )}
                <h3>Public reply</h3>
                <p class="hint" id="reply-hint">
                  Sent to {requester} via {channelName}. Stops the SLA clock and moves the ticket to pending.
                </p>
                <label for="reply-text">Reply to the customer</label>
                <textarea
                  id="reply-text"
                  name="text"
                  required
                  maxlength={65536}
                  aria-describedby="reply-hint"
                >
                  {props.collision?.text ?? ""}
                </textarea>
                <fieldset class="next-update" aria-describedby="next-update-hint">
                  <legend>Promise the next update</legend>
                  <p class="hint" id="next-update-hint">
                    The reply will name the time ({props.timeZone}); the desk warns you at 75 % and tells the
                    team when it passes. Your next public reply or a resolve keeps the promise.
                  </p>
                  <label>
                    <input type="radio" name="nextUpdate" value="" checked /> no promise
                  </label>
                  {NEXT_UPDATE_CHOICES.map((choice) => (
                    <label>
                      <input type="radio" name="nextUpdate" value={choice.value} /> {choice.label}
                    </label>
                  ))}
                  <label>
                    <input type="radio" name="nextUpdate" value="at" /> at
                  </label>{" "}
                  <label for="next-update-at" class="visually-hidden">
                    Next update at ({props.timeZone})
                  </label>
                  <input type="datetime-local" id="next-update-at" name="nextUpdateAt" />
                </fieldset>
                <p>
                  <button type="submit">
                    {props.collision === undefined ? "Send public reply" : "Send anyway"}
                  </button>
                </p>
              </form>
              <form method="post" action={`${base}/replies`} class="internal">
                <Csrf token={props.csrf} />
                <Once />
                <input type="hidden" name="internal" value="true" />
                <h3>Internal note</h3>
                <p class="hint" id="note-hint">
                  Only agents see notes. Nothing is sent and no clock stops.
                </p>
                <label for="note-text">Note for the team</label>
                <textarea
                  id="note-text"
                  name="text"
                  required
                  maxlength={65536}
                  aria-describedby="note-hint"
                />
                <p>
                  <button type="submit" class="note">
                    Add internal note
                  </button>
                </p>
              </form>
            </div>
          </section>
          <section aria-labelledby="history-heading" id="history-section">
            <h2 id="history-heading">Escalation history</h2>
            {t.escalations.length === 0 ? (
              <p class="muted">No escalations yet.</p>
            ) : (
              <div class="table-wrap">
                <table id="escalations">
                  <thead>
                    <tr>
                      <th scope="col">When</th>
                      <th scope="col">Step</th>
                      <th scope="col">Level</th>
                      <th scope="col">Target</th>
                      <th scope="col">Detail</th>
                    </tr>
                  </thead>
                  <tbody>
                    {t.escalations.map((e) => (
                      <tr>
                        <td>
                          <LocalTime at={e.at} />
                        </td>
                        <td>{e.kind}</td>
                        <td>{e.level}</td>
                        <td>{e.target}</td>
                        <td>{e.detail ?? ""}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
          </section>
        </div>
        <aside aria-label="Ticket controls">
          <section class="card" aria-labelledby="sla-heading" id="sla-card">
            <h2 id="sla-heading">SLA clocks</h2>
            <dl class="meta">
              <dt>Reply</dt>
              <dd id="reply-due">
                {t.responseDueAt === null ? (
                  <span class="muted">no reply owed</span>
                ) : (
                  <Countdown due={t.responseDueAt} now={props.now} pausedUntil={props.pausedUntil ?? null} />
                )}
              </dd>
              <dt>Next update</dt>
              <dd id="next-update-due">
                {t.nextUpdateDueAt === null ? (
                  <span class="muted">none promised</span>
                ) : (
                  <>
                    <Countdown due={t.nextUpdateDueAt} now={props.now} />
                    <br />
                    <small class="muted">promised for {dateTime(t.nextUpdateDueAt)}</small>
                  </>
                )}
              </dd>
              <dt>Policy</dt>
              <dd>{t.policy}</dd>
              <dt>Created</dt>
              <dd>
                <LocalTime at={t.createdAt} />
              </dd>
              <dt>First response</dt>
              <dd>
                {t.firstResponseAt === null ? (
                  "not yet"
                ) : (
                  <>
                    <LocalTime at={t.firstResponseAt} /> (after {shortDuration(firstResponseAfter ?? 0)})
                  </>
                )}
              </dd>
              <dt>Resolved</dt>
              <dd>{t.resolvedAt === null ? "no" : <LocalTime at={t.resolvedAt} />}</dd>
              <dt>Breached</dt>
              <dd class={t.breached ? "overdue" : undefined}>{t.breached ? "yes" : "no"}</dd>
              <dt>Customer effort</dt>
              <dd id="customer-effort">
                {t.customerEffort === null ? (
                  "no survey yet"
                ) : t.customerEffort.score === null ? (
                  <>
                    survey sent <LocalTime at={t.customerEffort.sentAt} />, no answer yet
                  </>
                ) : (
                  `${t.customerEffort.score} / 7`
                )}
              </dd>
            </dl>
          </section>
          <section class="card" aria-labelledby="update-heading" id="owner-card">
            <h2 id="update-heading">Status and owner</h2>
            <form method="post" action={base}>
              <Csrf token={props.csrf} />
              <Select
                id="status"
                name="status"
                label="Status"
                value={t.status}
                options={[
                  ["open", "open"],
                  ["pending", "pending"],
                  ["resolved", "resolved"],
                ]}
              />
              <Select
                id="priority"
                name="priority"
                label="Priority"
                value={t.priority}
                options={PRIORITIES.map((p): [string, string] => [p, p])}
              />
              <Select
                id="team"
                name="team"
                label="Team"
                value={t.team}
                options={teams.map((team): [string, string] => [team.id, team.name])}
              />
              <Select
                id="assignee"
                name="assignee"
                label="Assignee"
                value={t.assignee ?? ""}
                options={[["", "Unassigned"], ...agents.map((a): [string, string] => [a, a])]}
              />
              <button type="submit">Save changes</button>
            </form>
            <form method="post" action={base} class="stack">
              <Csrf token={props.csrf} />
              {t.status === "resolved" ? (
                <>
                  <input type="hidden" name="status" value="open" />
                  <p>
                    <button type="submit" class="secondary">
                      Reopen ticket
                    </button>
                  </p>
                </>
              ) : (
                <>
                  <input type="hidden" name="status" value="resolved" />
                  <p>
                    <button type="submit" class="secondary">
                      Resolve ticket
                    </button>
                  </p>
                </>
              )}
            </form>
          </section>
          <section class="card" aria-labelledby="visibility-heading">
            <h2 id="visibility-heading">Visibility</h2>
            <p class="muted" id="visibility-hint">
              {t.visibility === "public"
                ? "Public: once resolved, the subject and the conversation are in the knowledge base, searchable without signing in."
                : "Private: never in the knowledge base."}
            </p>
            <form method="post" action={base}>
              <Csrf token={props.csrf} />
              {t.visibility === "public" ? (
                <>
                  <input type="hidden" name="visibility" value="private" />
                  <button type="submit" class="secondary" aria-describedby="visibility-hint">
                    Make private
                  </button>
                </>
              ) : (
                <>
                  <input type="hidden" name="visibility" value="public" />
                  {t.security ? (
                    <p>
                      <label>
                        <input type="checkbox" name="confirmSecurityDisclosure" value="true" required /> This
                        ticket is security-sensitive. I mean to disclose it.
                      </label>
                    </p>
                  ) : null}
                  <button type="submit" class="secondary" aria-describedby="visibility-hint">
                    Make public
                  </button>
                </>
              )}
            </form>
          </section>
          <section class="card" aria-labelledby="details-heading">
            <h2 id="details-heading">Requester</h2>
            <dl class="meta">
              <dt>Name</dt>
              <dd>{t.requester.name ?? "—"}</dd>
              <dt>Email</dt>
              <dd>{t.requester.email ?? "—"}</dd>
              <dt>Handle</dt>
              <dd>{t.requester.handle ?? "—"}</dd>
              <dt>Customer</dt>
              <dd>{t.customer ?? "—"}</dd>
            </dl>
          </section>
          <section class="card" aria-labelledby="escalate-heading">
            <h2 id="escalate-heading">Escalate</h2>
            <form method="post" action={`${base}/escalations`}>
              <Csrf token={props.csrf} />
              <Once />
              <input type="hidden" name="to" value="engineering" />
              <p class="muted">
                Files a Linear issue for the {t.team} team and links it as a bug — or, when the bug is filed
                already, links that issue instead.
              </p>
              <div class="field">
                <label for="escalate-issue">Already filed as (optional)</label>
                <input
                  type="text"
                  id="escalate-issue"
                  name="issue"
                  maxlength={2048}
                  placeholder="ENG-12 or its Linear URL"
                />
              </div>
              <button type="submit" class="secondary">
                Escalate to engineering
              </button>
            </form>
            <form method="post" action={`${base}/escalations`}>
              <Csrf token={props.csrf} />
              <Once />
              <input type="hidden" name="to" value="incident" />
              <p class="muted">Pages on-call through PagerDuty.</p>
              <button type="submit" class="danger">
                Declare an incident
              </button>
            </form>
          </section>
          <section class="card" aria-labelledby="improvements-heading" id="improvements-section">
            <h2 id="improvements-heading">Improvements</h2>
            {t.improvements.length === 0 ? (
              <p class="muted">None linked yet.</p>
            ) : (
              <ul id="improvements">
                {t.improvements.map((i) => {
                  const href = safeHref(i.url);
                  return (
                    <li>
                      <span class="badge">{i.kind}</span>{" "}
                      <span class={`badge improvement-${i.state}`} data-state={i.state}>
                        {i.state}
                      </span>{" "}
                      {href === undefined ? i.title : <a href={href}>{i.title}</a>}
                      {i.source === "manual" ? "" : <span class="muted"> · {i.source}</span>}
                      {i.shippedAt === null ? (
                        ""
                      ) : (
                        <span class="muted"> · shipped {i.shippedAt.slice(0, 16).replace("T", " ")} UTC</span>
                      )}
                    </li>
                  );
                })}
              </ul>
            )}
            <form method="post" action={`${base}/improvements`}>
              <Csrf token={props.csrf} />
              <Select
                id="improvement-kind"
                name="kind"
                label="Kind"
                value="bug"
                options={[
                  ["bug", "Bug"],
                  ["docs", "Docs"],
                  ["error_message", "Error message"],
                  ["api", "API"],
                  ["other", "Other"],
                ]}
              />
              <div class="field">
                <label for="improvement-title">Title</label>
                <input type="text" id="improvement-title" name="title" required maxlength={300} />
              </div>
              <div class="field">
                <label for="improvement-url">Link (optional)</label>
                <input type="url" id="improvement-url" name="url" maxlength={2048} placeholder="https://" />
              </div>
              <button type="submit" class="secondary">
                Link improvement
              </button>
            </form>
            <form method="post" action={`${base}/improvements`}>
              <Csrf token={props.csrf} />
              <div class="field">
                <label for="improvement-linear">Existing Linear issue</label>
                <input
                  type="text"
                  id="improvement-linear"
                  name="linear"
                  required
                  maxlength={2048}
                  placeholder="ENG-12 or https://linear.app/…/issue/ENG-12"
                />
              </div>
              <p class="muted">Links this ticket to the issue and attaches the ticket to it in Linear.</p>
              <button type="submit" class="secondary">
                Link Linear issue
              </button>
            </form>
          </section>
          <Shortcuts />
        </aside>
      </div>
    </Layout>
  );
}

function Shortcuts() {
  return (
    <section class="card shortcuts" aria-labelledby="shortcuts-heading">
      <h2 id="shortcuts-heading">Keyboard shortcuts</h2>
      <dl>
        <dt>
          <kbd>r</kbd>
        </dt>
        <dd>write a public reply</dd>
        <dt>
          <kbd>n</kbd>
        </dt>
        <dd>write an internal note</dd>
        <dt>
          <kbd>u</kbd>
        </dt>
        <dd>back to the queue</dd>
      </dl>
      <p class="muted">Not while typing in a field. Other agents on this ticket are shown at the top.</p>
    </section>
  );
}
