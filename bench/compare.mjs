#!/usr/bin/env node
// `node bench/compare.mjs <git-ref> [--rounds N] [--per-round N]`: this checkout against an earlier
// commit, side by side. Both desks run at once (each its own workerd, fresh local D1, fake
// services), and every round measures each kind of request on both, alternating which goes first:
// whatever else the machine is doing hits both alike, so their ratio holds on a busy machine where
// absolute figures do not. Per request: workerd CPU (least and median over the rounds, and the
// median of the per-round ratio), and D1 statements, round trips and rows from the desk's meters.
import { execSync } from "node:child_process";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { bench, cpuPerRequest, percentile, root, round } from "./desk.mjs";

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};
const ref = process.argv[2];
if (ref === undefined || ref.startsWith("--")) {
  console.error("usage: node bench/compare.mjs <git-ref> [--rounds N] [--per-round N]");
  process.exit(2);
}
const ROUNDS = Number(arg("rounds", "9"));
const PER_ROUND = Number(arg("per-round", "20"));

function checkout(commit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "switchboard-compare-"));
  execSync(`git archive ${commit} | tar -x -C ${dir}`, { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"));
  process.on("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function kindsFor(desk, run) {
  const post = (body) => ({
    url: `${desk.base}/v1/messages`,
    init: {
      method: "POST",
      headers: { ...desk.auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  });
  return {
    healthz: () => ({ url: `${desk.base}/healthz` }),
    newTicket: (i) =>
      post({ externalId: `${run}-n${i}`, from: { name: "Bench" }, text: "Webhooks are late" }),
    threaded: (i) =>
      post({
        externalId: `${run}-t${i}`,
        threadId: `${run}-thread`,
        from: { name: "Bench" },
        text: "Still late",
      }),
    replay: () => post({ externalId: `${run}-seen`, from: { name: "Bench" }, text: "Webhooks are late" }),
  };
}

async function meters(make) {
  const { url, init } = make(1_000_000 + Math.floor(Math.random() * 1e6));
  // Let a previous write's deferred delete (if this build defers it) go out first, on its own.
  await new Promise((r) => setTimeout(r, 150));
  const r = await fetch(url, init);
  await r.arrayBuffer();
  const h = (name) => (r.headers.get(name) === null ? null : Number(r.headers.get(name)));
  return {
    statements: h("x-d1-statements"),
    roundTrips: h("x-d1-round-trips"),
    rowsRead: h("x-d1-rows-read"),
    rowsWritten: h("x-d1-rows-written"),
  };
}

async function main() {
  const commit = execSync(`git rev-parse --short ${ref}`, { cwd: root, encoding: "utf8" }).trim();
  const head = execSync("git rev-parse --short HEAD", { cwd: root, encoding: "utf8" }).trim();
  const dirty = execSync("git status --porcelain -- src", { cwd: root, encoding: "utf8" }).trim() !== "";
  const before = await bench.startDesk({ source: checkout(commit) });
  const after = await bench.startDesk();
  try {
    const run = crypto.randomUUID().slice(0, 8);
    const desks = { before, after };
    const kinds = {};
    for (const [name, desk] of Object.entries(desks)) {
      await bench.putConfig(desk.base);
      kinds[name] = kindsFor(desk, `${run}-${name}`);
      const seen = kinds[name].replay();
      await (await fetch(seen.url, seen.init)).arrayBuffer();
      await cpuPerRequest(desk, kinds[name], { rounds: 1, perRound: 10 });
    }
    const rounds = { before: {}, after: {} };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? ["before", "after"] : ["after", "before"];
      for (const name of order) {
        const figures = await cpuPerRequest(desks[name], kinds[name], { rounds: 1, perRound: PER_ROUND });
        for (const [kind, x] of Object.entries(figures)) {
          rounds[name][kind] = [...(rounds[name][kind] ?? []), x.rounds[0]];
        }
      }
    }
    const lines = [
      `${commit} (before) against ${head}${dirty ? " with uncommitted changes" : ""} (after): ${ROUNDS} rounds × ${PER_ROUND} requests of each kind, one sender, both desks running.`,
      "",
      "| request | before: CPU least / median ms | after: CPU least / median ms | after ÷ before (median of rounds) | D1 statements / round trips / rows read / rows written, before → after |",
      "| --- | --- | --- | --- | --- |",
    ];
    const result = { before: commit, after: head, dirty, rounds: ROUNDS, perRound: PER_ROUND, kinds: {} };
    for (const kind of Object.keys(rounds.after)) {
      const b = rounds.before[kind];
      const a = rounds.after[kind];
      const ratios = a.map((x, i) => x / b[i]);
      const minusHealthz = (xs, name) => xs.map((x, i) => x - rounds[name].healthz[i]);
      const mb = kind === "healthz" ? null : await meters(kinds.before[kind]);
      const ma = kind === "healthz" ? null : await meters(kinds.after[kind]);
      const fmt = (m) =>
        m === null ? "—" : `${m.statements} / ${m.roundTrips ?? "?"} / ${m.rowsRead} / ${m.rowsWritten}`;
      result.kinds[kind] = {
        beforeMs: { least: round(Math.min(...b), 3), median: round(percentile(b, 0.5), 3) },
        afterMs: { least: round(Math.min(...a), 3), median: round(percentile(a, 0.5), 3) },
        ratioMedian: round(percentile(ratios, 0.5), 3),
        ...(kind === "healthz"
          ? {}
          : {
              beforeMinusHealthzMs: round(percentile(minusHealthz(b, "before"), 0.5), 3),
              afterMinusHealthzMs: round(percentile(minusHealthz(a, "after"), 0.5), 3),
            }),
        d1: { before: mb, after: ma },
      };
      lines.push(
        `| ${kind} | ${round(Math.min(...b), 2)} / ${round(percentile(b, 0.5), 2)} | ${round(Math.min(...a), 2)} / ${round(percentile(a, 0.5), 2)} | ${round(percentile(ratios, 0.5), 3)} | ${fmt(mb)} → ${fmt(ma)} |`,
      );
    }
    console.log(lines.join("\n"));
    const out = arg("out", undefined);
    if (out !== undefined) fs.writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await before.stop();
    await after.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
