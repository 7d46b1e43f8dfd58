import { KB_MAX_TERMS, KB_MIN_TERM_CHARS, SEARCH_MAX_QUERY_CHARS } from "../../../domain/search";
import type { TicketView } from "../../../domain/ticket";
import type { KnowledgeBaseHit } from "../../../store/knowledge-base";
import { highlightRuns } from "../format";
import { ChannelBadge, Layout, LocalTime } from "../layout";

interface Chrome {
  nonce: string;
  /** Set when an agent is signed in (the page is public either way). */
  agent?: string;
  csrf?: string;
}

export function KnowledgeBasePage(
  props: Chrome & {
    q: string;
    results: KnowledgeBaseHit[] | null;
    /** Words the search left out (too short, or past the cap on words). */
    ignored: string[];
    error?: string;
    /** The desk publishes its response quality (config `publicQuality`): link to it. */
    qualityLink?: boolean;
  },
) {
  return (
    <Layout title="Knowledge base" nonce={props.nonce} section="kb" agent={props.agent} csrf={props.csrf}>
      <h1>Knowledge base</h1>
      <p class="muted">
        Answers from resolved public support conversations.
        {props.qualityLink === true ? (
          <>
            {" "}
            How well we answer: <a href="/quality">response quality</a>.
          </>
        ) : null}
      </p>
      <search>
        <form method="get" action="/kb" class="card filters" aria-label="Search the knowledge base">
          <div class="row">
            <div class="field">
              <label for="q">Search</label>
              <input
                type="search"
                id="q"
                name="q"
                value={props.q}
                maxlength={SEARCH_MAX_QUERY_CHARS}
                required
                aria-describedby="q-hint"
              />
              <small id="q-hint" class="muted">
                Words of at least {KB_MIN_TERM_CHARS} characters; the first {KB_MAX_TERMS} count.
              </small>
            </div>
            <div>
              <button type="submit">Search</button>
            </div>
          </div>
        </form>
      </search>
      {props.error === undefined ? null : (
        <div class="flash error" role="alert">
          {props.error}
        </div>
      )}
      {props.ignored.length === 0 ? null : (
        <p class="muted">Left out of the search: {props.ignored.join(", ")}.</p>
      )}
      {props.results === null ? null : (
        <section aria-labelledby="results-heading">
          <h2 id="results-heading" aria-live="polite">
            {props.results.length === 0
              ? "No answers found"
              : `${props.results.length} answer${props.results.length === 1 ? "" : "s"}`}
          </h2>
          <ol class="kb-results">
            {props.results.map((hit) => (
              <li class="card">
                <h3>
                  <a href={`/kb/${hit.key}`}>{hit.subject === "" ? hit.key : hit.subject}</a>
                </h3>
                <p>
                  {highlightRuns(hit.snippetHtml).map((run) =>
                    run.mark ? <mark>{run.text}</mark> : run.text,
                  )}
                </p>
                <p class="muted">
                  {hit.key} · resolved <LocalTime at={hit.resolvedAt} />
                </p>
              </li>
            ))}
          </ol>
        </section>
      )}
    </Layout>
  );
}

/** A resolved public ticket as an article: the customer's messages and our public replies only. */
export function KnowledgeBaseArticle(props: Chrome & { ticket: TicketView }) {
  const t = props.ticket;
  const messages = t.messages.filter(
    (m) => (m.kind === "customer" || m.kind === "staff" || m.kind === "community") && m.deletedAt === null,
  );
  return (
    <Layout title={t.subject || t.key} nonce={props.nonce} section="kb" agent={props.agent} csrf={props.csrf}>
      <p>
        <a href="/kb">« Knowledge base</a>
      </p>
      <h1>{t.subject === "" ? t.key : t.subject}</h1>
      <p class="muted">
        <ChannelBadge channel={t.channel} /> {t.key} · resolved <LocalTime at={t.resolvedAt} />
      </p>
      <ol class="conversation">
        {messages.map((m) => (
          <li>
            <article class={`msg ${m.kind === "staff" ? "staff" : "inbound"}`}>
              <header>
                <span class="author">{m.kind === "staff" ? "Support" : "Question"}</span>
                <span class="muted">
                  <LocalTime at={m.createdAt} />
                </span>
              </header>
              <p class="body">{m.text}</p>
            </article>
          </li>
        ))}
      </ol>
    </Layout>
  );
}
