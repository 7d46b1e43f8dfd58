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
