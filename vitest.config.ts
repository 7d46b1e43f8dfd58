import fs from "node:fs";
import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));

/** The corpus of real payloads (test/fixtures/corpus, see its SOURCES.md), handed to workerd as bytes. */
const corpusDir = path.join(import.meta.dirname, "test", "fixtures", "corpus");
function corpus(folder: string): Record<string, string> {
  const dir = path.join(corpusDir, folder);
  if (!fs.existsSync(dir)) throw new Error(`the corpus is missing: ${dir}`);
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((name) => [name, fs.readFileSync(path.join(dir, name)).toString("base64")]),
  );
}

export default defineConfig({
  test: {
    reporters: ["default", "./test/summary-reporter.ts"],
    projects: [
      {
        test: { name: "unit", include: ["test/unit/**/*.test.ts"], environment: "node" },
      },
      {
        plugins: [
          cloudflareTest({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                TEST_MIGRATIONS: migrations,
                EMAIL_CORPUS: corpus("email"),
                // Two agents (no admin: every agent may PUT /v1/config) and two integrations.
                API_TOKENS:
                  "alice:test-token-alice,bob:test-token-bob," +
                  "acme-monitor:test-token-acme:integration,ci-bot:test-token-ci:integration",
                // Standard Webhooks test secret for the api callbacks (not a real secret).
                CALLBACK_SIGNING_SECRET: "whsec_c3dpdGNoYm9hcmQtdGVzdC1jYWxsYmFjay1rZXktMSE=",
                PUBLIC_URL: "https://desk.test",
                SUPPORT_ADDRESS: "support@example.com",
                // The Slack and GitHub suites assert on the synchronous answer; test/worker/intake-queue.test.ts covers queue mode.
                INTAKE_MODE: "inline",
                SLACK_BOT_TOKEN: "xoxb-test",
                SLACK_SIGNING_SECRET: "test-slack-signing-secret",
                SLACK_TEAM_ID: "T0DESK",
                SLACK_API_URL: "https://slack.fake/api",
                PAGERDUTY_ROUTING_KEY: "pd-routing-test",
                PAGERDUTY_EVENTS_URL: "https://pagerduty.fake",
                LINEAR_API_URL: "https://linear.fake",
                LINEAR_API_KEY: "lin_api_test",
                // Test-only signing secret of the Linear webhook (not a real secret).
                LINEAR_WEBHOOK_SECRET: "test-linear-webhook-secret",
                GITHUB_API_URL: "https://github.fake",
                DISCORD_API_URL: "https://discord.fake/api/v10",
                // Test-only credentials. The Discord key pair is fixed (bindings are per project);
                // its private half is in test/fixtures/discord-test-key.ts. Neither is a real secret.
                GITHUB_WEBHOOK_SECRET: "test-github-webhook-secret",
                GITHUB_TOKEN: "ghs-test-token",
                DISCORD_PUBLIC_KEY: "6a0e32fd961c83247ab1e3a7b6d525163d0478df2db905ebd23e87dc7b1b55af",
                DISCORD_APPLICATION_ID: "775799577604522054",
                DISCORD_BOT_TOKEN: "discord-bot-test-token",
              },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["./test/worker/setup.ts"],
          // The fake Discord Gateway (a WebSocket server in Node) for test/worker/discord-gateway.test.ts.
          globalSetup: ["./test/worker/discord-gateway.global-setup.ts"],
        },
      },
      {
        // Chromium against `wrangler dev`; runs after the other projects so they do not share the CPU.
        test: {
          name: "browser",
          include: ["test/browser/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
