import { Hono } from "hono";
import { getAttachment } from "../../store/attachments";
import { database } from "../../store/db";
import type { AuthVariables } from "../auth";
import { problem } from "../errors";

/** Attachment downloads for authenticated agents; always as a download, never rendered inline by us. */
export const attachmentsApp = new Hono<{ Bindings: Env; Variables: AuthVariables }>().get(
  "/:id",
  async (c) => {
    const row = await getAttachment(database(c.env.DB), c.req.param("id"));
    if (row === undefined) return problem(c, 404, "No such attachment.");
    const object = await c.env.ATTACHMENTS.get(row.storageKey);
    if (object === null) return problem(c, 404, "The attachment's content is gone from storage.");
    // A file that stays with its provider (Slack): we keep only a placeholder and send the agent there.
    const external = object.customMetadata?.externalUrl;
    if (external !== undefined && /^https:\/\//.test(external)) return c.redirect(external, 302);
    const filename = row.filename.replace(/["\\\r\n]/g, "_");
    return new Response(object.body, {
      headers: {
        "content-type": row.contentType || "application/octet-stream",
        "content-length": String(row.size),
        "content-disposition": `attachment; filename="${filename}"; filename*=UTF-8''${encodeURIComponent(row.filename)}`,
        "x-content-type-options": "nosniff",
        "content-security-policy": "sandbox",
      },
    });
  },
);
