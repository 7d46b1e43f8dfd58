import { Flash, Layout, LocalTime } from "../layout";

/** One quarantined mail as the page shows it (the API's `QuarantinedMessage`). */
export interface QuarantinedItem {
  id: string;
  channel: string;
  reason: string;
  sender: string | null;
  recipient: string | null;
  subject: string | null;
  text: string | null;
  attachmentCount: number;
  receivedAt: string;
  promotedTicket: string | null;
}

export interface QuarantinePageProps {
  nonce: string;
  agent: string;
  csrf: string;
  messages: QuarantinedItem[];
  nextHref: string | null;
  firstHref: string | null;
  flash?: { kind: "ok" | "error"; text: string } | undefined;
}

const REASONS: Record<string, string> = {
  "auto-submitted": "auto-submitted (Auto-Submitted header)",
  "auto-reply": "auto-reply (X-Autoreply / X-Autorespond)",
  precedence: "bulk mail (Precedence: bulk, junk or auto_reply)",
  "auto-response-suppress": "asks for no auto-responses (X-Auto-Response-Suppress)",
  bounce: "bounce or delivery report",
  "own-address": "from our own address",
  "mailing-list": "mailing list (kept before list mail became tickets)",
};

/** The first few hundred characters: enough to decide, the rest is on the ticket once opened. */
function excerpt(text: string | null): string {
  if (text === null || text.trim() === "") return "";
  const flat = text.trim();
  return flat.length > 400 ? `${flat.slice(0, 400)}…` : flat;
}

/**
 * Mail that loop protection kept out of the queue, newest first, with one button each to open a
 * ticket from it. Every field is customer content: JSX escapes it, nothing is rendered as HTML.
 */
export function QuarantinePage(props: QuarantinePageProps) {
  return (
    <Layout title="Quarantine" nonce={props.nonce} section="quarantine" agent={props.agent} csrf={props.csrf}>
      <h1>Quarantine</h1>
      {props.flash === undefined ? null : <Flash kind={props.flash.kind}>{props.flash.text}</Flash>}
      <p class="muted" id="quarantine-about">
        Mail that is never acknowledged and opened no ticket: auto-replies, bounces, bulk mail and our own
        mail coming back. Opening a ticket from one starts its clock at the mail's arrival and sends no
        acknowledgement.
      </p>
      {props.messages.length === 0 ? (
        <p class="card">Nothing is in quarantine.</p>
      ) : (
        <div class="table-wrap">
          <table class="queue quarantine" aria-describedby="quarantine-about">
            <caption class="visually-hidden">Quarantined mail, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Received</th>
                <th scope="col">From</th>
                <th scope="col">Subject and text</th>
                <th scope="col">Why</th>
                <th scope="col">Ticket</th>
              </tr>
            </thead>
            <tbody>
              {props.messages.map((m) => (
                <tr data-quarantine={m.id}>
                  <td data-label="Received">
                    <LocalTime at={m.receivedAt} />
                  </td>
                  <td data-label="From">
                    {m.sender ?? <span class="muted">unknown</span>}
                    {m.recipient === null ? null : <div class="muted">to {m.recipient}</div>}
                  </td>
                  <td class="subject">
                    <strong>{m.subject === null || m.subject === "" ? "(no subject)" : m.subject}</strong>
                    {excerpt(m.text) === "" ? null : <p class="body muted">{excerpt(m.text)}</p>}
                    {m.attachmentCount === 0 ? null : (
                      <div class="muted">
                        {m.attachmentCount} attachment{m.attachmentCount === 1 ? "" : "s"}
                      </div>
                    )}
                  </td>
                  <td data-label="Why">{REASONS[m.reason] ?? m.reason}</td>
                  <td data-label="Ticket">
                    {m.promotedTicket !== null ? (
                      <a href={`/tickets/${m.promotedTicket}`}>{m.promotedTicket}</a>
                    ) : (
                      <form method="post" action={`/quarantine/${encodeURIComponent(m.id)}/promote`}>
                        <input type="hidden" name="_csrf" value={props.csrf} />
                        <button type="submit">Open a ticket</button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <nav class="pager" aria-label="Quarantine pages">
        {props.firstHref === null ? <span /> : <a href={props.firstHref}>« Newest</a>}
        {props.nextHref === null ? null : (
          <a href={props.nextHref} rel="next">
            Older »
          </a>
        )}
      </nav>
    </Layout>
  );
}
