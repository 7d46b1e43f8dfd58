import path from "node:path";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const migrations = await readD1Migrations(path.join(import.meta.dirname, "migrations"));

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
                API_TOKENS: "alice:test-token-alice,bob:test-token-bob",
                PUBLIC_URL: "https://desk.test",
                SUPPORT_ADDRESS: "support@example.com",
                SLACK_BOT_TOKEN: "xoxb-test",
                SLACK_SIGNING_SECRET: "test-slack-signing-secret",
                SLACK_TEAM_ID: "T0DESK",
                SLACK_API_URL: "https://slack.fake/api",
                PAGERDUTY_ROUTING_KEY: "pd-routing-test",
                PAGERDUTY_EVENTS_URL: "https://pagerduty.fake",
                LINEAR_API_URL: "https://linear.fake",
                GITHUB_API_URL: "https://github.fake",
                DISCORD_API_URL: "https://discord.fake/api/v10",
              },
            },
          }),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          setupFiles: ["./test/worker/setup.ts"],
        },
      },
    ],
  },
});
