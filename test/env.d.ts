import type { D1Migration } from "cloudflare:test";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_MIGRATIONS: D1Migration[];
      /** test/fixtures/corpus/email, file name → base64 bytes. */
      EMAIL_CORPUS: Record<string, string>;
    }
  }
}
