import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { problem } from "./errors";

/**
 * Body limits of the endpoints that read a body, beside the webhooks' and `POST /v1/messages`'
 * 1 MiB (`MAX_WEBHOOK_BODY_BYTES`) and the console forms' (`ui/app.tsx`). Each is checked on the
 * Content-Length and again on the bytes actually read, so a chunked body cannot slip past.
 */

/** `PUT /v1/config`: the routing document (D1 keeps it in one row; the schema bounds every list). */
export const MAX_CONFIG_BODY_BYTES = 1024 * 1024;

/**
 * Agent commands on a ticket (`PATCH`, replies, improvements, escalations). The largest valid one is
 * a reply of 64 Ki UTF-16 units; a client that escapes everything as `\uXXXX` (Python's default)
 * sends 6 bytes for each: 384 KiB, with room to spare.
 */
export const MAX_COMMAND_BODY_BYTES = 512 * 1024;

/** The public survey form: one `score` field. */
export const MAX_SURVEY_FORM_BYTES = 4 * 1024;

/** A JSON API body limit: over it, a 413 problem that names the limit. */
export function jsonBodyLimit(maxSize: number) {
  return bodyLimit({
    maxSize,
    onError: (c: Context) => problem(c, 413, `The body is over ${maxSize} bytes.`),
  });
}

/** The survey form's limit: over it, a small HTML page. */
export const surveyFormLimit = bodyLimit({
  maxSize: MAX_SURVEY_FORM_BYTES,
  onError: (c: Context) => {
    c.header("cache-control", "no-store");
    return c.html(
      `<!doctype html>
<html lang="en">
  <head><meta charset="utf-8" /><meta name="viewport" content="width=device-width, initial-scale=1" /><title>Answer too large</title></head>
  <body><h1>That answer is too large.</h1><p>The survey takes one number from 1 to 7.</p></body>
</html>`,
      413,
    );
  },
});
