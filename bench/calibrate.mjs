// The local runtime's own price list: what workerd's CPU time (the figure `npm run bench` charges a
// request with) is for the runtime primitives a request uses, measured on a Worker that does nothing
// else — so a desk figure can be read against the floor the runtime sets under it.
//
// A calibration Worker on the same Miniflare the desk runs on (wrangler's own), with its state on
// the same tmpfs, answers `GET /?op=…` by doing exactly one thing:
//   none      answer "ok" (the floor of any request: HTTP entry, routing, Response)
//   d1        one D1 round trip (`select 1`), the way every desk query travels (a D1 batch is one)
//   d1batch5  one D1 batch of five one-row inserts (what a round trip with several statements adds)
//   newObject one RPC to a Durable Object never used before: its SQLite file is created, a table,
//             a row and an alarm are written (what a new ticket's TicketTimer costs at the least)
//   object    the same RPC to an object that exists already (what every later timer sync costs)
//   queue     one Queue `send()` (what a queued Slack/GitHub webhook costs at the least)
//   fetch     one outbound `fetch` to a local HTTP server (a Slack/PagerDuty call)
// and each is reported as CPU per request minus `none`'s, least of the rounds (contention only adds).
// `alarmFloor`: how late the runtime's own alarms are when 2,000 fall due within 5 s, each doing the
// least a ladder step does, with and without sixteen senders making the least a new ticket costs.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { cpuNsOf, freePort, root, round, stateRoot, workerdPids } from "./desk.mjs";

const SCRIPT = `
import { DurableObject } from "cloudflare:workers";
export class Probe extends DurableObject {
  constructor(ctx, env) {
    super(ctx, env);
    ctx.storage.sql.exec("CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY, v TEXT, at INTEGER, late INTEGER)");
  }
  async sync(v) {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO state (id, v) VALUES (1, ?)", v);
    await this.ctx.storage.setAlarm(Date.now() + 3600_000);
  }
  async arm(at) {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO state (id, v, at) VALUES (1, 'armed', ?)", at);
    await this.ctx.storage.setAlarm(at);
  }
  // The least a ladder step does: note when it woke, read the ticket (one D1 round trip).
  async alarm() {
    const now = Date.now();
    const row = this.ctx.storage.sql.exec("SELECT at FROM state WHERE id = 1").toArray()[0];
    if (row === undefined || row.at === null) return;
    this.ctx.storage.sql.exec("UPDATE state SET late = ? WHERE id = 1", now - row.at);
    await this.env.DB.prepare("select 1 as one").all();
  }
  async late() {
    return this.ctx.storage.sql.exec("SELECT late FROM state WHERE id = 1").toArray()[0]?.late ?? null;
  }
}
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const op = url.searchParams.get("op");
    const i = url.searchParams.get("i") ?? "0";
    if (op === "d1") await env.DB.prepare("select 1 as one").all();
    else if (op === "d1batch5")
      await env.DB.batch(Array.from({ length: 5 }, (_, k) => env.DB.prepare("insert into t (v) values (?)").bind(i + ":" + k)));
    else if (op === "newObject") await env.PROBE.get(env.PROBE.idFromName("new:" + i)).sync(i);
    else if (op === "object") await env.PROBE.get(env.PROBE.idFromName("one")).sync(i);
    else if (op === "queue") await env.Q.send({ i });
    else if (op === "fetch") await (await fetch(env.FAKE)).arrayBuffer();
    else if (op === "arm") await env.PROBE.get(env.PROBE.idFromName("alarm:" + i)).arm(Number(url.searchParams.get("at")));
    else if (op === "late") return Response.json(await env.PROBE.get(env.PROBE.idFromName("alarm:" + i)).late());
    else if (op === "intake") {
      // What a new ticket costs the runtime at the least: a lookup, a batch of writes, a new timer object.
      await env.DB.prepare("select 1 as one").all();
      await env.DB.batch(Array.from({ length: 5 }, (_, k) => env.DB.prepare("insert into t (v) values (?)").bind(i + ":" + k)));
      await env.PROBE.get(env.PROBE.idFromName("intake:" + i)).sync(i);
    }
    else if (op === "setup") await env.DB.prepare("create table if not exists t (id integer primary key, v text)").run();
    return new Response("ok");
  },
  async queue(batch) { batch.ackAll(); },
};`;

export const OPS = ["none", "d1", "d1batch5", "newObject", "object", "queue", "fetch"];

async function startProbe() {
  const { Miniflare } = await import(
    pathToFileURL(
      path.join(root, "node_modules", "wrangler", "node_modules", "miniflare", "dist", "src", "index.js"),
    ).href
  );
  const fake = http.createServer((_req, res) => res.end("{}"));
  await new Promise((resolve) => fake.listen(0, "127.0.0.1", resolve));
  const persist = fs.mkdtempSync(path.join(stateRoot, "switchboard-calibrate-"));
  const port = await freePort();
  const before = new Set(workerdPids());
  const mf = new Miniflare({
    name: "calibrate",
    modules: true,
    script: SCRIPT,
    compatibilityDate: "2025-06-01",
    d1Databases: ["DB"],
    durableObjects: { PROBE: { className: "Probe", useSQLite: true } },
    queueProducers: { Q: "calibrate-q" },
    queueConsumers: { "calibrate-q": { maxBatchTimeout: 1 } },
    bindings: { FAKE: `http://127.0.0.1:${fake.address().port}/` },
    defaultPersistRoot: persist,
    host: "127.0.0.1",
    port,
  });
  await mf.ready;
  const base = `http://127.0.0.1:${port}`;
  const pids = workerdPids().filter((p) => !before.has(p));
  await (await fetch(`${base}/?op=setup`)).arrayBuffer();
  return {
    base,
    pids,
    async stop() {
      await mf.dispose();
      fake.close();
      fs.rmSync(persist, { recursive: true, force: true });
    },
  };
}

/**
 * The runtime's own alarm lateness: `alarms` objects whose alarms fall due evenly over `windowMs`,
 * each doing the least a ladder step does (one D1 round trip), while `senders` clients keep making
 * the least a new ticket costs (a lookup, a batch of five writes, a new object). p50 / p99 / max ms.
 */
export async function alarmFloor({ alarms = 2000, windowMs = 5000, senders = 0 } = {}) {
  const probe = await startProbe();
  try {
    const { base } = probe;
    const t0 = Date.now() + 4000 + alarms * 8;
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < alarms) {
          const i = next++;
          const at = t0 + Math.floor((i * windowMs) / alarms);
          await (await fetch(`${base}/?op=arm&i=${i}&at=${at}`)).arrayBuffer();
        }
      }),
    );
    const armedLate = Math.max(0, Date.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 - 1000 - Date.now())));
    let stop = false;
    let load = 0;
    let loadFailures = 0;
    await Promise.all([
      ...Array.from({ length: senders }, async () => {
        while (!stop) {
          const r = await fetch(`${base}/?op=intake&i=${load++}`);
          await r.arrayBuffer();
          if (!r.ok) loadFailures += 1;
        }
      }),
      new Promise((resolve) => setTimeout(resolve, Math.max(0, t0 + windowMs + 500 - Date.now()))).then(
        () => {
          stop = true;
        },
      ),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const late = [];
    // An object the runtime could not keep (workerd's SQLite runs out of memory past a few thousand
    // open objects on this machine) reads as null: reported as not fired, never as on time.
    for (let i = 0; i < alarms; i++) {
      const r = await fetch(`${base}/?op=late&i=${i}`);
      late.push(r.ok ? await r.json() : null);
    }
    const fired = late.filter((x) => x !== null).sort((a, b) => a - b);
    const at = (p) =>
      fired.length === 0 ? null : fired[Math.min(fired.length - 1, Math.floor(p * fired.length))];
    return {
      alarms,
      windowMs,
      senders,
      intakesDuringWindow: load,
      intakeFailures: loadFailures,
      armedLateMs: armedLate,
      fired: fired.length,
      latenessMs: { p50: at(0.5), p99: at(0.99), max: fired.at(-1) ?? null },
    };
  } finally {
    await probe.stop();
  }
}

/** CPU per request of each op minus `none`'s (ms, least of `rounds`), with the median beside it. */
export async function calibrate({ rounds = 5, perRound = 40 } = {}) {
  const probe = await startProbe();
  try {
    const { base, pids } = probe;
    let serial = 0;
    const runOp = async (op, n) => {
      for (let k = 0; k < n; k++) await (await fetch(`${base}/?op=${op}&i=${serial++}`)).arrayBuffer();
    };
    for (const op of OPS) await runOp(op, 10); // warm-up: JIT, the first objects, the queue
    const figures = Object.fromEntries(OPS.map((op) => [op, []]));
    for (let r = 0; r < rounds; r++) {
      for (const op of OPS) {
        const c0 = cpuNsOf(pids);
        await runOp(op, perRound);
        figures[op].push((cpuNsOf(pids) - c0) / 1e6 / perRound);
      }
    }
    const least = (op) => Math.min(...figures[op]);
    const median = (op) => [...figures[op]].sort((a, b) => a - b)[Math.floor(figures[op].length / 2)];
    const out = { method: "", noneMs: round(least("none"), 3), ops: {} };
    for (const op of OPS.slice(1)) {
      out.ops[op] = {
        minMs: round(least(op) - least("none"), 3),
        medianMs: round(median(op) - median("none"), 3),
      };
    }
    out.method =
      "A Worker on the same Miniflare and tmpfs doing one runtime primitive per request; workerd CPU per " +
      `request minus a bare request's, least (and median) of ${rounds} rounds × ${perRound}.`;
    return out;
  } finally {
    await probe.stop();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(JSON.stringify(await calibrate(), null, 1));
  for (const senders of [0, 16]) console.log(JSON.stringify(await alarmFloor({ senders })));
}
