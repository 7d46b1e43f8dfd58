import { CHANNELS } from "../../../domain/inbound";
import type { MetricSet, MetricsReport } from "../../../domain/metrics";
import type { RootCause } from "../../../store/improvements";
import type { TrendWeek } from "../../../store/metrics-trend";
import { type Bar, BarChart, TrendChart } from "../charts";
import { CHANNEL_LABELS, decimal, percent, seconds } from "../format";
import { Flash, Layout } from "../layout";

export interface MetricsForm {
  from: string;
  to: string;
  team: string;
  channel: string;
}

export interface MetricsPageProps {
  nonce: string;
  agent: string;
  csrf: string;
  report: MetricsReport;
  /** Improvements by the number of tickets linked to them, in the window (SPEC §13). */
  rootCauses?: RootCause[];
  form: MetricsForm;
  teams: { id: string; name: string }[];
  presets: { label: string; href: string }[];
  error?: string;
  /** The four metrics per ISO week, oldest first (GET /v1/metrics/trend). */
  trend: TrendWeek[];
}

function Trend(props: { weeks: TrendWeek[] }) {
  const w = props.weeks;
  const label = (t: TrendWeek) => t.week.slice(5);
  return (
    <section aria-labelledby="trend-heading">
      <h2 id="trend-heading">Weekly trend (last {w.length} ISO weeks, UTC, tickets created each week)</h2>
      <div class="charts">
        <TrendChart
          id="trend-first-response"
          title="First response: median"
          points={w.map((t) => ({
            label: label(t),
            value: t.firstResponse.medianSeconds,
            text: seconds(t.firstResponse.medianSeconds),
          }))}
        />
        <TrendChart
          id="trend-within-target"
          title="First response: within target"
          color="#1a7f37"
          points={w.map((t) => ({
            label: label(t),
            value: t.firstResponse.withinTargetRate,
            text: percent(t.firstResponse.withinTargetRate),
          }))}
        />
        <TrendChart
          id="trend-resolution"
          title="Resolution: median"
          color="#6b21a8"
          points={w.map((t) => ({
            label: label(t),
            value: t.resolution.medianSeconds,
            text: seconds(t.resolution.medianSeconds),
          }))}
        />
        <TrendChart
          id="trend-effort"
          title="Customer effort: average (7 = very easy)"
          color="#a15c07"
          points={w.map((t) => ({
            label: label(t),
            value: t.customerEffort.average,
            text: t.customerEffort.average === null ? "—" : `${decimal(t.customerEffort.average)} / 7`,
          }))}
        />
        <TrendChart
          id="trend-improvements"
          title="Issues → improvements"
          color="#b42318"
          points={w.map((t) => ({
            label: label(t),
            value: t.issuesToImprovements.ratio,
            text: percent(t.issuesToImprovements.ratio),
          }))}
        />
      </div>
      <div class="table-wrap">
        <table id="trend-table">
          <caption class="visually-hidden">Weekly trend: the numbers behind the charts</caption>
          <thead>
            <tr>
              <th scope="col">Week</th>
              <th scope="col">Tickets</th>
              <th scope="col">First response (median)</th>
              <th scope="col">Within target</th>
              <th scope="col">Resolution (median)</th>
              <th scope="col">Customer effort</th>
              <th scope="col">Issues → improvements</th>
            </tr>
          </thead>
          <tbody>
            {w.map((t) => (
              <tr>
                <th scope="row">{t.week}</th>
                <td>{t.tickets}</td>
                <td>{seconds(t.firstResponse.medianSeconds)}</td>
                <td>{percent(t.firstResponse.withinTargetRate)}</td>
                <td>{seconds(t.resolution.medianSeconds)}</td>
                <td>
                  {t.customerEffort.average === null ? "—" : `${decimal(t.customerEffort.average)} / 7`}
                </td>
                <td>{percent(t.issuesToImprovements.ratio)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}

function Card(props: {
  id: string;
  title: string;
  value: string;
  valueLabel: string;
  rows: [string, string, string][];
}) {
  return (
    <section class="card metric" aria-labelledby={`${props.id}-h`}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      <div class="value" data-metric={props.id}>
        {props.value}
      </div>
      <div class="value-label">{props.valueLabel}</div>
      <dl>
        {props.rows.map(([term, value, id]) => (
          <>
            <dt>{term}</dt>
            <dd data-metric={id}>{value}</dd>
          </>
        ))}
      </dl>
    </section>
  );
}

/** The top root causes: improvements by the number of tickets linked to them, with their state. */
function RootCauses(props: { causes: RootCause[] }) {
  return (
    <section class="card" aria-labelledby="root-causes-h">
      <h2 id="root-causes-h">Top root causes</h2>
      {props.causes.length === 0 ? (
        <p class="muted">No ticket in this window is linked to an improvement yet.</p>
      ) : (
        <div class="table-wrap">
          <table id="root-causes">
            <thead>
              <tr>
                <th scope="col">Improvement</th>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th scope="col">Tickets</th>
              </tr>
            </thead>
            <tbody>
              {props.causes.map((c) => {
                const href = c.url !== null && /^https?:\/\//i.test(c.url) ? c.url : undefined;
                const name = c.ref !== null && !c.title.startsWith(c.ref) ? `${c.ref}: ${c.title}` : c.title;
                return (
                  <tr data-state={c.state}>
                    <th scope="row">{href === undefined ? name : <a href={href}>{name}</a>}</th>
                    <td>{c.kind}</td>
                    <td>
                      <span class={`badge improvement-${c.state}`}>{c.state}</span>
                    </td>
                    <td>{c.tickets}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Breakdown(props: {
  id: string;
  title: string;
  sets: Record<string, MetricSet>;
  label: (k: string) => string;
}) {
  const entries = Object.entries(props.sets);
  const bars = (value: (s: MetricSet) => number | null, text: (v: number | null) => string): Bar[] =>
    entries.map(([k, s]) => ({ label: props.label(k), value: value(s), text: text(value(s)) }));
  return (
    <section aria-labelledby={`${props.id}-h`}>
      <h2 id={`${props.id}-h`}>{props.title}</h2>
      {entries.length === 0 ? (
        <p class="muted">No tickets in this window.</p>
      ) : (
        <>
          <div class="charts">
            <BarChart
              id={`${props.id}-first`}
              title="Median first response"
              bars={bars((s) => s.firstResponse.medianSeconds, seconds)}
            />
            <BarChart
              id={`${props.id}-target`}
              title="First responses within target"
              bars={bars((s) => s.firstResponse.withinTargetRate, percent)}
              max={1}
              color="#1a7f37"
            />
            <BarChart
              id={`${props.id}-resolution`}
              title="Median resolution time"
              bars={bars((s) => s.resolution.medianSeconds, seconds)}
              color="#6941c6"
            />
            <BarChart
              id={`${props.id}-effort`}
              title="Customer effort (1 very hard – 7 very easy)"
              bars={bars(
                (s) => s.customerEffort.average,
                (v) => decimal(v),
              )}
              max={7}
              color="#b54708"
            />
            <BarChart
              id={`${props.id}-improvements`}
              title="Resolved issues that led to an improvement"
              bars={bars((s) => s.issuesToImprovements.ratio, percent)}
              max={1}
              color="#0e7090"
            />
            <BarChart
              id={`${props.id}-shipped`}
              title="Resolved issues that led to a shipped change"
              bars={bars((s) => s.issuesToImprovements.shippedRatio, percent)}
              max={1}
              color="#067647"
            />
            <BarChart
              id={`${props.id}-promises`}
              title="Promised updates kept"
              bars={bars((s) => s.promises.keptRate, percent)}
              max={1}
              color="#c4320a"
            />
          </div>
          <div class="table-wrap">
            <table id={`${props.id}-table`}>
              <caption class="visually-hidden">{props.title}: the numbers behind the charts</caption>
              <thead>
                <tr>
                  <th scope="col">{props.id === "by-channel" ? "Channel" : "Team"}</th>
                  <th scope="col">Tickets</th>
                  <th scope="col">First responses</th>
                  <th scope="col">Median / p90</th>
                  <th scope="col">Within target</th>
                  <th scope="col">Resolved</th>
                  <th scope="col">Median / p90</th>
                  <th scope="col">Effort (answers)</th>
                  <th scope="col">Improvements</th>
                  <th scope="col">Shipped</th>
                  <th scope="col">Promises kept</th>
                </tr>
              </thead>
              <tbody>
                {entries.map(([k, s]) => (
                  <tr>
                    <th scope="row">{props.label(k)}</th>
                    <td>{s.tickets}</td>
                    <td>{s.firstResponse.count}</td>
                    <td>
                      {seconds(s.firstResponse.medianSeconds)} / {seconds(s.firstResponse.p90Seconds)}
                    </td>
                    <td>{percent(s.firstResponse.withinTargetRate)}</td>
                    <td>{s.resolution.count}</td>
                    <td>
                      {seconds(s.resolution.medianSeconds)} / {seconds(s.resolution.p90Seconds)}
                    </td>
                    <td>
                      {decimal(s.customerEffort.average)} ({s.customerEffort.responses})
                    </td>
                    <td>
                      {s.issuesToImprovements.withImprovement} of {s.issuesToImprovements.resolved} (
                      {percent(s.issuesToImprovements.ratio)})
                    </td>
                    <td>
                      {s.issuesToImprovements.shipped} of {s.issuesToImprovements.resolved} (
                      {percent(s.issuesToImprovements.shippedRatio)})
                    </td>
                    <td>
                      {s.promises.kept} of {s.promises.kept + s.promises.broken} due (
                      {percent(s.promises.keptRate)}
                      ), {s.promises.made} made
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}

export function MetricsPage(props: MetricsPageProps) {
  const r = props.report;
  const f = props.form;
  const teamName = (id: string) => props.teams.find((t) => t.id === id)?.name ?? id;
  return (
    <Layout title="Metrics" nonce={props.nonce} section="metrics" agent={props.agent} csrf={props.csrf}>
      <h1>Metrics</h1>
      <form method="get" action="/metrics" class="card filters" aria-label="Choose the window">
        <div class="row">
          <div class="field">
            <label for="from">From (UTC, inclusive)</label>
            <input type="date" id="from" name="from" value={f.from} required />
          </div>
          <div class="field">
            <label for="to">To (UTC, inclusive)</label>
            <input type="date" id="to" name="to" value={f.to} required />
          </div>
          <div class="field">
            <label for="team">Team</label>
            <select id="team" name="team">
              <option value="" selected={f.team === ""}>
                Every team
              </option>
              {props.teams.map((t) => (
                <option value={t.id} selected={f.team === t.id}>
                  {t.name}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="channel">Channel</label>
            <select id="channel" name="channel">
              <option value="" selected={f.channel === ""}>
                Every channel
              </option>
              {CHANNELS.map((c) => (
                <option value={c} selected={f.channel === c}>
                  {CHANNEL_LABELS[c] ?? c}
                </option>
              ))}
            </select>
          </div>
          <div>
            <button type="submit">Show</button>
          </div>
        </div>
        <p class="muted">
          Quick windows:{" "}
          {props.presets.map((p, i) => (
            <>
              {i === 0 ? "" : " · "}
              <a href={p.href}>{p.label}</a>
            </>
          ))}
        </p>
      </form>
      {props.error === undefined ? null : <Flash kind="error">{props.error}</Flash>}
      <p class="muted">
        Tickets created from {r.from.slice(0, 10)} to before {r.to.slice(0, 16).replace("T", " ")} UTC:{" "}
        <strong data-metric="tickets">{r.tickets}</strong>.
      </p>
      <div class="metrics-cards">
        <Card
          id="first-response"
          title="First response"
          value={seconds(r.firstResponse.medianSeconds)}
          valueLabel="median time to the first reply"
          rows={[
            ["answered", String(r.firstResponse.count), "first-response-count"],
            ["90th percentile", seconds(r.firstResponse.p90Seconds), "first-response-p90"],
            ["within target", percent(r.firstResponse.withinTargetRate), "first-response-within"],
          ]}
        />
        <Card
          id="resolution"
          title="Resolution"
          value={seconds(r.resolution.medianSeconds)}
          valueLabel="median time to resolution"
          rows={[
            ["resolved", String(r.resolution.count), "resolution-count"],
            ["90th percentile", seconds(r.resolution.p90Seconds), "resolution-p90"],
          ]}
        />
        <Card
          id="effort"
          title="Customer effort"
          value={r.customerEffort.average === null ? "—" : `${decimal(r.customerEffort.average)} / 7`}
          valueLabel="average answer, 7 = very easy"
          rows={[["survey answers", String(r.customerEffort.responses), "effort-responses"]]}
        />
        <Card
          id="improvements"
          title="Issues → improvements"
          value={percent(r.issuesToImprovements.ratio)}
          valueLabel="of resolved tickets led to an improvement"
          rows={[
            ["resolved", String(r.issuesToImprovements.resolved), "improvements-resolved"],
            ["with an improvement", String(r.issuesToImprovements.withImprovement), "improvements-linked"],
            ["with a shipped change", String(r.issuesToImprovements.shipped), "improvements-shipped"],
            ["shipped ratio", percent(r.issuesToImprovements.shippedRatio), "improvements-shipped-ratio"],
          ]}
        />
        <Card
          id="promises"
          title="Promised updates"
          value={percent(r.promises.keptRate)}
          valueLabel="kept by the time the customer was told"
          rows={[
            ["made", String(r.promises.made), "promises-made"],
            ["kept", String(r.promises.kept), "promises-kept"],
            ["broken", String(r.promises.broken), "promises-broken"],
          ]}
        />
      </div>
      <RootCauses causes={props.rootCauses ?? []} />
      <Breakdown
        id="by-channel"
        title="By channel"
        sets={r.byChannel}
        label={(k) => CHANNEL_LABELS[k] ?? k}
      />
      <Breakdown id="by-team" title="By team" sets={r.byTeam} label={teamName} />
      <Trend weeks={props.trend} />
    </Layout>
  );
}
