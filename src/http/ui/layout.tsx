import type { Child } from "hono/jsx";
import { CHANNEL_LABELS, countdownText, dateTime, shortDuration } from "./format";
import { LIVE_SCRIPT } from "./live-script";

/**
 * The console's only script: live SLA countdowns. It rewrites every `<time data-countdown>` once a
 * second from its `datetime`, with the same wording the server rendered (`shortDuration` in
 * format.ts). Inline with the page's CSP nonce; no other script runs on console pages.
 */
export const COUNTDOWN_SCRIPT = `(() => {
  const fmt = (ms) => {
    let s = Math.round(Math.abs(ms) / 1000);
    const d = Math.floor(s / 86400); s %= 86400;
    const h = Math.floor(s / 3600); s %= 3600;
    const m = Math.floor(s / 60); s %= 60;
    return d > 0 ? d + "d " + h + "h" : h > 0 ? h + "h " + m + "m" : m > 0 ? m + "m " + s + "s" : s + "s";
  };
  const tick = () => {
    for (const t of document.querySelectorAll("time[data-countdown]")) {
      const left = Date.parse(t.dateTime) - Date.now();
      if (Number.isNaN(left)) continue;
      const resumes = Date.parse(t.dataset.pausedUntil || "") - Date.now();
      if (resumes > 0) {
        t.textContent = "paused outside business hours, resumes in " + fmt(resumes);
        continue;
      }
      t.textContent = left >= 0 ? "due in " + fmt(left) : "overdue by " + fmt(left);
      t.classList.toggle("overdue", left < 0);
    }
  };
  tick();
  setInterval(tick, 1000);
})();`;

/** Public pages (the knowledge base) show times in the reader's zone too; nothing else runs there. */
export const LOCAL_TIME_SCRIPT = `(() => {
  const f = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric",
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZoneName: "short" });
  for (const t of document.querySelectorAll("time[data-local]")) {
    const d = new Date(t.dateTime);
    if (Number.isNaN(d.getTime())) continue;
    t.title = d.toISOString().slice(0, 16).replace("T", " ") + " UTC";
    t.textContent = f.format(d);
  }
  for (const z of document.querySelectorAll("[data-zone]")) z.textContent = "times in your time zone (UTC in each time's tooltip)";
})();`;

export const CONSOLE_CSS = `
:root { --fg:#1f2933; --muted:#5f6b7a; --line:#d9dee5; --bg:#f6f7f9; --card:#fff; --accent:#1d4ed8;
  --danger:#b42318; --warn:#a15c07; --ok:#1a7f37; --note:#fff8db; --note-line:#e5c449; --radius:.5rem; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 3px solid #f59e0b; outline-offset: 2px; border-radius: 2px; }
.skip { position: absolute; left: -999px; top: .5rem; background: #fff; padding: .5rem 1rem; z-index: 10; }
.skip:focus { left: .5rem; }
.visually-hidden { position: absolute !important; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
header.top { background: #111827; color: #fff; }
header.top .bar { max-width: 78rem; margin: 0 auto; padding: .6rem 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; }
header.top a { color: #fff; text-decoration: none; }
header.top .brand { font-weight: 700; letter-spacing: .02em; }
header.top nav ul { list-style: none; display: flex; gap: .25rem; margin: 0; padding: 0; flex-wrap: wrap; }
header.top nav a { display: block; padding: .35rem .7rem; border-radius: var(--radius); color: #d1d5db; }
header.top nav a[aria-current="page"] { background: #374151; color: #fff; }
header.top nav a:hover { color: #fff; }
header.top .who { margin-left: auto; display: flex; gap: .6rem; align-items: center; color: #d1d5db; font-size: .9rem; }
header.top .who button { background: transparent; color: #fff; border: 1px solid #6b7280; }
main { max-width: 78rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; margin: .25rem 0 1rem; line-height: 1.25; overflow-wrap: anywhere; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .6rem; }
h3 { font-size: 1rem; margin: 1rem 0 .4rem; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: var(--radius); padding: 1rem; }
.card > h1:first-child, .card > h2:first-child, .card > h3:first-child { margin-top: 0; }
figure { margin: 0; }
label { font-weight: 600; font-size: .85rem; display: block; margin-bottom: .2rem; }
input, select, textarea, button { font: inherit; }
input[type=text], input[type=password], input[type=search], input[type=url], input[type=date], select, textarea {
  width: 100%; padding: .45rem .55rem; border: 1px solid #9aa5b1; border-radius: .4rem; background: #fff; color: var(--fg); }
textarea { min-height: 6.5rem; resize: vertical; }
button, .button { display: inline-block; padding: .5rem 1rem; border-radius: .4rem; border: 1px solid var(--accent); background: var(--accent);
  color: #fff; font-weight: 600; cursor: pointer; text-decoration: none; line-height: 1.3; }
button.secondary, .button.secondary { background: #fff; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button.note { background: #7a5d00; border-color: #7a5d00; }
.row { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; }
.row > .field { flex: 1 1 9rem; min-width: 8rem; }
.filters { margin-bottom: 1rem; }
.flash { padding: .7rem 1rem; border-radius: var(--radius); margin-bottom: 1rem; border: 1px solid; }
.flash.ok { background: #ecfdf3; border-color: #abefc6; color: #05603a; }
.flash.error { background: #fef3f2; border-color: #fecdca; color: var(--danger); }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .75rem; font-weight: 700; border: 1px solid transparent;
  background: #eef2f6; color: #364152; white-space: nowrap; vertical-align: middle; }
.badge.ch-email { background: #e0f2fe; color: #075985; }
.badge.ch-slack { background: #f3e8ff; color: #6b21a8; }
.badge.ch-github { background: #e5e7eb; color: #111827; }
.badge.ch-discord { background: #e0e7ff; color: #3730a3; }
.badge.ch-api { background: #dcfce7; color: #166534; }
.badge.p-critical { background: var(--danger); color: #fff; }
.badge.p-high { background: #fee4e2; color: var(--danger); }
.badge.p-low { background: #f2f4f7; color: var(--muted); }
.badge.st-open { background: #fef0c7; color: #93370d; }
.badge.st-pending { background: #e0f2fe; color: #075985; }
.badge.st-resolved { background: #dcfae6; color: #085d3a; }
.badge.breached { background: var(--danger); color: #fff; }
.badge.internal { background: var(--note-line); color: #3d2c00; }
time.overdue, .overdue { color: var(--danger); font-weight: 700; }
time.paused { color: var(--muted); font-style: italic; }
.muted { color: var(--muted); }
table { width: 100%; border-collapse: collapse; background: var(--card); }
th, td { text-align: left; padding: .5rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { font-size: .8rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); background: #fbfcfd; }
tbody th { font-weight: 600; }
.queue td.subject a { font-weight: 600; overflow-wrap: anywhere; }
.queue tr.breached-row td:first-child { box-shadow: inset 4px 0 0 var(--danger); }
.pager { display: flex; gap: .75rem; justify-content: space-between; margin-top: 1rem; flex-wrap: wrap; }
.ticket-layout { display: grid; grid-template-columns: minmax(0, 1fr) 20rem; gap: 1.25rem; align-items: start; }
.meta { display: grid; grid-template-columns: auto 1fr; gap: .25rem .75rem; margin: 0; font-size: .9rem; }
.meta dt { color: var(--muted); }
.meta dd { margin: 0; overflow-wrap: anywhere; }
.conversation { list-style: none; margin: 0; padding: 0; display: grid; gap: .75rem; }
.msg { border: 1px solid var(--line); border-radius: var(--radius); background: var(--card); padding: .75rem 1rem; }
.msg header { display: flex; flex-wrap: wrap; gap: .4rem .6rem; align-items: baseline; font-size: .85rem; margin-bottom: .4rem; }
.msg header .author { font-weight: 700; font-size: .95rem; }
.msg.inbound { border-left: 4px solid #64748b; }
.msg.staff { border-left: 4px solid var(--accent); background: #f5f8ff; }
.msg.note { border: 1px dashed var(--note-line); border-left: 4px solid var(--note-line); background: var(--note); }
.msg.system { background: #fafafa; color: #475467; font-size: .9rem; }
.msg .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0; font: inherit; }
.msg iframe { width: 100%; height: 18rem; border: 1px solid var(--line); border-radius: .4rem; background: #fff; margin-top: .5rem; }
.msg ul.attachments { margin: .5rem 0 0; padding-left: 1.2rem; font-size: .9rem; }
.composer { display: grid; gap: 1rem; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); margin-top: 1rem; }
.composer form { border-radius: var(--radius); padding: 1rem; }
.composer .public { background: #f5f8ff; border: 1px solid #b2c7f5; }
.composer .internal { background: var(--note); border: 1px dashed var(--note-line); }
.composer p.hint { margin: .2rem 0 .5rem; font-size: .85rem; color: var(--muted); }
.composer fieldset.next-update { border: 1px solid #b2c7f5; border-radius: var(--radius); margin: .5rem 0; padding: .4rem .75rem .6rem; }
.composer fieldset.next-update label { display: inline-flex; align-items: center; gap: .3rem; margin: .2rem .9rem .2rem 0; font-weight: normal; }
aside .card + .card { margin-top: 1rem; }
aside form .field { margin-bottom: .6rem; }
.stack { display: grid; gap: .5rem; }
.metrics-cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(15rem, 1fr)); gap: 1rem; }
.metric .value { font-size: 1.9rem; font-weight: 700; line-height: 1.1; }
.metric .value-label { color: var(--muted); font-size: .8rem; }
.metric dl { display: grid; grid-template-columns: auto 1fr; gap: .1rem .75rem; font-size: .85rem; margin: .5rem 0 0; }
.metric dt { color: var(--muted); }
.metric dd { margin: 0; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(19rem, 1fr)); gap: 1rem; }
.chart svg { width: 100%; height: auto; display: block; }
.chart h3 { margin-top: 0; }
.table-wrap { overflow-x: auto; }
.quarantine .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .3rem 0 0; font-size: .85rem; }
.quarantine form { margin: 0; }
.kb-results { list-style: none; padding: 0; display: grid; gap: .75rem; }
mark { background: #fde68a; color: inherit; padding: 0 .1rem; }
.login { max-width: 26rem; margin: 3rem auto; }
.presence { background: #eef4ff; border: 1px solid #b2c7f5; border-radius: var(--radius); padding: .45rem .8rem; margin: 0 0 1rem; }
.presence .typing { color: var(--accent); font-style: italic; }
.live-status { font-size: .8rem; color: var(--muted); margin: 0 0 .5rem; }
.fresh { animation: fresh 2.5s ease-out; }
@keyframes fresh { from { background: #fff7cc; } to { background: transparent; } }
.collision { border: 2px solid var(--danger); }
.collision ol { margin: .5rem 0; padding-left: 1.2rem; }
.collision .body { white-space: pre-wrap; overflow-wrap: anywhere; margin: .2rem 0 .6rem; }
.views { display: flex; gap: .5rem; margin: 0 0 1rem; flex-wrap: wrap; }
.views a { padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 999px; background: #fff; text-decoration: none; }
.views a[aria-current="page"] { background: var(--accent); color: #fff; border-color: var(--accent); }
.bulk { display: flex; flex-wrap: wrap; gap: .5rem; align-items: flex-end; margin: 0 0 .75rem; }
.bulk .field { min-width: 10rem; }
.shortcuts kbd { border: 1px solid #9aa5b1; border-bottom-width: 2px; border-radius: .25rem; padding: 0 .3rem; font-size: .8rem; background: #fff; }
.shortcuts dl { display: grid; grid-template-columns: auto 1fr; gap: .2rem .75rem; margin: .5rem 0 0; font-size: .9rem; }
.shortcuts dd { margin: 0; }
footer.bottom { max-width: 78rem; margin: 2rem auto; padding: 0 1rem; color: var(--muted); font-size: .8rem; }
@media (max-width: 60rem) {
  .ticket-layout { grid-template-columns: minmax(0, 1fr); }
  .composer { grid-template-columns: minmax(0, 1fr); }
}
@media (max-width: 40rem) {
  main { padding: .75rem; }
  header.top .who { margin-left: 0; width: 100%; justify-content: space-between; }
  table.queue thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  table.queue, table.queue tbody, table.queue tr, table.queue td { display: block; width: 100%; }
  table.queue tr { border: 1px solid var(--line); border-radius: var(--radius); margin-bottom: .6rem; background: var(--card); }
  table.queue td { border: 0; padding: .2rem .75rem; }
  table.queue td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .8rem; }
  table.queue td.subject { padding-top: .6rem; }
}
`;

export type Section = "queue" | "metrics" | "quarantine" | "kb" | "quality" | "login" | "ticket" | "other";

export interface LayoutProps {
  title: string;
  nonce: string;
  section: Section;
  /** The signed-in agent; absent on public pages. */
  agent?: string;
  /** CSRF token for the sign-out form. */
  csrf?: string;
  /** What the page follows live over /live (`queue` or `ticket:SUP-12`); none: no socket. */
  live?: string;
  children?: Child;
}

function NavLink(props: { href: string; current: boolean; children: Child }) {
  return (
    <li>
      <a href={props.href} aria-current={props.current ? "page" : undefined}>
        {props.children}
      </a>
    </li>
  );
}

export function Layout(props: LayoutProps) {
  const signedIn = props.agent !== undefined;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>{`${props.title} · Switchboard`}</title>
        <style nonce={props.nonce} dangerouslySetInnerHTML={{ __html: CONSOLE_CSS }} />
      </head>
      <body data-live={signedIn ? props.live : undefined} data-agent={signedIn ? props.agent : undefined}>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <div class="bar">
            <a class="brand" href={signedIn ? "/queue" : "/kb"}>
              Switchboard
            </a>
            <nav aria-label="Console">
              <ul>
                {signedIn ? (
                  <>
                    <NavLink href="/queue" current={props.section === "queue"}>
                      Queue
                    </NavLink>
                    <NavLink href="/metrics" current={props.section === "metrics"}>
                      Metrics
                    </NavLink>
                    <NavLink href="/quarantine" current={props.section === "quarantine"}>
                      Quarantine
                    </NavLink>
                  </>
                ) : null}
                <NavLink href="/kb" current={props.section === "kb"}>
                  Knowledge base
                </NavLink>
              </ul>
            </nav>
            <div class="who">
              {signedIn ? (
                <>
                  <span>
                    Signed in as <strong>{props.agent}</strong>
                  </span>
                  <form method="post" action="/logout">
                    <input type="hidden" name="_csrf" value={props.csrf ?? ""} />
                    <button type="submit">Sign out</button>
                  </form>
                </>
              ) : props.section === "login" ? null : (
                <a href="/login">Agent sign-in</a>
              )}
            </div>
          </div>
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
        <footer class="bottom">
          Switchboard support desk · <span data-zone="">times in UTC</span>
        </footer>
        {/* Constants of this module, never customer content: written as they are (JSX would escape the quotes). */}
        {signedIn ? (
          <>
            <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: COUNTDOWN_SCRIPT }} />
            <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: LIVE_SCRIPT }} />
          </>
        ) : (
          <script nonce={props.nonce} dangerouslySetInnerHTML={{ __html: LOCAL_TIME_SCRIPT }} />
        )}
      </body>
    </html>
  );
}

/** A moment: UTC from the server, the agent's own zone once the page script runs (UTC in the title). */
export function LocalTime(props: { at: string | null | undefined }) {
  if (props.at === null || props.at === undefined || props.at === "") return <>—</>;
  return (
    <time datetime={props.at} data-local="" title={dateTime(props.at)}>
      {dateTime(props.at)}
    </time>
  );
}

/**
 * A `<time>` that counts down to a deadline (server text first, then the client script). A clock on
 * business hours whose calendar is closed now (SPEC §14) says it is paused, and when it resumes.
 */
export function Countdown(props: { due: string; now: number; pausedUntil?: string | null }) {
  const left = Date.parse(props.due) - props.now;
  const paused = props.pausedUntil === null || props.pausedUntil === undefined ? null : props.pausedUntil;
  const resumes = paused === null ? 0 : Date.parse(paused) - props.now;
  return (
    <time
      datetime={props.due}
      data-countdown=""
      data-paused-until={paused ?? undefined}
      class={left < 0 ? "overdue" : resumes > 0 ? "paused" : undefined}
      title={paused === null ? props.due : `due ${props.due}; business hours resume ${paused}`}
    >
      {resumes > 0
        ? `paused outside business hours, resumes in ${shortDuration(resumes)}`
        : countdownText(props.due, props.now)}
    </time>
  );
}

export function Flash(props: { kind: "ok" | "error"; children: Child }) {
  return (
    <div class={`flash ${props.kind}`} role={props.kind === "error" ? "alert" : "status"}>
      {props.children}
    </div>
  );
}

export function ChannelBadge(props: { channel: string; label?: string }) {
  return (
    <span class={`badge ch-${props.channel}`}>
      {props.label ?? CHANNEL_LABELS[props.channel] ?? props.channel}
    </span>
  );
}
