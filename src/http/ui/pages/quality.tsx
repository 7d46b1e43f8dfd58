import type { QualityReport, QualitySet } from "../../../domain/quality";
import { type Bar, BarChart } from "../charts";
import { CHANNEL_LABELS, decimal, percent, seconds } from "../format";
import { Layout } from "../layout";

/**
 * `/quality` (SPEC §16): the desk's response quality for anyone. Everything on it comes from a
 * `QualityReport` — counts, rates and durations — so no conversation, person, team or ticket
 * can appear here. Charts are SVG images with a text description, and every number is also in a
 * table.
 */

const COLUMNS = ["publicChannels", "github", "discord", "desk"] as const;
type Column = (typeof COLUMNS)[number];

const COLUMN_LABEL: Record<Column, string> = {
  publicChannels: "Public channels",
  github: CHANNEL_LABELS.github ?? "GitHub",
  discord: CHANNEL_LABELS.discord ?? "Discord",
  desk: "Whole desk",
};

function column(scope: Pick<QualityReport, "desk" | "publicChannels" | "byChannel">, c: Column): QualitySet {
  if (c === "desk") return scope.desk;
  if (c === "publicChannels") return scope.publicChannels;
  return scope.byChannel[c];
}

function keptText(s: QualitySet): string {
  const due = s.promises.kept + s.promises.broken;
  return due === 0 ? "—" : `${percent(s.promises.keptRate)} (${s.promises.kept} of ${due})`;
}

const ROWS: { label: string; id: string; value: (s: QualitySet) => string }[] = [
  { label: "Tickets", id: "tickets", value: (s) => String(s.tickets) },
  {
    label: "Median first response",
    id: "first-response-median",
    value: (s) => seconds(s.firstResponse.medianSeconds),
  },
  {
    label: "90th percentile first response",
    id: "first-response-p90",
    value: (s) => seconds(s.firstResponse.p90Seconds),
  },
  {
    label: "First responses within target",
    id: "first-response-within",
    value: (s) => percent(s.firstResponse.withinTargetRate),
  },
  {
    label: "Median time to resolution",
    id: "resolution-median",
    value: (s) => seconds(s.resolution.medianSeconds),
  },
  {
    label: "Customer effort (1 very hard – 7 very easy)",
    id: "effort",
    value: (s) =>
      s.customerEffort.responses === 0
        ? "—"
        : `${decimal(s.customerEffort.average)} (${s.customerEffort.responses} answers)`,
  },
  {
    label: "Resolved issues that led to a product improvement",
    id: "improvements",
    value: (s) =>
      s.issuesToImprovements.resolved === 0
        ? "—"
        : `${percent(s.issuesToImprovements.ratio)} (${s.issuesToImprovements.withImprovement} of ${s.issuesToImprovements.resolved})`,
  },
  {
    label: "Resolved issues whose fix has shipped",
    id: "shipped",
    value: (s) =>
      s.issuesToImprovements.resolved === 0
        ? "—"
        : `${percent(s.issuesToImprovements.shippedRatio)} (${s.issuesToImprovements.shipped} of ${s.issuesToImprovements.resolved})`,
  },
  { label: "Promised updates kept", id: "promises", value: keptText },
];

export function QualityPage(props: { nonce: string; report: QualityReport }) {
  const r = props.report;
  const weekBars = (
    value: (s: QualitySet) => number | null,
    text: (v: number | null) => string,
    c: Column,
  ): Bar[] =>
    r.weeks.map((w) => {
      const v = value(column(w, c));
      return { label: w.week, value: v, text: text(v) };
    });
  return (
    <Layout title="Response quality" nonce={props.nonce} section="quality">
      <h1>Response quality</h1>
      <p>
        How we answered support requests created in the last 30 days ({r.from.slice(0, 10)} to{" "}
        {r.to.slice(0, 16).replace("T", " ")} UTC). The public channels are GitHub and Discord, where
        conversations are public; the whole desk also counts email, Slack and integrations. Only counts, rates
        and durations are shown — never a conversation, a person or a ticket.
      </p>
      <section aria-labelledby="summary-h">
        <h2 id="summary-h">Last 30 days</h2>
        <div class="table-wrap">
          <table id="quality-summary">
            <caption class="visually-hidden">
              The four support metrics and promised updates kept, last 30 days
            </caption>
            <thead>
              <tr>
                <th scope="col">Measure</th>
                {COLUMNS.map((c) => (
                  <th scope="col">{COLUMN_LABEL[c]}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {ROWS.map((row) => (
                <tr>
                  <th scope="row">{row.label}</th>
                  {COLUMNS.map((c) => (
                    <td data-quality={`${c}:${row.id}`}>{row.value(column(r, c))}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="weeks-h">
        <h2 id="weeks-h">By ISO week</h2>
        <div class="charts">
          <BarChart
            id="week-first-public"
            title="Median first response, public channels"
            bars={weekBars((s) => s.firstResponse.medianSeconds, seconds, "publicChannels")}
          />
          <BarChart
            id="week-within-desk"
            title="First responses within target, whole desk"
            bars={weekBars((s) => s.firstResponse.withinTargetRate, percent, "desk")}
            max={1}
            color="#1a7f37"
          />
          <BarChart
            id="week-resolution-public"
            title="Median time to resolution, public channels"
            bars={weekBars((s) => s.resolution.medianSeconds, seconds, "publicChannels")}
            color="#6941c6"
          />
          <BarChart
            id="week-promises-desk"
            title="Promised updates kept, whole desk"
            bars={weekBars((s) => s.promises.keptRate, percent, "desk")}
            max={1}
            color="#c4320a"
          />
        </div>
        <div class="table-wrap">
          <table id="quality-weeks">
            <caption class="visually-hidden">The numbers behind the weekly charts</caption>
            <thead>
              <tr>
                <th scope="col">Week</th>
                <th scope="col">Scope</th>
                {ROWS.map((row) => (
                  <th scope="col">{row.label}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {r.weeks.flatMap((w) =>
                COLUMNS.map((c) => (
                  <tr>
                    <th scope="row">{w.week}</th>
                    <td>{COLUMN_LABEL[c]}</td>
                    {ROWS.map((row) => (
                      <td>{row.value(column(w, c))}</td>
                    ))}
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </div>
      </section>
      <p class="muted">
        The same numbers as JSON: <a href="/v1/quality">/v1/quality</a>. Answers to your own questions:{" "}
        <a href="/kb">the knowledge base</a>.
      </p>
    </Layout>
  );
}
