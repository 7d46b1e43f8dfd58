import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const WRANGLER = path.join(ROOT, "node_modules", ".bin", "wrangler");

export const CHROMIUM = "/usr/bin/chromium";
/** The network here is closed: without these, Chromium stalls on background fetches. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Desk {
  url: string;
  /** Everything wrangler printed, for a failing test's message. */
  log: () => string;
  stop: () => Promise<void>;
}

/**
 * A real desk on this machine: `wrangler dev` with local D1, Durable Objects and R2 in a fresh
 * directory (migrations applied first), reachable once `/healthz` answers.
 */
export async function startDesk(vars: Record<string, string> = {}): Promise<Desk> {
  if (!existsSync(WRANGLER)) throw new Error(`wrangler is not installed at ${WRANGLER}`);
  const state = mkdtempSync(path.join(tmpdir(), "switchboard-desk-"));
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  const migrate = spawnSync(WRANGLER, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", state], {
    cwd: ROOT,
    env,
    encoding: "utf8",
  });
  if (migrate.status !== 0) throw new Error(`migrations failed:\n${migrate.stdout}\n${migrate.stderr}`);

  const port = await freePort();
  const inspector = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    "dev",
    "--ip",
    "127.0.0.1",
    "--port",
    String(port),
    "--inspector-port",
    String(inspector),
    "--env-file",
    ".dev.vars.example",
    "--persist-to",
    state,
    "--show-interactive-dev-session=false",
    "--var",
    `PUBLIC_URL:${url}`,
    ...Object.entries(vars).flatMap(([k, v]) => ["--var", `${k}:${v}`]),
  ];
  let output = "";
  const child: ChildProcess = spawn(WRANGLER, args, { cwd: ROOT, env, detached: true, stdio: "pipe" });
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.pid !== undefined) {
      // wrangler runs workerd as a child: end the whole process group we started.
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5000));
      if ((await Promise.race([exited, timeout])) === "timeout") {
        try {
          process.kill(-child.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    rmSync(state, { recursive: true, force: true });
  };

  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      const response = await fetch(`${url}/healthz`);
      if (response.ok) return { url, log: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not answer /healthz:\n${output}`);
}
