/**
 * Building an `Intl.DateTimeFormat` costs about a quarter of a millisecond (ICU loads the zone and
 * the locale's patterns); formatting with one costs microseconds. Intake, alarms and the console
 * format in a handful of shapes and zones, so each formatter is built once per isolate.
 */
const formatters = new Map<string, Intl.DateTimeFormat>();

/** The most formatters kept; far more than a desk uses (a few shapes times its zones). */
const MAX_FORMATTERS = 256;

/** A shared `Intl.DateTimeFormat` for these arguments; throws like the constructor on a bad zone. */
export function dateTimeFormat(locale: string, options: Intl.DateTimeFormatOptions): Intl.DateTimeFormat {
  const key = `${locale}\u0000${JSON.stringify(options)}`;
  let format = formatters.get(key);
  if (format === undefined) {
    format = new Intl.DateTimeFormat(locale, options);
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(key, format);
  }
  return format;
}

/** Offset of `timeZone` from UTC at `instant`, in milliseconds (positive east of Greenwich). */
export function zoneOffsetMs(instant: number, timeZone: string): number {
  const parts = dateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(instant));
  const get = (type: Intl.DateTimeFormatPartTypes): number =>
    Number(parts.find((part) => part.type === type)?.value ?? 0);
  const wallClockAsUtc = Date.UTC(
    get("year"),
    get("month") - 1,
    get("day"),
    get("hour"),
    get("minute"),
    get("second"),
  );
  return wallClockAsUtc - Math.floor(instant / 1000) * 1000;
}
