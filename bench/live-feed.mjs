// Intake latency with and without open live consoles (SPEC §15: publishing never slows intake).
// `npm run bench:live` — starts `wrangler dev` on a fresh local state, measures POST /v1/messages
// latency (p50/p99) in alternating runs with no console open and with 20 consoles holding /live
// sockets (10 queue pages, 10 ticket pages); writes bench/live-results.json.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";

const root = path.resolve(import.meta.dirname, "..");
const wrangler = path.join(root, "node_modules", ".bin", "wrangler");
const COUNT = Number(process.env.LIVE_BENCH_COUNT ?? 200);
const CONCURRENCY = 4;
const CONSOLES = 20;

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function percentile(values, p) {
  const sorted = [...values].sort((a, b) => a - b);
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, i)];
}

async function startDesk() {
  const persist = mkdtempSync(path.join(tmpdir(), "switchboard-live-bench-"));
  const env = { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false", NO_COLOR: "1" };
  const m = spawnSync(wrangler, ["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], {
    cwd: root,
    env,
    encoding: "utf8",
  });
  if (m.status !== 0) throw new Error(m.stderr);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const child = spawn(
    wrangler,
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--inspector-port",
      String(await freePort()),
      "--env-file",
      ".dev.vars.example",
      "--persist-to",
      persist,
      "--log-level",
      "warn",
      "--show-interactive-dev-session=false",
      "--var",
      `PUBLIC_URL:${base}`,
    ],
    { cwd: root, env, detached: true, stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr = (stderr + d).slice(-4000);
  });
  for (let i = 0; i < 240; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) {
        return {
          base,
          stop: () => {
            try {
              process.kill(-child.pid, "SIGTERM");
            } catch {}
            rmSync(persist, { recursive: true, force: true });
          },
        };
      }
    } catch {}
    if (child.exitCode !== null) throw new Error(`wrangler dev exited: ${stderr}`);
    await sleep(250);
  }
  throw new Error(`wrangler dev did not come up: ${stderr}`);
}

function cookiesOf(response, jar) {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(";");
    const i = pair.indexOf("=");
    jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
  }
  return [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
}

async function signIn(base, token) {
  const jar = new Map();
  const login = await fetch(`${base}/login`);
  const html = await login.text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(html)?.[1] ?? "";
  const cookie = cookiesOf(login, jar);
  const posted = await fetch(`${base}/login`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ _csrf: csrf, token, next: "/queue" }),
  });
  if (posted.status !== 303) throw new Error(`sign-in failed: ${posted.status}`);
  return cookiesOf(posted, jar);
}

let sequence = 0;
async function intake(base) {
  sequence += 1;
  const t0 = performance.now();
  const r = await fetch(`${base}/v1/messages`, {
    method: "POST",
    headers: { authorization: "Bearer dev-token-alice", "content-type": "application/json" },
    body: JSON.stringify({
      externalId: `live-bench-${sequence}`,
      from: { name: "Bench", email: "bench@example.org" },
      subject: `Bench ticket ${sequence}`,
      text: "Latency under open consoles",
    }),
  });
  const body = await r.json();
  if (r.status !== 202) throw new Error(`intake ${r.status}`);
  return { ms: performance.now() - t0, ticket: body.ticket };
}

async function measure(base, label) {
  const latencies = [];
  const tickets = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < COUNT) {
        next += 1;
        const { ms, ticket } = await intake(base);
        latencies.push(ms);
        tickets.push(ticket);
      }
    }),
  );
  const row = {
    label,
    intakes: latencies.length,
    p50Ms: Math.round(percentile(latencies, 50) * 10) / 10,
    p99Ms: Math.round(percentile(latencies, 99) * 10) / 10,
  };
  console.log(`${label.padEnd(28)} n=${row.intakes}  p50 ${row.p50Ms} ms  p99 ${row.p99Ms} ms`);
  return { row, tickets, latencies };
}

async function openConsoles(base, cookie, tickets) {
  const sockets = [];
  const received = [];
  for (let i = 0; i < CONSOLES; i++) {
    const view = i < CONSOLES / 2 ? "queue" : `ticket:${tickets[i]}`;
    const ws = new WebSocket(`${base.replace("http", "ws")}/live?view=${encodeURIComponent(view)}`, {
      headers: { cookie, origin: base },
    });
    received[i] = 0;
    ws.on("message", () => {
      received[i] += 1;
    });
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    sockets.push(ws);
  }
  await sleep(300);
  return {
    received,
    close: () => {
      for (const ws of sockets) ws.close(1000);
    },
  };
}

const ROUNDS = 3;
const desk = await startDesk();
try {
  const { base } = desk;
  console.log(
    `desk at ${base}; ${ROUNDS} rounds of ${COUNT} intakes without and with ${CONSOLES} consoles, ${CONCURRENCY} in flight`,
  );
  const warm = [];
  for (let i = 0; i < 30; i++) warm.push((await intake(base)).ticket); // warm-up
  const cookie = await signIn(base, "dev-token-alice");
  const runs = [];
  const all = { without: [], with: [] };
  let minQueueEvents = Number.POSITIVE_INFINITY;
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which goes first, so a machine getting busier (or the database growing) favours neither.
    const order = round % 2 === 1 ? ["without", "with"] : ["with", "without"];
    for (const mode of order) {
      const consoles = mode === "with" ? await openConsoles(base, cookie, warm) : null;
      const { row, latencies } = await measure(
        base,
        `round ${round}, ${mode === "with" ? `${CONSOLES} consoles` : "no console"}`,
      );
      all[mode].push(...latencies);
      runs.push({ round, consoles: mode === "with" ? CONSOLES : 0, ...row });
      if (consoles !== null) {
        await sleep(1000);
        minQueueEvents = Math.min(minQueueEvents, ...consoles.received.slice(0, CONSOLES / 2));
        consoles.close();
        await sleep(300);
      }
    }
  }
  const summary = (mode) => ({
    intakes: all[mode].length,
    p50Ms: Math.round(percentile(all[mode], 50) * 10) / 10,
    p99Ms: Math.round(percentile(all[mode], 99) * 10) / 10,
  });
  const results = {
    at: new Date().toISOString(),
    runtime: "wrangler dev",
    intakesPerRun: COUNT,
    concurrency: CONCURRENCY,
    consoles: CONSOLES,
    runs,
    overall: { withoutConsoles: summary("without"), with20Consoles: summary("with") },
    feed: { minEventsPerQueueConsolePerRun: minQueueEvents, intakesPerRun: COUNT },
  };
  console.log(
    `overall without consoles: p50 ${results.overall.withoutConsoles.p50Ms} ms, p99 ${results.overall.withoutConsoles.p99Ms} ms`,
  );
  console.log(
    `overall with ${CONSOLES} consoles: p50 ${results.overall.with20Consoles.p50Ms} ms, p99 ${results.overall.with20Consoles.p99Ms} ms`,
  );
  console.log(
    `feed: every queue console heard at least ${minQueueEvents} events in a run of ${COUNT} intakes`,
  );
  writeFileSync(path.join(root, "bench", "live-results.json"), `${JSON.stringify(results, null, 2)}\n`);
} finally {
  desk.stop();
}
