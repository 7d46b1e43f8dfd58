import type { SlackFilePlaceholder } from "./normalise";

/**
 * Slack files stay on Slack: downloading them needs the bot token and `files:read`, and a customer's
 * Slack Connect files may not be ours to copy. We keep their metadata as an ordinary attachment row
 * whose R2 object is a zero-byte placeholder carrying the file's `url_private` (and permalink) in
 * its custom metadata; `GET /v1/attachments/:id` redirects there instead of serving bytes.
 */
export async function storeFilePlaceholders(bucket: R2Bucket, files: SlackFilePlaceholder[]): Promise<void> {
  await Promise.all(
    files.map((file) =>
      bucket.put(file.storageKey, new Uint8Array(0), {
        httpMetadata: { contentType: file.contentType },
        customMetadata: {
          source: "slack",
          size: String(file.size),
          ...(file.urlPrivate === null ? {} : { externalUrl: file.urlPrivate }),
          ...(file.permalink === null ? {} : { permalink: file.permalink }),
        },
      }),
    ),
  );
}
