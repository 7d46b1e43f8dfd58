#!/usr/bin/env node
// Time `GET /v1/metrics` (and the reports built on it) on a big desk without the whole
// `npm run bench -- --tickets N` run: seed the tickets once into a kept directory, then start the
// desk on it as often as needed (each start applies any new migration first, so a migration's
// backfill is timed on the big desk too).
//
//   node bench/metrics-scale.mjs seed DIR [--tickets 1000000] [--days D]   tickets only (no messages), over N/100,000 months
//   node bench/metrics-scale.mjs time DIR [--runs 5] [--only default,team] [--base ms] [--dump DIR] [--source DIR]
//
// `--dump DIR` writes each report as JSON (compare two builds' with any JSON diff); `--source DIR`
// serves the same database with another checkout, e.g. `git archive <ref> | tar -x -C DIR` with
// node_modules linked. Cases default, team, channel, teamChannel, trend12 and quality follow the
// clock; the others are fixed windows ending at the seed's newest ticket.
//
// The tickets are the ones `--tickets N` seeds (bench/seed.mjs), without their messages: the
// metrics never read messages. Figures: p50 / p99 of the wall time per request, D1 rows read
// (x-d1-rows-read), and the request's D1 statements.
import fs from "node:fs";
import path from "node:path";
import {
  log,
  migrate,
  percentile,
  putConfig,
  round,
  startFakeServices,
  startMiniflare,
  TOKEN,
} from "./desk.mjs";
import { seedTickets } from "./seed.mjs";

const [command, dir] = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
};

async function seed() {
  const n = Number(flag("tickets", 1_000_000));
  fs.mkdirSync(dir, { recursive: true });
  migrate(dir);
  const spanDays = Number(flag("days", Math.max(25, Math.round((n / 100_000) * 30))));
  log(`seeding ${n} tickets over ${spanDays} days into ${dir}…`);
  // The newest ticket is created "now" as the seed starts: the fixed windows below end there.
  const end = Date.now() + 1;
  const seeded = seedTickets(dir, n, { spanDays, log });
  fs.writeFileSync(path.join(dir, "seed.json"), `${JSON.stringify({ ...seeded, end }, null, 2)}\n`);
  log(`seeded in ${seeded.seconds} s`, JSON.stringify(seeded.bytes));
}

async function time() {
  const runs = Number(flag("runs", 5));
  const t0 = performance.now();
  migrate(dir);
  log(`migrations applied in ${round((performance.now() - t0) / 1000)} s`);
  const fake = await startFakeServices();
  // `--source DIR`: another checkout of the project (e.g. `git archive <ref> | tar -x -C DIR`, with
  // node_modules linked) serves the same database, for before/after figures.
  const source = flag("source", undefined);
  const desk = await startMiniflare(dir, `http://127.0.0.1:${fake.address().port}`, 1, {
    ...(source === undefined ? {} : { source: path.resolve(source) }),
  });
  const auth = { authorization: `Bearer ${TOKEN}` };
  const day = 86_400_000;
  // Fixed windows end at `--base` (ms; default: when the seed ran, else now), so two builds are
  // compared on the same tickets whenever they run (the default window moves with the clock).
  const seedFile = path.join(dir, "seed.json");
  const seededEnd = fs.existsSync(seedFile) ? JSON.parse(fs.readFileSync(seedFile, "utf8")).end : Date.now();
  const now = Number(flag("base", seededEnd));
  const monday = (Math.floor(now / day) - ((Math.floor(now / day) + 3) % 7)) * day;
  const iso = (ms) => new Date(ms).toISOString();
  const cases = {
    default: "/v1/metrics",
    d30: `/v1/metrics?from=${iso(now - 30 * day)}&to=${iso(now)}`,
    d30team: `/v1/metrics?from=${iso(now - 30 * day)}&to=${iso(now)}&team=security`,
    d30channel: `/v1/metrics?from=${iso(now - 30 * day)}&to=${iso(now)}&channel=discord`,
    d30both: `/v1/metrics?from=${iso(now - 30 * day)}&to=${iso(now)}&team=platform&channel=slack`,
    isoWeek: `/v1/metrics?from=${iso(monday - 7 * day)}&to=${iso(monday)}`,
    hours: `/v1/metrics?from=${iso(now - 30 * 3_600_000)}&to=${iso(now - 20 * 3_600_000)}`,
    minute: `/v1/metrics?from=${iso(now - 5 * day)}&to=${iso(now - 5 * day + 60_000)}`,
    d85: `/v1/metrics?from=${iso(now - 85 * day + 12_345)}&to=${iso(now - 3 * day - 777)}`,
    d100: `/v1/metrics?from=${iso(now - 100 * day)}&to=${iso(now)}`,
    team: "/v1/metrics?team=platform",
    channel: "/v1/metrics?channel=github",
    teamChannel: "/v1/metrics?team=support&channel=email",
    week: `/v1/metrics?from=${iso(now - 7 * day)}&to=${iso(now)}`,
    ninetyDays: `/v1/metrics?from=${iso(now - 90 * day)}&to=${iso(now)}`,
    wholeDesk: `/v1/metrics?from=${iso(0)}&to=${iso(now + day)}`,
    empty: `/v1/metrics?from=${iso(now + 10 * day)}&to=${iso(now + 20 * day)}`,
    trend12: "/v1/metrics/trend?weeks=12",
    quality: "/v1/quality",
  };
  const only = flag("only", null)?.split(",");
  try {
    await putConfig(desk.base);
    const results = {};
    for (const [name, url] of Object.entries(cases)) {
      if (only && !only.includes(name)) continue;
      const times = [];
      let rowsRead = 0;
      let statements = 0;
      let body;
      for (let i = 0; i < runs; i++) {
        const t = performance.now();
        const r = await fetch(`${desk.base}${url}`, { headers: auth });
        body = await r.json();
        times.push(performance.now() - t);
        if (r.status !== 200) throw new Error(`${url}: ${r.status} ${JSON.stringify(body)}`);
        rowsRead = Math.max(rowsRead, Number(r.headers.get("x-d1-rows-read")));
        statements = Number(r.headers.get("x-d1-statements"));
      }
      results[name] = {
        url,
        p50: round(percentile(times, 0.5)),
        p99: round(percentile(times, 0.99)),
        rowsRead,
        statements,
        tickets: body.tickets ?? null,
      };
      log(name, JSON.stringify(results[name]));
      const dump = flag("dump", null);
      if (dump !== null)
        fs.writeFileSync(path.join(dump, `${name}.json`), `${JSON.stringify(body, null, 2)}\n`);
    }
    console.log(JSON.stringify(results, null, 2));
  } finally {
    await desk.stop();
    fake.close();
  }
}

if (command === "seed" && dir) await seed();
else if (command === "time" && dir) await time();
else {
  console.error(
    "usage: node bench/metrics-scale.mjs seed|time DIR [--tickets N] [--runs N] [--only a,b] [--base ms] [--dump dir] [--source DIR]",
  );
  process.exit(2);
}
