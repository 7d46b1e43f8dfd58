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
