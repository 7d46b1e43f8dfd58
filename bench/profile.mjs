#!/usr/bin/env node
// `node bench/profile.mjs [--requests N] [--kind api|threaded|healthz] [--top N] [--out file.cpuprofile]`:
// a CPU profile of workerd while one sender opens new tickets (POST /v1/messages) on the same
// Miniflare desk `npm run bench` runs. Connects to workerd's own inspector (every isolate: the
// desk's Worker and its Durable Objects, and Miniflare's D1 simulator), samples every 100 µs,
// and prints the self time per function and per source (the desk, drizzle, hono, zod, Miniflare),
// beside the process's CPU time (the sum of its threads' run time from /proc) per request.
// The .cpuprofile it writes opens in Chrome DevTools (Performance → Load profile).
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { bench, bundle, percentile, round } from "./desk.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const REQUESTS = Number(arg("requests", "300"));
const KIND = arg("kind", "api");
const TOP = Number(arg("top", "45"));
const OUT = arg("out", undefined);
// Which isolates to sample (a substring of the inspector target's title; "all" for every one).
// Sampling several at once misattributes time: they share workerd's thread.
const ISOLATE = arg("isolate", "core:user:switchboard");
const PROFILE = !process.argv.includes("--no-profile");

async function cdp(url) {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  const waiting = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(String(data));
    if (message.id !== undefined && waiting.has(message.id)) {
      waiting.get(message.id)(message);
      waiting.delete(message.id);
    }
  });
  return {
    send(method, params = {}) {
      const mid = ++id;
      ws.send(JSON.stringify({ id: mid, method, params }));
      return new Promise((resolve) => waiting.set(mid, resolve));
    },
    close: () => ws.close(),
  };
}

/** The bundle's module markers (esbuild writes `// src/intake.ts` above each module): line → module. */
function moduleMap() {
  const lines = fs.readFileSync(path.join(bundle(), "index.js"), "utf8").split("\n");
  const marks = [];
  lines.forEach((line, i) => {
    const m = /^\/\/ ((?:src|node_modules)\/\S+)$/.exec(line);
    if (m !== null) marks.push([i, m[1]]);
  });
  return (line) => {
    let lo = 0;
    let hi = marks.length - 1;
    let found = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (marks[mid][0] <= line) {
        found = marks[mid][1];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

function category(moduleOf, url, line, name) {
  if (url === "") return name.startsWith("(") ? name : "(native/builtin)";
  if (url.replace(/^.*\//, "") !== "index.js") return url.replace(/^.*\//, "");
  const m = moduleOf(line);
  const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(m);
  return pkg === null ? m : pkg[1];
}

async function main() {
  const inspectorPort = PROFILE ? 9300 + Math.floor(Math.random() * 500) : undefined;
  const desk = await bench.startDesk({ slaTimeScale: 1, inspectorPort });
  const moduleOf = moduleMap();
  const { base, auth } = desk;
  try {
    await bench.putConfig(base);
    const run = crypto.randomUUID().slice(0, 8);
    const make = (i) => {
      if (KIND === "healthz") return { url: `${base}/healthz` };
      const threaded = KIND === "threaded";
      return {
        url: `${base}/v1/messages`,
        init: {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({
            externalId: `${run}-${i}`,
            ...(threaded ? { threadId: `${run}-thread` } : {}),
            from: { name: "Bench" },
            text: "Webhooks are late",
          }),
        },
      };
    };
    // Warm up: JIT, the config cache, the first Durable Objects.
    for (let i = 0; i < 60; i++) {
      const { url, init } = make(-1 - i);
      await (await fetch(url, init)).arrayBuffer();
    }
    const targets = PROFILE ? await (await fetch(`http://127.0.0.1:${inspectorPort}/json/list`)).json() : [];
    const sessions = [];
    for (const t of PROFILE ? targets : []) {
      if (ISOLATE !== "all" && !(t.title ?? "").endsWith(ISOLATE)) continue;
      const s = await cdp(t.webSocketDebuggerUrl);
      await s.send("Profiler.enable");
      await s.send("Profiler.setSamplingInterval", { interval: 100 });
      sessions.push({ title: t.title ?? t.id, s });
    }
    const cpu0 = desk.cpuNs();
    for (const { s } of sessions) await s.send("Profiler.start");
    const times = [];
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const { url, init } = make(i);
      const t = performance.now();
      const r = await fetch(url, init);
      await r.arrayBuffer();
      times.push(performance.now() - t);
      if (r.status >= 400) throw new Error(`request ${i}: ${r.status}`);
    }
    const wall = performance.now() - t0;
    const cpu1 = desk.cpuNs();
    const profiles = [];
    for (const { title, s } of sessions) {
      const { result } = await s.send("Profiler.stop");
      profiles.push({ title, profile: result.profile });
      s.close();
    }
    console.log(
      `${REQUESTS} × ${KIND}, one sender: wall ${round(wall / REQUESTS, 2)} ms/request (p50 ${round(percentile(times, 0.5), 2)}), ` +
        `workerd CPU ${round((cpu1 - cpu0) / 1e6 / REQUESTS, 3)} ms/request (profiler on: inflated)`,
    );
    const byFunction = new Map();
    const byCategory = new Map();
    let total = 0;
    for (const { title, profile } of profiles) {
      const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
      const dt = new Map();
      profile.samples.forEach((id, i) => {
        dt.set(id, (dt.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
      });
      for (const [id, us] of dt) {
        const n = nodes.get(id);
        const { functionName, url, lineNumber } = n.callFrame;
        const name = functionName || "(anonymous)";
        if (name === "(idle)") continue;
        total += us;
        const where = url === "" ? "" : `${category(moduleOf, url, lineNumber, name)}:${lineNumber + 1}`;
        const fkey = `${title} | ${name} ${where}`;
        byFunction.set(fkey, (byFunction.get(fkey) ?? 0) + us);
        const ckey = `${title} | ${category(moduleOf, url, lineNumber, name)}`;
        byCategory.set(ckey, (byCategory.get(ckey) ?? 0) + us);
      }
      if (OUT !== undefined) {
        fs.writeFileSync(
          path.join(path.dirname(OUT), `${title.replace(/[^\w.-]+/g, "_")}-${path.basename(OUT)}`),
          JSON.stringify(profile),
        );
      }
    }
    const per = (us) => `${round(us / 1000 / REQUESTS, 3)} ms`;
    console.log(`\nJS-visible self time (not idle), per request: ${per(total)}\n`);
    console.log("| isolate | source | self per request | share |\n| --- | --- | --- | --- |");
    for (const [k, us] of [...byCategory].sort((a, b) => b[1] - a[1]).slice(0, 30)) {
      const [iso, cat] = k.split(" | ");
      console.log(`| ${iso} | ${cat} | ${per(us)} | ${round((100 * us) / total, 1)} % |`);
    }
    console.log("\n| isolate | function | self per request |\n| --- | --- | --- |");
    for (const [k, us] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, TOP)) {
      const [iso, fn] = k.split(" | ");
      console.log(`| ${iso} | ${fn} | ${per(us)} |`);
    }
  } finally {
    await desk.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
