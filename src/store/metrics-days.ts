import { DAY_MS } from "../domain/metrics";

/**
 * `metrics_days`: one row per (UTC day of creation, channel, team) holding what the metrics add up
 * over the tickets created that day (SPEC §8): how many, how many answered, in time, resolved,
 * improved, surveyed, and the two durations as histograms. SQLite triggers on `tickets`,
 * `improvements` and `surveys` keep it in step with every write (migration 0019; no write path
 * knows about it), so a window's metrics read one row per day and cell instead of one per ticket.
 *
 * The SQL of those triggers and of the backfill is written here (`metricsDaysMigrationSql`) and
 * copied verbatim into the migration; a unit test checks that they still agree, and the same
 * day and bucket expressions serve the queries in store/metrics.ts.
 */

/** Every column a ticket adds to its row of `metrics_days`, beside the two histograms. */
export const METRIC_DAY_COUNTS = [
  "tickets",
  "responded",
  "hits",
  "due_responded",
  "due_open",
  "resolved",
  "improved",
  "shipped",
  "effort_responses",
  "effort_total",
] as const;
export type MetricDayCount = (typeof METRIC_DAY_COUNTS)[number];

const ZEROS = "0".repeat(17);

/** `durationBucket` in SQL, over an integer expression (null stays null). */
export function bucketSqlText(d: string): string {
  return `(case when ${d} < 100 then ${d} else cast(substr(${d}, 1, 2) || substr('${ZEROS}', 1, length(${d}) - 2) as integer) end)`;
}

/** UTC day number (floor of ms / 86,400,000) in SQL; integer division alone would round towards 0. */
export function daySqlText(ms: string): string {
  return `(case when ${ms} >= 0 then ${ms} / ${DAY_MS} else (${ms} + 1) / ${DAY_MS} - 1 end)`;
}

/** What one ticket row (`r` is `new`, `old` or a table alias) adds to its day's counts. */
function countOf(r: string): Record<MetricDayCount, string> {
  return {
    tickets: "1",
    responded: `(${r}.first_response_at is not null)`,
    hits: `coalesce(${r}.first_response_at <= ${r}.first_due_at, 0)`,
    due_responded: `(${r}.first_due_at is not null and ${r}.first_response_at is not null)`,
    due_open: `(${r}.first_due_at is not null and ${r}.first_response_at is null)`,
    resolved: `(${r}.resolved_at is not null)`,
    improved: `(case when ${r}.resolved_at is null then 0 else exists (select 1 from improvements i where i.ticket_number = ${r}.number) end)`,
    shipped: `(case when ${r}.resolved_at is null then 0 else exists (select 1 from improvements i where i.ticket_number = ${r}.number and i.state = 'shipped') end)`,
    effort_responses: `(select count(s.score) from surveys s where s.ticket_number = ${r}.number)`,
    effort_total: `(select coalesce(sum(s.score), 0) from surveys s where s.ticket_number = ${r}.number)`,
  };
}

const HISTOGRAMS = {
  first_response: "first_response_at",
  resolution: "resolved_at",
} as const;
type Histogram = keyof typeof HISTOGRAMS;

function keyOf(r: string, h: Histogram): string {
  return bucketSqlText(`(${r}.${HISTOGRAMS[h]} - ${r}.created_at)`);
}

const path = (key: string) => `'$."' || ${key} || '"'`;
const plusOne = (h: string, key: string) =>
  `json_set(${h}, ${path(key)}, coalesce(json_extract(${h}, ${path(key)}), 0) + 1)`;
const minusOne = (h: string, key: string) =>
  `json_set(${h}, ${path(key)}, json_extract(${h}, ${path(key)}) - 1)`;

/** Histogram `h` with one count moved from bucket `from` to bucket `to` (either may be null: none). */
function moved(h: string, from: string, to: string): string {
  return `case when ${from} is ${to} then ${h}
      when ${from} is null then ${plusOne(h, to)}
      when ${to} is null then ${minusOne(h, from)}
      else json_set(${h}, ${path(from)}, json_extract(${h}, ${path(from)}) - 1, ${path(to)}, coalesce(json_extract(${h}, ${path(to)}), 0) + 1) end`;
}

/** The UTC day of row `r`'s first deadline if it is still unanswered, else null. */
const dueDayOf = (r: string) =>
  `(case when ${r}.first_response_at is null and ${r}.first_due_at is not null then ${daySqlText(`${r}.first_due_at`)} end)`;

/** `unanswered_due_day` raised to `day` (null: unchanged); it is never lowered. */
const raised = (day: string) =>
  `case when ${day} is null then unanswered_due_day when unanswered_due_day is null or ${day} > unanswered_due_day then ${day} else unanswered_due_day end`;

const cellOf = (r: string) =>
  `day = ${daySqlText(`${r}.created_at`)} and channel = ${r}.channel and team = ${r}.team`;

/** Adds row `r`'s contribution to its cell, creating the cell's row if it is the first. */
function addRow(r: string): string {
  const counts = countOf(r);
  const due = dueDayOf(r);
  const columns = [
    "day",
    "channel",
    "team",
    ...METRIC_DAY_COUNTS,
    "unanswered_due_day",
    ...Object.keys(HISTOGRAMS),
  ];
  const values = [
    daySqlText(`${r}.created_at`),
    `${r}.channel`,
    `${r}.team`,
    ...METRIC_DAY_COUNTS.map((c) => counts[c]),
    due,
    ...Object.keys(HISTOGRAMS).map((h) => {
      const key = keyOf(r, h as Histogram);
      return `case when ${key} is null then '{}' else json_object(cast(${key} as text), 1) end`;
    }),
  ];
  const sets = [
    ...METRIC_DAY_COUNTS.map((c) => `${c} = ${c} + excluded.${c}`),
    `unanswered_due_day = ${raised("excluded.unanswered_due_day")}`,
    ...Object.keys(HISTOGRAMS).map((h) => {
      const key = keyOf(r, h as Histogram);
      return `${h} = case when ${key} is null then ${h} else ${plusOne(h, key)} end`;
    }),
  ];
  return `insert into metrics_days (${columns.join(", ")})
    values (${values.join(", ")})
    on conflict (day, channel, team) do update set ${sets.join(", ")};`;
}

/** Takes row `r`'s contribution out of its cell. */
function removeRow(r: string): string {
  const counts = countOf(r);
  const sets = [
    ...METRIC_DAY_COUNTS.map((c) => `${c} = ${c} - ${counts[c]}`),
    ...Object.keys(HISTOGRAMS).map((h) => {
      const key = keyOf(r, h as Histogram);
      return `${h} = case when ${key} is null then ${h} else ${minusOne(h, key)} end`;
    }),
  ];
  return `update metrics_days set ${sets.join(", ")} where ${cellOf(r)};`;
}

/** The columns whose change moves a ticket to another cell, and those that change what it adds. */
const MOVES = "channel, team, created_at";
const CHANGES = "created_at, first_response_at, first_due_at, resolved_at";
const sameCell = `old.channel = new.channel and old.team = new.team and ${daySqlText("old.created_at")} = ${daySqlText("new.created_at")}`;

/** Same cell, other counts: one update with the differences (effort does not depend on these columns). */
function changeRow(): string {
  const before = countOf("old");
  const after = countOf("new");
  const sets = [
    ...METRIC_DAY_COUNTS.filter((c) => c !== "tickets" && !c.startsWith("effort_")).map(
      (c) => `${c} = ${c} + ${after[c]} - ${before[c]}`,
    ),
    ...Object.keys(HISTOGRAMS).map(
      (h) => `${h} = ${moved(h, keyOf("old", h as Histogram), keyOf("new", h as Histogram))}`,
    ),
  ];
  return `update metrics_days set ${sets.join(", ")} where ${cellOf("new")};`;
}

/** An improvement's ticket as a cell, if it is resolved (only resolved tickets count as improved). */
const resolvedCell = (ticket: string) =>
  `(day, channel, team) = (select ${daySqlText("t.created_at")}, t.channel, t.team from tickets t
      where t.number = ${ticket} and t.resolved_at is not null)`;

/** Whether ticket `ticket` has an improvement (a shipped one) other than row `self`. */
const others = (ticket: string, self: string, shipped: boolean) =>
  `exists (select 1 from improvements i where i.ticket_number = ${ticket} and i.id <> ${self}${shipped ? " and i.state = 'shipped'" : ""})`;

/** Improvement row `r` appears (+1) or goes (-1) on its ticket: the ticket's flags flip if it is its first/last. */
function improvementStep(r: string, sign: "+" | "-"): string {
  return `update metrics_days set
      improved = improved ${sign} (not ${others(`${r}.ticket_number`, `${r}.id`, false)}),
      shipped = shipped ${sign} (${r}.state = 'shipped' and not ${others(`${r}.ticket_number`, `${r}.id`, true)})
    where ${resolvedCell(`${r}.ticket_number`)};`;
}

/** Survey row `r`'s answer counted (+) or uncounted (-) on its ticket's cell. */
function surveyStep(r: string, sign: "+" | "-"): string {
  return `update metrics_days set
      effort_responses = effort_responses ${sign} (${r}.score is not null),
      effort_total = effort_total ${sign} coalesce(${r}.score, 0)
    where ${r}.score is not null and (day, channel, team) = (select ${daySqlText("t.created_at")}, t.channel, t.team
      from tickets t where t.number = ${r}.ticket_number);`;
}

const BACKFILL_COUNTS = (() => {
  const counts = countOf("t");
  return METRIC_DAY_COUNTS.filter((c) => !c.startsWith("effort_")).map((c) =>
    c === "tickets" ? "count(*)" : `sum(${counts[c]})`,
  );
})();

function backfillHistogram(h: Histogram): string {
  return `update metrics_days set ${h} = b.histogram from (
    select day, channel, team, json_group_object(bucket, n) as histogram from (
      select ${daySqlText("t.created_at")} as day, t.channel as channel, t.team as team,
        cast(${keyOf("t", h)} as text) as bucket, count(*) as n
      from tickets t where t.${HISTOGRAMS[h]} is not null group by 1, 2, 3, 4)
    group by day, channel, team) as b
  where metrics_days.day = b.day and metrics_days.channel = b.channel and metrics_days.team = b.team;`;
}

/**
 * The triggers that keep `metrics_days` true, then the backfill of the tickets already there.
 * Every trigger fires only when what a ticket adds changes (a staff reply after the first, a
 * re-timed deadline of a ticket already answered, a status change: nothing to do), so most
 * ticket writes cost nothing more; one that does costs one more row written (two for a move).
 */
export function metricsDaysMigrationSql(): string {
  const hitsChanged =
    "coalesce(old.first_response_at <= old.first_due_at, 0) <> coalesce(new.first_response_at <= new.first_due_at, 0)";
  const statements = [
    `create trigger metrics_days_ticket_insert after insert on tickets begin
  ${addRow("new")}
end;`,
    `create trigger metrics_days_ticket_change after update of ${CHANGES} on tickets
when ${sameCell} and (old.created_at is not new.created_at
  or old.first_response_at is not new.first_response_at or old.resolved_at is not new.resolved_at
  or (old.first_due_at is null) <> (new.first_due_at is null) or ${hitsChanged})
begin
  ${changeRow()}
end;`,
    `create trigger metrics_days_ticket_due after update of ${CHANGES} on tickets
when ${sameCell} and (old.first_due_at is not new.first_due_at or old.first_response_at is not new.first_response_at)
  and ${dueDayOf("new")} is not null and not exists (select 1 from metrics_days m
  where m.day = ${daySqlText("new.created_at")} and m.channel = new.channel and m.team = new.team
    and m.unanswered_due_day >= ${dueDayOf("new")})
begin
  update metrics_days set unanswered_due_day = ${dueDayOf("new")} where ${cellOf("new")};
end;`,
    `create trigger metrics_days_ticket_move after update of ${MOVES} on tickets
when not (${sameCell})
begin
  ${removeRow("old")}
  ${addRow("new")}
end;`,
    `create trigger metrics_days_ticket_delete after delete on tickets begin
  ${removeRow("old")}
end;`,
    `create trigger metrics_days_improvement_insert after insert on improvements begin
  ${improvementStep("new", "+")}
end;`,
    `create trigger metrics_days_improvement_update after update of ticket_number, state on improvements
when old.ticket_number is not new.ticket_number or (old.state = 'shipped') <> (new.state = 'shipped')
begin
  ${improvementStep("old", "-")}
  ${improvementStep("new", "+")}
end;`,
    `create trigger metrics_days_improvement_delete after delete on improvements begin
  ${improvementStep("old", "-")}
end;`,
    `create trigger metrics_days_survey_insert after insert on surveys begin
  ${surveyStep("new", "+")}
end;`,
    `create trigger metrics_days_survey_update after update of ticket_number, score on surveys
when old.ticket_number is not new.ticket_number or old.score is not new.score
begin
  ${surveyStep("old", "-")}
  ${surveyStep("new", "+")}
end;`,
    `create trigger metrics_days_survey_delete after delete on surveys begin
  ${surveyStep("old", "-")}
end;`,
    `insert into metrics_days (day, channel, team, ${METRIC_DAY_COUNTS.filter((c) => !c.startsWith("effort_")).join(", ")}, unanswered_due_day)
  select ${daySqlText("t.created_at")}, t.channel, t.team, ${BACKFILL_COUNTS.join(", ")}, max(${dueDayOf("t")})
  from tickets t group by 1, 2, 3;`,
    `update metrics_days set effort_responses = e.n, effort_total = e.total from (
    select ${daySqlText("t.created_at")} as day, t.channel as channel, t.team as team, count(*) as n, sum(s.score) as total
    from surveys s join tickets t on t.number = s.ticket_number where s.score is not null group by 1, 2, 3) as e
  where metrics_days.day = e.day and metrics_days.channel = e.channel and metrics_days.team = e.team;`,
    backfillHistogram("first_response"),
    backfillHistogram("resolution"),
  ];
  return statements.join("\n--> statement-breakpoint\n");
}
