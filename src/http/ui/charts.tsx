/**
 * Server-rendered SVG bar charts. Presentation attributes only (no `style`), so the page's strict
 * CSP holds; each chart is an image with a text description, and the page also shows the numbers
 * as a table.
 */

export interface Bar {
  label: string;
  value: number | null;
  /** The value as the table shows it ("1h 5m", "92%"). */
  text: string;
}

const WIDTH = 440;
const LABEL_WIDTH = 96;
const VALUE_WIDTH = 72;
const ROW = 26;
const BAR = 16;

export function BarChart(props: { id: string; title: string; bars: Bar[]; max?: number; color?: string }) {
  const titleId = `${props.id}-title`;
  const descId = `${props.id}-desc`;
  const values = props.bars.map((b) => b.value ?? 0);
  const max = props.max ?? Math.max(0, ...values);
  const span = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
  const height = Math.max(1, props.bars.length) * ROW + 6;
  const description =
    props.bars.length === 0
      ? "No data in this window."
      : props.bars.map((b) => `${b.label}: ${b.text}`).join("; ");
  return (
    <figure class="chart card" id={props.id}>
      <h3 id={titleId}>{props.title}</h3>
      <svg
        viewBox={`0 0 ${WIDTH} ${height}`}
        width={WIDTH}
        height={height}
        role="img"
        aria-labelledby={`${titleId} ${descId}`}
        font-family="system-ui, sans-serif"
        font-size="12"
      >
        <title>{props.title}</title>
        <desc id={descId}>{description}</desc>
        {props.bars.length === 0 ? (
          <text x="0" y="18" fill="#5f6b7a">
            No data in this window
          </text>
        ) : null}
        {props.bars.map((bar, i) => {
          const y = i * ROW + 4;
          const width = bar.value === null || max <= 0 ? 0 : Math.max(2, (bar.value / max) * span);
          return (
            <g>
              <text x={LABEL_WIDTH - 8} y={y + BAR - 3} text-anchor="end" fill="#1f2933">
                {bar.label}
              </text>
              <rect
                x={LABEL_WIDTH}
                y={y}
                width={width.toFixed(1)}
                height={BAR}
                rx="3"
                fill={props.color ?? "#1d4ed8"}
              />
              <text x={(LABEL_WIDTH + width + 6).toFixed(1)} y={y + BAR - 3} fill="#364152">
                {bar.text}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export interface TrendPoint {
  label: string;
  value: number | null;
  text: string;
}

const TREND_WIDTH = 440;
const TREND_HEIGHT = 150;
const PAD_LEFT = 8;
const PAD_RIGHT = 8;
const PAD_TOP = 18;
const PAD_BOTTOM = 28;

/**
 * A weekly trend as a server-rendered SVG line (presentation attributes only, like BarChart): an
 * image with a text description naming every week's value; the page shows the numbers as a table
 * too. A week without data is a gap, not a zero.
 */
export function TrendChart(props: { id: string; title: string; points: TrendPoint[]; color?: string }) {
  const titleId = `${props.id}-title`;
  const descId = `${props.id}-desc`;
  const values = props.points.map((p) => p.value).filter((v): v is number => v !== null);
  const max = Math.max(0, ...values);
  const n = props.points.length;
  const span = TREND_WIDTH - PAD_LEFT - PAD_RIGHT;
  const height = TREND_HEIGHT - PAD_TOP - PAD_BOTTOM;
  const x = (i: number) => PAD_LEFT + (n <= 1 ? span / 2 : (i / (n - 1)) * span);
  const y = (v: number) => PAD_TOP + height - (max <= 0 ? 0 : (v / max) * height);
  // Consecutive weeks with data are joined; a week without data breaks the line.
  const runs: string[] = [];
  let run: string[] = [];
  props.points.forEach((p, i) => {
    if (p.value === null) {
      if (run.length > 0) runs.push(run.join(" "));
      run = [];
    } else run.push(`${x(i).toFixed(1)},${y(p.value).toFixed(1)}`);
  });
  if (run.length > 0) runs.push(run.join(" "));
  const description =
    values.length === 0
      ? "No data in these weeks."
      : props.points.map((p) => `${p.label}: ${p.text}`).join("; ");
  const first = props.points[0];
  const last = props.points.at(-1);
  return (
    <figure class="chart card" id={props.id}>
      <h3 id={titleId}>{props.title}</h3>
      <svg
        viewBox={`0 0 ${TREND_WIDTH} ${TREND_HEIGHT}`}
        width={TREND_WIDTH}
        height={TREND_HEIGHT}
        role="img"
        aria-labelledby={`${titleId} ${descId}`}
        font-family="system-ui, sans-serif"
        font-size="11"
      >
        <title>{props.title}</title>
        <desc id={descId}>{description}</desc>
        <line
          x1={PAD_LEFT}
          x2={TREND_WIDTH - PAD_RIGHT}
          y1={PAD_TOP + height}
          y2={PAD_TOP + height}
          stroke="#d9dee5"
        />
        {values.length === 0 ? (
          <text x={PAD_LEFT} y={PAD_TOP + 12} fill="#5f6b7a">
            No data in these weeks
          </text>
        ) : null}
        {runs.map((points) => (
          <polyline points={points} fill="none" stroke={props.color ?? "#1d4ed8"} stroke-width="2" />
        ))}
        {props.points.map((p, i) =>
          p.value === null ? null : (
            <circle cx={x(i).toFixed(1)} cy={y(p.value).toFixed(1)} r="3" fill={props.color ?? "#1d4ed8"} />
          ),
        )}
        {max > 0 ? (
          <text x={TREND_WIDTH - PAD_RIGHT} y={PAD_TOP - 6} text-anchor="end" fill="#5f6b7a">
            {`max ${props.points.find((p) => p.value === max)?.text ?? ""}`}
          </text>
        ) : null}
        {first === undefined ? null : (
          <text x={PAD_LEFT} y={TREND_HEIGHT - 8} fill="#364152">
            {first.label}
          </text>
        )}
        {last === undefined || n <= 1 ? null : (
          <text x={TREND_WIDTH - PAD_RIGHT} y={TREND_HEIGHT - 8} text-anchor="end" fill="#364152">
            {last.label}
          </text>
        )}
      </svg>
    </figure>
  );
}
