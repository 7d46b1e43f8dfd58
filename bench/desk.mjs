// The desk the benchmark and the profiler drive: wrangler's own bundle of the Worker on Miniflare
// (or `wrangler dev`), a fresh local D1 migrated by wrangler, fake outbound services, and a way to
// read how much CPU the workerd process has used.
import { spawn, spawnSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

export const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
export const TOKEN = "bench-token";
export const SLACK_SECRET = "bench-slack-secret";
export const GITHUB_SECRET = "bench-github-secret";
const { publicKey: discordPublic, privateKey } = crypto.generateKeyPairSync("ed25519");
export const discordPrivate = privateKey;
export const DISCORD_PUBLIC_HEX = discordPublic
  .export({ format: "der", type: "spki" })
  .subarray(-32)
  .toString("hex");

// The local state (D1, Durable Objects, R2) goes on tmpfs when there is one, unless `--disk`:
// otherwise the figures are mostly this machine's fsyncs, which production storage does not share.
export const stateRoot =
  !process.argv.includes("--disk") && fs.existsSync("/dev/shm") ? "/dev/shm" : os.tmpdir();

export const log = (...args) => console.error("[bench]", ...args);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const round = (v, d = 1) => (v === null || v === undefined ? null : Math.round(v * 10 ** d) / 10 ** d);

export function percentile(values, p) {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** A local stand-in for Slack, PagerDuty, GitHub, Discord, Linear and callbacks: answers success at once. */
export function startFakeServices() {
  const calls = { total: 0 };
  /** The latest Slack messages the desk posted (`chat.postMessage` bodies), newest last. */
  const slackPosts = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => {
      if (chunks.length < 64) chunks.push(c);
    });
    req.on("end", () => {
      const url = req.url ?? "";
      calls.total += 1;
      if (url.includes("/slack/") && url.includes("chat.postMessage")) {
        try {
          slackPosts.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          if (slackPosts.length > 20_000) slackPosts.splice(0, 10_000);
        } catch {
          // not JSON: not ours to read
        }
      }
      res.setHeader("content-type", "application/json");
      if (url.includes("/slack/")) res.end(JSON.stringify({ ok: true, ts: `${Date.now() / 1000}` }));
      else if (url.includes("/pagerduty/")) {
        res.statusCode = 202;
        res.end(JSON.stringify({ status: "success" }));
      } else if (url.includes("/github/")) {
        res.statusCode = 201;
        res.end(JSON.stringify({ id: 1 }));
      } else res.end("{}");
    });
  });
  server.calls = calls;
  server.slackPosts = slackPosts;
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server)));
}

export async function freePort() {
  const server = http.createServer();
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

export function d1File(persist, file) {
  const result = spawnSync(
    wrangler,
    ["d1", "execute", "DB", "--local", "--persist-to", persist, "--file", file],
    {
      cwd: root,
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, CI: "true" },
    },
  );
  if (result.status !== 0) throw new Error(`d1 execute --file failed: ${result.stderr}`);
}

export function migrate(persist, source = root) {
  const result = spawnSync(
    wrangler,
    ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist],
    {
      cwd: source,
      encoding: "utf8",
      env: { ...process.env, CI: "true" },
    },
  );
  if (result.status !== 0) throw new Error(`migrations failed: ${result.stderr}`);
}

/** The local D1 database file wrangler created under `persist` (one database: DB). */
export function d1SqliteFile(persist) {
  const dir = path.join(persist, "v3", "d1", "miniflare-D1DatabaseObject");
  const file = fs.readdirSync(dir).find((f) => f.endsWith(".sqlite") && f !== "metadata.sqlite");
  if (file === undefined) throw new Error(`no D1 database under ${dir}`);
  return path.join(dir, file);
}

/**
 * The database's own size in bytes (pages × page size, free pages included), as of its latest
 * commit: from the newest commit frame in the WAL when there is one, else from the file's header.
 * The file's size plus the WAL's is no measure of it: the WAL holds every page written since the
 * last checkpoint (often several copies of each), and how much of it is checkpointed depends on
 * timing, not on the data (SQLite file format, "WAL file format").
 */
export function d1Bytes(file) {
  const fd = fs.openSync(file, "r");
  const header = Buffer.alloc(100);
  fs.readSync(fd, header, 0, 100, 0);
  fs.closeSync(fd);
  let pageSize = header.readUInt16BE(16);
  if (pageSize === 1) pageSize = 65536;
  let pages = header.readUInt32BE(28);
  const wal = `${file}-wal`;
  if (fs.existsSync(wal) && fs.statSync(wal).size >= 32) {
    const w = fs.openSync(wal, "r");
    const walHeader = Buffer.alloc(32);
    fs.readSync(w, walHeader, 0, 32, 0);
    const walPageSize = walHeader.readUInt32BE(8);
    const salt1 = walHeader.readUInt32BE(16);
    const salt2 = walHeader.readUInt32BE(20);
    const frame = Buffer.alloc(24);
    const size = fs.statSync(wal).size;
    for (let at = 32; at + 24 + walPageSize <= size; at += 24 + walPageSize) {
      fs.readSync(w, frame, 0, 24, at);
      // Frames of an earlier generation of the WAL carry other salts: the valid ones end there.
      if (frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break;
      const afterCommit = frame.readUInt32BE(4);
      if (afterCommit !== 0) pages = afterCommit;
    }
    fs.closeSync(w);
  }
  return pages * pageSize;
}

export function deskVars(port, fakeBase, slaTimeScale, extra = {}) {
  return {
    API_TOKENS: `bench:${TOKEN}`,
    D1_METERING: "1",
    SLA_TIME_SCALE: String(slaTimeScale),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    // Slack and GitHub are acknowledged once queued; the queue consumer runs their intake.
    INTAKE_MODE: "queue",
    SLACK_SIGNING_SECRET: SLACK_SECRET,
    SLACK_BOT_TOKEN: "xoxb-bench",
    SLACK_TEAM_ID: "T0DESK",
    GITHUB_WEBHOOK_SECRET: GITHUB_SECRET,
    GITHUB_TOKEN: "ghs-bench",
    DISCORD_PUBLIC_KEY: DISCORD_PUBLIC_HEX,
    DISCORD_APPLICATION_ID: "1",
    DISCORD_BOT_TOKEN: "bench",
    PAGERDUTY_ROUTING_KEY: "bench",
    SLACK_API_URL: `${fakeBase}/slack/api`,
    PAGERDUTY_EVENTS_URL: `${fakeBase}/pagerduty`,
    GITHUB_API_URL: `${fakeBase}/github`,
    DISCORD_API_URL: `${fakeBase}/discord`,
    LINEAR_API_URL: `${fakeBase}/linear`,
    ...extra,
  };
}

const bundles = new Map();

/**
 * wrangler's own build of the Worker, as `wrangler deploy` would upload it; built once per run.
 * `source`: another checkout of the project to build instead (bench/compare.mjs).
 */
export function bundle(source = root) {
  const known = bundles.get(source);
  if (known !== undefined) return known;
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-bundle-"));
  const build = spawnSync(wrangler, ["deploy", "--dry-run", "--outdir", outdir], {
    cwd: source,
    encoding: "utf8",
    env: { ...process.env, CI: "true" },
  });
  if (build.status !== 0) throw new Error(`wrangler deploy --dry-run failed: ${build.stderr}`);
  process.on("exit", () => fs.rmSync(outdir, { recursive: true, force: true }));
  bundles.set(source, outdir);
  return outdir;
}

/** The workerd processes this Node process started (Miniflare's runtime; wrangler dev's under its child). */
export function workerdPids(parent = process.pid, depth = 0) {
  const found = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    const close = stat.lastIndexOf(")");
    const comm = stat.slice(stat.indexOf("(") + 1, close);
    const ppid = Number(stat.slice(close + 2).split(" ")[1]);
    if (ppid !== parent) continue;
    if (comm === "workerd") found.push(Number(entry));
    else if (depth < 3) found.push(...workerdPids(Number(entry), depth + 1));
  }
  return found;
}

/**
 * CPU time the workerd processes have used so far, in nanoseconds: user + system time of every
 * thread, live or exited (/proc/<pid>/stat utime + stime, in clock ticks), refined by the
 * nanosecond run time of the live threads (/proc/<pid>/task/<tid>/schedstat). Differences of it
 * over a run of requests are that run's CPU cost, whatever else the machine is doing: time the
 * process spends waiting for a core is not in it.
 */
export function cpuNsOf(pids) {
  let total = 0;
  for (const pid of pids) {
    let live = 0;
    try {
      for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
        try {
          live += Number(fs.readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
        } catch {
          // the thread just exited
        }
      }
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const ticks = Number(fields[11]) + Number(fields[12]);
      const viaTicks = (ticks * 1e9) / 100;
      // Exited threads are only in the tick count; live ones are exact in schedstat.
      total += Math.max(live, viaTicks - 10e6);
    } catch {
      // the process is gone
    }
  }
  return total;
}

/**
 * The desk on Miniflare, the simulator `wrangler dev` itself runs: wrangler's own bundle of the
 * Worker (`wrangler deploy --dry-run`) with the bindings wrangler.toml declares, read by wrangler.
 * What `wrangler dev` adds on top, a proxy Worker in a second workerd and a request log line sent
 * to Node for every request, is left out: it is development tooling, not the desk.
 */
export async function startMiniflare(
  persist,
  fakeBase,
  slaTimeScale,
  { inspectorPort, vars = {}, source = root } = {},
) {
  const port = await freePort();
  const outdir = bundle(source);
  const { unstable_getMiniflareWorkerOptions } = await import("wrangler");
  const { Miniflare } = await import(
    pathToFileURL(
      path.join(root, "node_modules", "wrangler", "node_modules", "miniflare", "dist", "src", "index.js"),
    ).href
  );
  const { workerOptions } = unstable_getMiniflareWorkerOptions(path.join(source, "wrangler.toml"));
  const before = new Set(workerdPids());
  const mf = new Miniflare({
    ...workerOptions,
    name: "switchboard",
    modules: true,
    scriptPath: path.join(outdir, "index.js"),
    modulesRoot: outdir,
    bindings: { ...workerOptions.bindings, ...deskVars(port, fakeBase, slaTimeScale, vars) },
    defaultPersistRoot: path.join(persist, "v3"),
    host: "127.0.0.1",
    port,
    logRequests: false,
    unsafeTriggerHandlers: true,
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
  });
  await mf.ready;
  const pids = workerdPids().filter((p) => !before.has(p));
  return {
    base: `http://127.0.0.1:${port}`,
    port,
    pids,
    cpuNs: () => cpuNsOf(pids),
    stop: () => mf.dispose(),
  };
}

export async function startWranglerDev(persist, fakeBase, slaTimeScale, { vars: extra = {} } = {}) {
  const port = await freePort();
  const vars = deskVars(port, fakeBase, slaTimeScale, extra);
  const args = [
    "dev",
    "--port",
    String(port),
    "--ip",
    "127.0.0.1",
    "--persist-to",
    persist,
    "--log-level",
    "warn",
    "--show-interactive-dev-session=false",
  ];
  for (const [k, v] of Object.entries(vars)) args.push("--var", `${k}:${v}`);
  const child = spawn(wrangler, args, {
    cwd: root,
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CI: "true" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 240; i++) {
    try {
      const r = await fetch(`${base}/healthz`);
      if (r.ok) {
        const pids = workerdPids();
        return { base, port, pids, cpuNs: () => cpuNsOf(pids), stop: async () => child.kill("SIGTERM") };
      }
    } catch {
      // not up yet
    }
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${stderr}`);
    await sleep(250);
  }
  throw new Error(`wrangler dev did not come up: ${stderr}`);
}

/** A routing document whose teams post to Slack, so acknowledgements and escalations make real (fake) calls. */
export async function putConfig(base) {
  const response = await fetch(`${base}/v1/config`, {
    method: "PUT",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({
      timezone: "UTC",
      defaultTeam: "support",
      teams: [
        { id: "support", name: "Support", slackChannel: "C0SUPPORT", lead: "U0LEAD" },
        { id: "platform", name: "Platform", slackChannel: "C0PLATFORM" },
        { id: "security", name: "Security", slackChannel: "C0SEC" },
      ],
      routes: [{ team: "platform", when: { keywords: ["latency"] } }],
      criticalKeywords: ["outage"],
      securityKeywords: ["exploit"],
    }),
  });
  if (!response.ok) throw new Error(`PUT /v1/config: ${response.status} ${await response.text()}`);
}

/** For bench/profile.mjs: a fresh desk of its own (migrated D1 on tmpfs, fake services), torn down by stop(). */
export const bench = {
  async startDesk({ slaTimeScale = 1, inspectorPort, vars, source = root } = {}) {
    const fake = await startFakeServices();
    const fakeBase = `http://127.0.0.1:${fake.address().port}`;
    const persist = fs.mkdtempSync(path.join(stateRoot, "switchboard-profile-"));
    migrate(persist, source);
    const desk = await startMiniflare(persist, fakeBase, slaTimeScale, { inspectorPort, vars, source });
    return {
      ...desk,
      persist,
      auth: { authorization: `Bearer ${TOKEN}` },
      async stop() {
        await desk.stop();
        fake.close();
        await sleep(300);
        fs.rmSync(persist, { recursive: true, force: true });
      },
    };
  },
  putConfig,
};

/**
 * Workers CPU per request, the way `npm run bench` reports it: `rounds` rounds, each running
 * `perRound` requests of every kind one at a time (kinds interleaved, so each sees the same
 * machine), and the workerd process's CPU time (cpuNsOf) over each kind's requests divided by
 * their number. Returns, per kind, the per-round figures in ms, their median and their minimum:
 * other work on the machine only ever adds to CPU time (cache misses, migrations), so the minimum
 * is the closest to the cost on a quiet machine and the median says how noisy it was.
 */
export async function cpuPerRequest(desk, kinds, { rounds = 7, perRound = 30 } = {}) {
  const figures = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  let serial = 0;
  for (let r = 0; r < rounds; r++) {
    for (const [name, make] of Object.entries(kinds)) {
      const before = desk.cpuNs();
      for (let i = 0; i < perRound; i++) {
        const { url, init } = make(serial++);
        const response = await fetch(url, init);
        await response.arrayBuffer();
        if (response.status >= 500 || (response.status >= 400 && init?.expect !== response.status))
          throw new Error(`${name}: ${response.status}`);
      }
      figures[name].push((desk.cpuNs() - before) / 1e6 / perRound);
    }
  }
  return Object.fromEntries(
    Object.entries(figures).map(([name, ms]) => [
      name,
      {
        medianMs: round(percentile(ms, 0.5), 3),
        minMs: round(Math.min(...ms), 3),
        rounds: ms.map((m) => round(m, 3)),
      },
    ]),
  );
}
