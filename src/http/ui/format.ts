/** Display helpers shared by the console pages. The client script repeats `shortDuration` (see layout). */

export function shortDuration(ms: number): string {
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86400);
  s %= 86400;
  const h = Math.floor(s / 3600);
  s %= 3600;
  const m = Math.floor(s / 60);
  s %= 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

/** "due in 3h 12m" / "overdue by 5m 2s": what a `<time data-countdown>` shows before the script takes over. */
export function countdownText(dueIso: string, now: number): string {
  const left = Date.parse(dueIso) - now;
  return left >= 0 ? `due in ${shortDuration(left)}` : `overdue by ${shortDuration(left)}`;
}

/** `2026-03-01 14:32 UTC`: agents work across time zones; the desk's clocks are UTC. */
export function dateTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined || iso === "") return "—";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "—";
  return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

/** Seconds → "1h 05m" style, or "—" for no value. */
export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return shortDuration(value * 1000);
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined) return "—";
  return `${Math.round(value * 1000) / 10}%`;
}

export function decimal(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined) return "—";
  return value.toFixed(digits);
}

export function bytes(size: number): string {
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / 1024 / 1024).toFixed(1)} MB`;
}

export const CHANNEL_LABELS: Record<string, string> = {
  email: "Email",
  slack: "Slack",
  github: "GitHub",
  discord: "Discord",
  api: "API",
};

export const LEVEL_LABELS: Record<number, string> = {
  1: "1 · community",
  2: "2 · direct",
  3: "3 · engineering",
  4: "4 · incident",
};

/** A same-origin path to go back to after sign-in; anything else (`//evil`, `https:`, `/\evil`) is dropped. */
export function safeNext(raw: string | undefined | null): string {
  if (raw === undefined || raw === null) return "/queue";
  if (!/^\/(?![/\\])[^\s]*$/.test(raw) || raw.length > 1000) return "/queue";
  return raw;
}

/**
 * Splits the knowledge base's `snippetHtml` (HTML-escaped text with `<mark>` around matches) back
 * into text runs, so the page renders them through JSX escaping rather than as raw HTML. A literal
 * `<mark>` typed by a customer is `&lt;mark&gt;` there, so the split is unambiguous.
 */
export function highlightRuns(snippetHtml: string): { text: string; mark: boolean }[] {
  const decode = (s: string) =>
    s
      .replace(/&lt;/g, "<")
      .replace(/&gt;/g, ">")
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
  const runs: { text: string; mark: boolean }[] = [];
  for (const [i, part] of snippetHtml.split(/<\/?mark>/).entries()) {
    if (part !== "") runs.push({ text: decode(part), mark: i % 2 === 1 });
  }
  return runs;
}
