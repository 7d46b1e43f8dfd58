#!/usr/bin/env node
// `npm start [-- --port N]`: apply D1 migrations to the local database, then serve the Worker with
// local D1, Durable Objects and R2. Uses .dev.vars when present, else .dev.vars.example.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const args = process.argv.slice(2);
const local = `node_modules/.bin/wrangler${process.platform === "win32" ? ".cmd" : ""}`;
const wrangler = existsSync(local) ? local : "wrangler";

const migrate = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local"], {
  stdio: "inherit",
  env: { ...process.env, CI: "true" },
});
if (migrate.error) console.error(`could not run wrangler: ${migrate.error.message}`);
if (migrate.status !== 0) process.exit(migrate.status ?? 1);

const envFile = existsSync(".dev.vars") ? [] : ["--env-file", ".dev.vars.example"];
const dev = spawn(wrangler, ["dev", ...envFile, ...args], { stdio: "inherit" });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
