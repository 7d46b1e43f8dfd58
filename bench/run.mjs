#!/usr/bin/env node
// `npm run bench`: the desk on the local runtime (Miniflare, local D1/DO/R2/Queues) driven from this
// process. Prints a table and writes bench/results.json. Under ten minutes on a 2-core machine
// (`--quick`: fewer requests, 10,000 tickets, 300 timers). `--wrangler-dev` runs the desk under
// `wrangler dev` instead of Miniflare; `--disk` keeps the local state on disk instead of tmpfs.
// `--tickets N` (e.g. 1000000) is a separate run: N tickets with their messages in a local D1, the
// queue, metrics, a ticket and intake measured on it, and D1's bytes per ticket
// (bench/results-tickets.json).
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import PostalMime from "postal-mime";
import { alarmFloor, calibrate } from "./calibrate.mjs";
import { costOf, discordGatewayMonth, PRICES } from "./cost.mjs";
import {
  cpuPerRequest,
  discordPrivate,
  GITHUB_SECRET,
  log,
  migrate,
  percentile,
  putConfig,
  root,
  round,
  SLACK_SECRET,
  sleep,
  startFakeServices,
  startMiniflare,
  startWranglerDev,
  stateRoot,
  TOKEN,
} from "./desk.mjs";
import { seedTickets } from "./seed.mjs";

const corpusDir = path.join(root, "test", "fixtures", "corpus");
const quick = process.argv.includes("--quick");
const useWranglerDev = process.argv.includes("--wrangler-dev");
const ticketsFlag = process.argv.indexOf("--tickets");
const MILLION = ticketsFlag === -1 ? null : Number(process.argv[ticketsFlag + 1]);
const CONCURRENCY = 16;
const PER_CHANNEL = quick ? 200 : 600;
const ESCALATION_TICKETS = quick ? 300 : 2000;
const SCALE_TICKETS = quick ? 10_000 : 100_000;
/** Ticket exchanges (three customer messages, two replies, a resolve, a survey) metered for the cost. */
const EXCHANGES = quick ? 10 : 25;
// 24 h / 17,280 = 5 s: every api ticket's deadline falls a few seconds after it is opened.
const SLA_TIME_SCALE = 17_280;

/** Run `count` requests built by `make(i)` with `concurrency` in flight; latency per request. */
async function load(count, make, concurrency = CONCURRENCY) {
  const latencies = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        const { url, init } = make(i);
        const t0 = performance.now();
        try {
          const response = await fetch(url, init);
          await response.arrayBuffer();
          if (response.status >= 400) failures += 1;
        } catch {
          failures += 1;
        }
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: count,
    failures,
    rps: Math.round(count / seconds),
    p50: round(percentile(latencies, 0.5)),
    p99: round(percentile(latencies, 0.99)),
  };
}

function slackHeaders(body) {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = crypto.createHmac("sha256", SLACK_SECRET).update(`v0:${ts}:${body}`).digest("hex");
  return {
    "content-type": "application/json",
    "x-slack-request-timestamp": ts,
    "x-slack-signature": `v0=${sig}`,
  };
}

function githubHeaders(body, event) {
  return {
    "content-type": "application/json",
    "x-github-event": event,
    "x-github-delivery": crypto.randomUUID(),
    "x-hub-signature-256": `sha256=${crypto.createHmac("sha256", GITHUB_SECRET).update(body).digest("hex")}`,
  };
}

function discordHeaders(body) {
  const ts = String(Math.floor(Date.now() / 1000));
  const sig = crypto.sign(null, Buffer.from(ts + body), discordPrivate).toString("hex");
  return { "content-type": "application/json", "x-signature-timestamp": ts, "x-signature-ed25519": sig };
}

const readJson = (file) => JSON.parse(fs.readFileSync(path.join(corpusDir, file), "utf8"));

function startDeskOn(persist, fakeBase, slaTimeScale) {
  log(`starting ${useWranglerDev ? "wrangler dev" : "Miniflare"} (SLA_TIME_SCALE=${slaTimeScale})…`);
  return useWranglerDev
    ? startWranglerDev(persist, fakeBase, slaTimeScale)
    : startMiniflare(persist, fakeBase, slaTimeScale);
}

async function main() {
  const results = {
    machine: { cpus: os.cpus().length, node: process.version },
    startedAt: new Date().toISOString(),
  };
  const fake = await startFakeServices();
  const fakeBase = `http://127.0.0.1:${fake.address().port}`;
  results.runtime = useWranglerDev ? "wrangler dev" : "Miniflare";
  results.stateOn = stateRoot;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const run = crypto.randomUUID().slice(0, 8);
  const persist = fs.mkdtempSync(path.join(stateRoot, "switchboard-bench-"));
  // The local D1 file belongs to one workerd at a time: the bulk rows go in before the desk starts,
  // so every figure below is taken on a database that already holds them.
  migrate(persist);
  log(`inserting ${SCALE_TICKETS} tickets…`);
  // Created over the last 25 days: all of them inside the metrics' default 30-day window.
  const seeded = seedTickets(persist, SCALE_TICKETS, { spanDays: 25 });
  const insertSeconds = seeded.seconds;
  // Real deadlines (SLA_TIME_SCALE=1) on this desk: compressed ones would make every ticket opened
  // here escalate seconds later, in the middle of the next measurement. Escalation has its own desk.
  const desk = await startDeskOn(persist, fakeBase, 1);
  const { base } = desk;
  try {
    await putConfig(base);

    // 1. Intake throughput and latency per channel, beside /healthz.
    log("intake throughput…");
    const warm = await load(100, () => ({ url: `${base}/healthz` }));
    void warm;
    const intake = {};
    intake.healthz = await load(PER_CHANNEL * 2, () => ({ url: `${base}/healthz` }));
    intake.api = await load(PER_CHANNEL, (i) => ({
      url: `${base}/v1/messages`,
      init: {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          externalId: `${run}-api-${i}`,
          threadId: `${run}-api-t${i % (PER_CHANNEL / 2)}`,
          from: { name: "Bench" },
          text: "Webhooks are late",
        }),
      },
    }));
    // Slack and GitHub answer once the event is queued: afterwards, wait until the consumer has
    // opened every ticket, so the figures after them are not taken under its backlog.
    const queuedFrom = new Date(Date.now() - 1000).toISOString();
    const drain = async (expected) => {
      const t0 = performance.now();
      const counts = {};
      while (performance.now() - t0 < 180_000) {
        for (const channel of Object.keys(expected)) {
          const r = await fetch(
            `${base}/v1/metrics?channel=${channel}&from=${encodeURIComponent(queuedFrom)}`,
            {
              headers: auth,
            },
          );
          const m = await r.json();
          counts[channel] = m.byChannel?.[channel]?.tickets ?? m.tickets ?? 0;
        }
        if (Object.entries(expected).every(([c, n]) => counts[c] >= n)) break;
        await sleep(100);
      }
      return { seconds: round((performance.now() - t0) / 1000, 2), tickets: { ...counts }, expected };
    };
    const slackBase = readJson("slack/event_callback.message.plain.json");
    intake.slack = await load(PER_CHANNEL, (i) => {
      const body = JSON.stringify({
        ...slackBase,
        event_id: `Ev${run}${i}`,
        event: {
          ...slackBase.event,
          channel: `C${run}${i % 50}`.toUpperCase(),
          ts: `1700000000.${String(i).padStart(6, "0")}`,
          thread_ts: undefined,
          team: "T0CUST",
          user_team: "T0CUST",
        },
      });
      return {
        url: `${base}/webhooks/slack/events`,
        init: { method: "POST", headers: slackHeaders(body), body },
      };
    });
    // Each channel's run starts with no other channel's backlog in the consumer (its own is running).
    log("waiting for the intake queue to drain…");
    results.queueDrainSlack = await drain({ slack: PER_CHANNEL });
    const issue = readJson("github/issues.opened.1.json");
    const comment = readJson("github/issue_comment.created.3.json");
    intake.github = await load(PER_CHANNEL, (i) => {
      const n = Math.floor(i / 2) + 1;
      const repo = { ...issue.repository, full_name: `bench/${run}`, name: run };
      const payload =
        i % 2 === 0
          ? { ...issue, repository: repo, issue: { ...issue.issue, number: n, id: 5_000_000 + n } }
          : {
              ...comment,
              repository: repo,
              issue: { ...comment.issue, number: n, id: 5_000_000 + n },
              comment: { ...comment.comment, id: 6_000_000 + i, author_association: "NONE" },
            };
      const body = JSON.stringify(payload);
      return {
        url: `${base}/webhooks/github`,
        init: {
          method: "POST",
          headers: githubHeaders(body, i % 2 === 0 ? "issues" : "issue_comment"),
          body,
        },
      };
    });
    log("waiting for the intake queue to drain…");
    results.queueDrainGithub = await drain({ slack: PER_CHANNEL, github: PER_CHANNEL / 2 });
    intake.email = await load(PER_CHANNEL, (i) => {
      const raw = [
        `From: Customer ${i} <c${i}@bench.example>`,
        "To: support@example.com",
        `Subject: Export ${i} fails`,
        `Message-ID: <${run}-${i}@bench.example>`,
        "Content-Type: text/plain; charset=utf-8",
        "",
        "The export button spins forever.",
        "",
      ].join("\r\n");
      return {
        url: `${base}/cdn-cgi/handler/email?from=c${i}@bench.example&to=support@example.com`,
        init: { method: "POST", body: raw },
      };
    });
    const slash = readJson("discord/application_command.slash.docs.json");
    intake.discord = await load(PER_CHANNEL, (i) => {
      const body = JSON.stringify({
        ...slash,
        id: String(7_000_000_000n + BigInt(i)),
        token: `bench-${run}-${i}`,
        data: {
          ...slash.data,
          name: "support",
          options: [{ type: 3, name: "text", value: `Bot offline ${i}` }],
        },
      });
      return {
        url: `${base}/webhooks/discord`,
        init: { method: "POST", headers: discordHeaders(body), body },
      };
    });
    for (const [name, r] of Object.entries(intake)) {
      if (name !== "healthz") r.ratioToHealthz = round(r.rps / intake.healthz.rps, 3);
    }
    // The same requests one at a time: the service time of one intake, without queueing behind 15 others.
    const serial = {};
    serial.healthz = await load(40, () => ({ url: `${base}/healthz` }), 1);
    serial.api = await load(
      40,
      (i) => ({
        url: `${base}/v1/messages`,
        init: {
          method: "POST",
          headers: { ...auth, "content-type": "application/json" },
          body: JSON.stringify({
            externalId: `${run}-serial-${i}`,
            from: { name: "Bench" },
            text: "Webhooks are late",
          }),
        },
      }),
      1,
    );
    serial.slack = await load(
      40,
      (i) => {
        const body = JSON.stringify({
          ...slackBase,
          event_id: `EvS${run}${i}`,
          event: {
            ...slackBase.event,
            channel: `CS${run}`.toUpperCase(),
            ts: `1700000001.${String(i).padStart(6, "0")}`,
            thread_ts: undefined,
            team: "T0CUST",
            user_team: "T0CUST",
          },
        });
        return {
          url: `${base}/webhooks/slack/events`,
          init: { method: "POST", headers: slackHeaders(body), body },
        };
      },
      1,
    );
    serial.github = await load(
      40,
      (i) => {
        const n = 100_000 + i;
        const repo = { ...issue.repository, full_name: `bench/${run}-s`, name: `${run}-s` };
        const body = JSON.stringify({
          ...issue,
          repository: repo,
          issue: { ...issue.issue, number: n, id: 5_000_000 + n },
        });
        return {
          url: `${base}/webhooks/github`,
          init: { method: "POST", headers: githubHeaders(body, "issues"), body },
        };
      },
      1,
    );
    results.queueDrainSerial = await drain({ slack: PER_CHANNEL + 40, github: PER_CHANNEL / 2 + 40 });
    for (const [name, r] of Object.entries(serial)) {
      intake[name].serialP50 = r.p50;
      intake[name].serialP99 = r.p99;
    }
    results.intake = intake;

    // 2. D1 cost per intake and per queue page, from D1's own meta.
    log("D1 rows per operation…");
    const rows = async (url, init) => {
      // A write's paid-debt delete rides along with the next lookup or goes 50 ms later
      // (store/timer-syncs.ts): wait it out, so each figure is the request's own.
      await sleep(150);
      const r = await fetch(url, init);
      await r.arrayBuffer();
      return {
        status: r.status,
        rowsRead: Number(r.headers.get("x-d1-rows-read")),
        rowsWritten: Number(r.headers.get("x-d1-rows-written")),
      };
    };
    const post = (body) => ({
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const thread = `${run}-cost`;
    results.d1 = {
      newTicket: await rows(
        `${base}/v1/messages`,
        post({ externalId: `${run}-c1`, threadId: thread, from: { name: "B" }, text: "first" }),
      ),
      threadedReply: await rows(
        `${base}/v1/messages`,
        post({ externalId: `${run}-c2`, threadId: thread, from: { name: "B" }, text: "second" }),
      ),
      duplicate: await rows(
        `${base}/v1/messages`,
        post({ externalId: `${run}-c2`, threadId: thread, from: { name: "B" }, text: "second" }),
      ),
      queuePage: await rows(`${base}/v1/tickets?limit=25`, { headers: auth }),
    };

    // 3b. Workers CPU per request: workerd's own CPU time over runs of one sender (cpuPerRequest).
    log("workerd CPU per request…");
    results.cpu = await cpuPerNewTicket(desk, base, auth, run);

    // 3c. What one ticket's typical exchange meters, for the cost (section "cost" in results).
    log(`metering ${EXCHANGES} ticket exchanges…`);
    results.exchange = await meterExchanges(
      desk,
      base,
      auth,
      run,
      fake,
      EXCHANGES,
      results.cpu.perRequest.getTicket.minMs,
    );
    results.cron = await meterCron(desk, base);

    // 4. Email parse: time and peak memory, in this process with the same parser, plus end to end.
    log("email parse…");
    const emailFiles = fs.readdirSync(path.join(corpusDir, "email")).filter((f) => f.endsWith(".eml"));
    const parseTimes = [];
    let peak = process.memoryUsage().rss;
    for (const file of emailFiles) {
      const bytes = fs.readFileSync(path.join(corpusDir, "email", file));
      const t0 = performance.now();
      await PostalMime.parse(bytes, { attachmentEncoding: "arraybuffer" });
      parseTimes.push(performance.now() - t0);
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    const big = bigMessage(`${run}-big@bench.example`, 15 * 1024 * 1024);
    const heapBefore = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const rssBefore = process.memoryUsage().rss;
    const tBig = performance.now();
    const parsedBig = await PostalMime.parse(big, { attachmentEncoding: "arraybuffer" });
    const bigParseMs = performance.now() - tBig;
    const usage = process.memoryUsage();
    const heapAfter = usage.heapUsed + usage.arrayBuffers;
    void parsedBig;
    // The local email endpoint (Miniflare's, as in wrangler dev) refuses messages over 1 MiB (production takes 25 MiB), so
    // the end-to-end figure is for a 0.9 MiB message; the 20 MiB one goes through the email()
    // handler in the Worker tests (test/worker/email.test.ts).
    const medium = bigMessage(`${run}-medium@bench.example`, 680 * 1024);
    const tE2E = performance.now();
    // A failure here (the local email endpoint dropping the connection on a loaded machine) is
    // recorded as the figure, not allowed to end the run.
    const e2e = await fetch(`${base}/cdn-cgi/handler/email?from=big@bench.example&to=support@example.com`, {
      method: "POST",
      body: medium,
    })
      .then(async (r) => {
        await r.arrayBuffer();
        return r;
      })
      .catch((error) => ({ status: `failed: ${error.cause?.code ?? error.message}` }));
    results.emailParse = {
      corpusFiles: emailFiles.length,
      corpusMs: {
        p50: round(percentile(parseTimes, 0.5), 2),
        p99: round(percentile(parseTimes, 0.99), 2),
        max: round(Math.max(...parseTimes), 2),
      },
      corpusPeakRssMiB: round(peak / 2 ** 20),
      big: {
        bytes: big.length,
        parseMs: round(bigParseMs),
        // What parsing it added to the JS heap and ArrayBuffers: the part that counts against an isolate's 128 MB.
        parseMemoryMiB: round((heapAfter - heapBefore) / 2 ** 20),
        processRssMiB: round(Math.max(usage.rss, rssBefore) / 2 ** 20),
      },
      endToEnd: { bytes: medium.length, ms: round(performance.now() - tE2E), status: e2e.status },
    };

    // 5. The queue at scale: 100,000 tickets in the local D1.
    log("queue at scale…");
    results.scale = {
      insertSeconds,
      // The ticket rows with their indexes only (the million-ticket run measures messages too).
      ticketBytesPerTicket: Math.round((seeded.bytes.afterTickets - seeded.bytes.empty) / SCALE_TICKETS),
      ...(await queueAtScale(base, auth)),
    };
  } finally {
    await desk.stop();
    await sleep(500);
    fs.rmSync(persist, { recursive: true, force: true });
  }

  // 3. Escalation precision, on a fresh desk whose deadlines are compressed (24 h → 5 s).
  const escalationPersist = fs.mkdtempSync(path.join(stateRoot, "switchboard-bench-escalation-"));
  migrate(escalationPersist);
  const escalationDesk = await startDeskOn(escalationPersist, fakeBase, SLA_TIME_SCALE);
  try {
    await putConfig(escalationDesk.base);
    results.escalation = await escalationPrecision(escalationDesk.base, run);
    // The same 2,000 timers while two senders open their tickets: how late the timers are when the
    // runtime is not also saturated by sixteen senders' intake (information, not a target).
    results.escalationTwoSenders = await escalationPrecision(escalationDesk.base, run, 2);
  } finally {
    await escalationDesk.stop();
    await sleep(500);
    fs.rmSync(escalationPersist, { recursive: true, force: true });
  }
  // The runtime's own floor under the lateness figure (bench/calibrate.mjs): the same number of
  // alarms in the same window, each doing only what a ladder step must (one D1 read), idle and
  // while 4 and 8 senders make only what a new ticket must (a lookup, a batch, a new object).
  log("the runtime's own alarm lateness…");
  results.escalationFloor = [];
  for (const senders of [0, 4, 8]) {
    results.escalationFloor.push(await alarmFloor({ alarms: ESCALATION_TICKETS, windowMs: 5000, senders }));
  }
  fake.close();
  results.finishedAt = new Date().toISOString();
  results.cost = monthlyCost(results);
  results.targets = targets(results);
  fs.writeFileSync(path.join(root, "bench", "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  printTable(results);
}

/**
 * Workers CPU per new ticket (SPEC §10 / issue 18): workerd's CPU time per request, one sender at a
 * time, for a new api ticket and for /healthz in the same rounds; the figure is the difference.
 * Each round runs every kind back to back (cpuPerRequest), so a busy moment hits all of them.
 */
async function cpuPerNewTicket(desk, base, auth, run) {
  const post = (body) => ({
    url: `${base}/v1/messages`,
    init: {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  });
  const seen = post({ externalId: `${run}-cpu-seen`, from: { name: "Bench" }, text: "Webhooks are late" });
  await (await fetch(seen.url, seen.init)).arrayBuffer();
  const kinds = {
    healthz: () => ({ url: `${base}/healthz` }),
    newTicket: (i) =>
      post({ externalId: `${run}-cpu-${i}`, from: { name: "Bench" }, text: "Webhooks are late" }),
    threaded: (i) =>
      post({
        externalId: `${run}-cpu-t${i}`,
        threadId: `${run}-cpu-thread`,
        from: { name: "Bench" },
        text: "Still late",
      }),
    replay: () => seen,
    getTicket: () => ({ url: `${base}/v1/tickets/SUP-1`, init: { headers: auth } }),
  };
  // Warm-up (JIT, the configuration cache): not measured.
  await cpuPerRequest(desk, kinds, { rounds: 1, perRound: 10 });
  const rounds = quick ? 5 : 7;
  const perRound = quick ? 20 : 30;
  const figures = await cpuPerRequest(desk, kinds, { rounds, perRound });
  const minus = (kind) => {
    const diffs = figures[kind].rounds.map((ms, i) => ms - figures.healthz.rounds[i]);
    return { medianMs: round(percentile(diffs, 0.5), 3), minMs: round(Math.min(...diffs), 3) };
  };
  // What the runtime itself charges for the primitives a new ticket uses (bench/calibrate.mjs), and
  // how many of them one new ticket uses (the desk's own meters): the floor under the figure above.
  const probe = post({ externalId: `${run}-cpu-probe`, from: { name: "Bench" }, text: "Webhooks are late" });
  const probed = await fetch(probe.url, probe.init);
  await probed.arrayBuffer();
  const roundTrips = Number(probed.headers.get("x-d1-round-trips"));
  log("calibrating the runtime's own primitives…");
  const runtime = await calibrate({ rounds: quick ? 3 : 5, perRound: quick ? 20 : 40 });
  const op = (name) => runtime.ops[name].minMs;
  // A new ticket needs, at the very least, one D1 round trip (idempotency lookup and inserts in one
  // guarded batch; the desk makes two) and its own new TicketTimer object.
  const floorMs = op("d1batch5") + op("newObject");
  // What the desk makes today: its D1 round trips, the new timer object, the live feed's object call.
  const primitivesMs = op("d1") + (roundTrips - 1) * op("d1batch5") + op("newObject") + op("object");
  const newTicket = minus("newTicket");
  return {
    runtime,
    newTicketPrimitives: {
      d1RoundTrips: roundTrips,
      newObjects: 1,
      objectCalls: 1,
      runtimeMs: round(primitivesMs, 3),
      floorMs: round(floorMs, 3),
      floorIs:
        "one D1 round trip (a batch) + one new SQLite-backed Durable Object (the ticket's TicketTimer)",
      deskOwnMs: round(newTicket.minMs - primitivesMs, 3),
      deskOwnIs:
        "the new ticket's CPU minus /healthz's minus the runtime's own price of the D1 round trips, the new " +
        "timer object and the live-feed object call it makes (bench/calibrate.mjs): the desk's own code, the part " +
        "Cloudflare bills as Workers CPU (D1 is a separate service; objects are billed by duration)",
    },
    method:
      `workerd's CPU time (user + system, all threads, from /proc) over ${rounds} rounds of ${perRound} requests of each kind, ` +
      "one at a time, divided by their number; minus /healthz's per request in the same round. Includes the local " +
      "D1 simulator and the TicketTimer object, which run in the same workerd process.",
    rounds,
    perRound,
    perRequest: figures,
    minusHealthz: {
      newTicket: minus("newTicket"),
      threaded: minus("threaded"),
      replay: minus("replay"),
      getTicket: minus("getTicket"),
    },
  };
}

/** The isolate's cumulative meters (D1 rows, timer object calls), from any response's headers. */
async function isolateMeters(base) {
  const r = await fetch(`${base}/healthz`);
  await r.arrayBuffer();
  const n = (h) => Number(r.headers.get(h) ?? 0);
  return {
    d1RowsRead: n("x-isolate-d1-rows-read"),
    d1RowsWritten: n("x-isolate-d1-rows-written"),
    doRequests: n("x-isolate-do-requests"),
    doWallMs: n("x-isolate-do-wall-ms"),
  };
}

/**
 * `n` typical exchanges on Slack (the queued channel), all at once, one sender each: the customer
 * opens a thread, writes twice more, an agent replies twice through the API, resolves, and the
 * customer answers the survey. Meters over the whole run, divided by `n`: requests, workerd CPU
 * (minus /healthz's per HTTP request), D1 rows, timer object calls and their wall time, outbound
 * calls, queue messages. Afterwards every ticket is read once (not metered) to check the exchange.
 */
async function meterExchanges(desk, base, auth, run, fake, n, getTicketCpuMs) {
  const slackBase = readJson("slack/event_callback.message.plain.json");
  const healthzCpu = (
    await cpuPerRequest(desk, { healthz: () => ({ url: `${base}/healthz` }) }, { rounds: 3, perRound: 20 })
  ).healthz.minMs;
  const slackEvent = (k, ts, threadTs, text) => {
    const body = JSON.stringify({
      ...slackBase,
      event_id: `EvX${run}${k}${ts.replace(".", "")}`,
      event: {
        ...slackBase.event,
        channel: `CX${run}${k}`.toUpperCase(),
        ts,
        thread_ts: threadTs,
        text,
        team: "T0CUST",
        user_team: "T0CUST",
      },
    });
    return fetch(`${base}/webhooks/slack/events`, { method: "POST", headers: slackHeaders(body), body });
  };
  const waitFor = async (predicate, what) => {
    const t0 = Date.now();
    while (Date.now() - t0 < 60_000) {
      const found = fake.slackPosts.find(predicate);
      if (found !== undefined) return found;
      await sleep(50);
    }
    throw new Error(`exchange: no ${what} within 60 s`);
  };
  let httpRequests = 0;
  // Reads that only watch for a queued message to be stored: not part of the exchange. Their D1
  // rows (from their own headers) and their CPU (at GET /v1/tickets/:key's measured cost) come off.
  const polls = { count: 0, rowsRead: 0, rowsWritten: 0 };
  const waitStored = async (key, customerMessages) => {
    const t0 = Date.now();
    while (Date.now() - t0 < 120_000) {
      await sleep(250);
      const r = await fetch(`${base}/v1/tickets/${key}`, { headers: auth });
      const t = await r.json();
      polls.count += 1;
      polls.rowsRead += Number(r.headers.get("x-d1-rows-read") ?? 0);
      polls.rowsWritten += Number(r.headers.get("x-d1-rows-written") ?? 0);
      if ((t.messages ?? []).filter((m) => m.kind === "customer").length >= customerMessages) return;
    }
    throw new Error(`exchange: ${key} did not get its follow-up within 120 s`);
  };
  const call = async (url, init) => {
    httpRequests += 1;
    const r = await fetch(url, init);
    await r.arrayBuffer();
    if (r.status >= 400) throw new Error(`exchange: ${url} answered ${r.status}`);
    return r;
  };
  const json = (body) => ({
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const before = await isolateMeters(base);
  const cpu0 = desk.cpuNs();
  const calls0 = fake.calls.total;
  const t0 = performance.now();
  const failures = [];
  const exchange = async (k) => {
    const channel = `CX${run}${k}`.toUpperCase();
    const ts0 = `1700000100.${String(k).padStart(6, "0")}`;
    httpRequests += 1;
    await (
      await slackEvent(k, ts0, undefined, "Our webhook deliveries arrive late since this morning")
    ).arrayBuffer();
    const ack = await waitFor(
      (p) => p.channel === channel && p.thread_ts === ts0 && /SUP-\d+/.test(p.text ?? ""),
      "acknowledgement",
    );
    const key = /SUP-\d+/.exec(ack.text)[0];
    for (const [i, text] of ["Request ids: 4f1c, 9e2a", "Still late after the retry"].entries()) {
      httpRequests += 1;
      await (
        await slackEvent(k, `1700000101.${String(k * 10 + i).padStart(6, "0")}`, ts0, text)
      ).arrayBuffer();
      // The follow-up is queued: wait until the consumer has stored it before the agent replies.
      await waitStored(key, i + 2);
      const reply = `Looking into it (${i + 1})`;
      await call(`${base}/v1/tickets/${key}/replies`, { method: "POST", ...json({ text: reply }) });
      await waitFor((p) => p.channel === channel && (p.text ?? "").includes(reply), "reply");
    }
    await call(`${base}/v1/tickets/${key}`, { method: "PATCH", ...json({ status: "resolved" }) });
    const survey = await waitFor(
      (p) => p.channel === channel && /\/survey\/[\w-]+/.test(p.text ?? ""),
      "survey",
    );
    const token = /\/survey\/([\w-]+)/.exec(survey.text)[1];
    await call(`${base}/survey/${token}`);
    await call(`${base}/survey/${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "score=6",
    });
    return key;
  };
  const keys = await Promise.all(
    Array.from({ length: n }, (_, k) =>
      exchange(k).catch((error) => {
        failures.push(String(error?.message ?? error));
        return null;
      }),
    ),
  );
  // Quiet: no outbound call for two seconds (the outboxes have drained and recorded their outcomes).
  let last = fake.calls.total;
  for (let quiet = 0; quiet < 4; ) {
    await sleep(500);
    quiet = fake.calls.total === last ? quiet + 1 : 0;
    last = fake.calls.total;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuMs = (desk.cpuNs() - cpu0) / 1e6;
  const after = await isolateMeters(base);
  const outboundCalls = fake.calls.total - calls0;
  // Not metered: did every exchange happen as intended?
  let complete = 0;
  for (const key of keys) {
    if (key === null) continue;
    const t = await (await fetch(`${base}/v1/tickets/${key}`, { headers: auth })).json();
    const customer = t.messages.filter((m) => m.kind === "customer").length;
    const staff = t.messages.filter((m) => m.kind === "staff").length;
    if (customer === 3 && staff === 2 && t.status === "resolved") complete += 1;
  }
  const per = (v) => round(v / n, 3);
  return {
    exchanges: n,
    complete,
    failures,
    polls: { ...polls, cpuMsEach: getTicketCpuMs, note: "reads watching for queued follow-ups, subtracted" },
    seconds: round(seconds, 1),
    what: "Slack: 3 customer messages (queued), 2 agent replies (API), 1 resolve, 1 survey (page + answer)",
    perTicket: {
      httpRequests: per(httpRequests),
      queueMessages: 3,
      workerdCpuMs: per(cpuMs - healthzCpu * httpRequests - getTicketCpuMs * polls.count),
      d1RowsRead: per(after.d1RowsRead - before.d1RowsRead - polls.rowsRead),
      d1RowsWritten: per(after.d1RowsWritten - before.d1RowsWritten - polls.rowsWritten),
      doRequests: per(after.doRequests - before.doRequests),
      doWallMs: per(after.doWallMs - before.doWallMs),
      outboundCalls: per(outboundCalls),
    },
    healthzCpuMsPerRequest: healthzCpu,
  };
}

/** Cron runs: what the every-minute reconciler costs when nothing is behind (the common case). */
async function meterCron(desk, base, n = 20) {
  const before = await isolateMeters(base);
  const cpu0 = desk.cpuNs();
  for (let i = 0; i < n; i++) {
    const r = await fetch(`${base}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
    await r.arrayBuffer();
  }
  const cpuMs = (desk.cpuNs() - cpu0) / 1e6;
  const after = await isolateMeters(base);
  return {
    runs: n,
    workerdCpuMs: round(cpuMs / n, 3),
    d1RowsRead: round((after.d1RowsRead - before.d1RowsRead) / n, 2),
    d1RowsWritten: round((after.d1RowsWritten - before.d1RowsWritten) / n, 2),
  };
}

/** 100,000 tickets a month with the measured exchange, plus the fixed costs, at Workers Paid prices. */
function monthlyCost(results) {
  const x = results.exchange.perTicket;
  const cron = results.cron;
  // Production timer objects wait on real providers: every outbound call adds ~250 ms of wall time
  // (billed duration) that the local fakes, answering at once, do not.
  const PROVIDER_LATENCY_S = 0.25;
  const doSeconds = x.doWallMs / 1000 + x.outboundCalls * PROVIDER_LATENCY_S;
  const perTicket = {
    // Every queued message's consumer run counted as a request too (at most; batches share one).
    workerRequests: x.httpRequests + x.queueMessages,
    workerCpuMs: Math.max(0, x.workerdCpuMs),
    d1RowsRead: x.d1RowsRead,
    d1RowsWritten: x.d1RowsWritten,
    doRequests: x.doRequests,
    doGbSeconds: doSeconds * PRICES.durableObjects.gbPerObject,
    r2ClassA: 0,
    r2ClassB: 0,
    // A queued message is written, read and deleted: three operations.
    queueOperations: x.queueMessages * 3,
  };
  const cronRuns = 30 * 24 * 60 + 30 * 24;
  const fixed = {
    workerRequests: cronRuns,
    workerCpuMs: cronRuns * Math.max(0, cron.workerdCpuMs - results.exchange.healthzCpuMsPerRequest),
    d1RowsRead: cronRuns * cron.d1RowsRead,
    d1RowsWritten: cronRuns * cron.d1RowsWritten,
    doRequests: 0,
    doGbSeconds: 0,
  };
  // Bytes per ticket with its messages, from the last million-ticket run when there is one.
  const ticketsRunFile = path.join(root, "bench", "results-tickets.json");
  const ticketsRun = fs.existsSync(ticketsRunFile)
    ? JSON.parse(fs.readFileSync(ticketsRunFile, "utf8"))
    : null;
  const bytesPerTicket = ticketsRun?.bytes?.perTicket ?? results.scale.ticketBytesPerTicket;
  const storage = { d1Gb: (100_000 * bytesPerTicket) / 1e9, r2Gb: 0 };
  const desk = costOf({ tickets: 100_000, perTicket, fixed, storage });
  const gateway = discordGatewayMonth();
  const withGateway = costOf({
    tickets: 100_000,
    perTicket,
    fixed: { ...fixed, doRequests: gateway.doRequests, doGbSeconds: gateway.doGbSeconds },
    storage,
  });
  return {
    prices: PRICES,
    assumptions: {
      exchange: results.exchange.what,
      providerLatencySecondsPerOutboundCall: PROVIDER_LATENCY_S,
      queueConsumerRunsCountedAsRequests: true,
      workerCpu:
        "workerd CPU per ticket minus /healthz's per HTTP request: it includes the local D1 simulator and the timer " +
        "objects, which Cloudflare bills as D1 rows and Durable Object duration instead, so it overstates Workers CPU",
      d1StorageAfterOneMonth: `${100_000} tickets × ${bytesPerTicket} bytes`,
      cron: `${cronRuns} cron runs a month (every minute and hourly), each as measured with nothing behind`,
      discordGateway: gateway.assumptions,
    },
    perTicket,
    fixed,
    month100k: desk,
    month100kWithDiscordGateway: withGateway,
  };
}

/** 3. Escalation precision: many tickets whose ladders all fall due within seconds, on a desk of its own. */
async function escalationPrecision(base, run, senders = CONCURRENCY) {
  const auth = { authorization: `Bearer ${TOKEN}` };
  const post = (body) => ({
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  log(`escalation precision over ${ESCALATION_TICKETS} tickets opened by ${senders} senders…`);
  const escalationRun = `${run}-esc${senders}`;
  const opened = await load(
    ESCALATION_TICKETS,
    (i) => ({
      url: `${base}/v1/messages`,
      init: post({
        externalId: `${escalationRun}-${i}`,
        from: { name: "E" },
        subject: escalationRun,
        text: "please answer",
      }),
    }),
    senders,
  );
  const windowSeconds = (24 * 3600) / SLA_TIME_SCALE;
  // Everything is due within a few seconds; give the ladder's 200 % step time to fire too.
  const deadline = Date.now() + windowSeconds * 2 * 1000 + 20_000;
  let escalations = [];
  const keys = Array.from({ length: ESCALATION_TICKETS }, (_, i) => i);
  const ticketOf = new Map();
  // Read the tickets only once the last ladder step (200 % of the window after the last ticket
  // opened) is due: reading 2,000 tickets while the alarms fire would compete with what it measures.
  await sleep(windowSeconds * 2 * 1000);
  while (Date.now() < deadline) {
    await sleep(1000);
    escalations = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < keys.length) {
          const i = keys[next++];
          let key = ticketOf.get(i);
          if (key === undefined) {
            const r = await fetch(
              `${base}/v1/messages`,
              post({
                externalId: `${escalationRun}-${i}`,
                from: { name: "E" },
                subject: escalationRun,
                text: "please answer",
              }),
            );
            key = (await r.json()).ticket;
            ticketOf.set(i, key);
          }
          const t = await (await fetch(`${base}/v1/tickets/${key}`, { headers: auth })).json();
          for (const e of t.escalations ?? []) {
            if (["warning", "breach", "lead"].includes(e.kind)) {
              escalations.push({
                t: key,
                kind: e.kind,
                d: e.kind,
                late: Date.parse(e.at) - Date.parse(e.dueAt),
              });
            }
          }
        }
      }),
    );
    const breaches = new Set(escalations.filter((e) => e.kind === "breach").map((e) => e.t));
    const leads = new Set(escalations.filter((e) => e.kind === "lead").map((e) => e.t));
    if (breaches.size >= ESCALATION_TICKETS && leads.size >= ESCALATION_TICKETS) break;
  }
  const byKey = new Map();
  for (const e of escalations) byKey.set(`${e.t}:${e.d}`, (byKey.get(`${e.t}:${e.d}`) ?? 0) + 1);
  const steps = ["warning", "breach", "lead"];
  const expectedSteps = ESCALATION_TICKETS * steps.length;
  const lateness = escalations.map((e) => e.late);
  return {
    tickets: ESCALATION_TICKETS,
    senders,
    openedPerSecond: opened.rps,
    openFailures: opened.failures,
    windowSeconds,
    expected: expectedSteps,
    recorded: escalations.length,
    missed: expectedSteps - byKey.size,
    duplicates: [...byKey.values()].filter((n) => n > 1).length,
    latenessMs: {
      p50: round(percentile(lateness, 0.5)),
      p99: round(percentile(lateness, 0.99)),
      max: lateness.length ? Math.max(...lateness) : null,
    },
  };
}

function bigMessage(messageId, attachmentBytes) {
  const payload = crypto.randomBytes(attachmentBytes).toString("base64").replace(/.{76}/g, "$&\r\n");
  return Buffer.from(
    [
      "From: Big <big@bench.example>",
      "To: support@example.com",
      "Subject: Heap dump",
      `Message-ID: <${messageId}>`,
      "MIME-Version: 1.0",
      'Content-Type: multipart/mixed; boundary="b"',
      "",
      "--b",
      "Content-Type: text/plain",
      "",
      "Dump attached.",
      "--b",
      'Content-Type: application/octet-stream; name="heap.bin"',
      "Content-Transfer-Encoding: base64",
      "",
      payload,
      "--b--",
      "",
    ].join("\r\n"),
  );
}

async function queueAtScale(base, auth) {
  const timed = async (url, n = 20) => {
    const times = [];
    let rowsRead = 0;
    let status = 0;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      const r = await fetch(url, { headers: auth });
      await r.arrayBuffer();
      times.push(performance.now() - t);
      rowsRead = Number(r.headers.get("x-d1-rows-read"));
      status = r.status;
    }
    return { status, p50: round(percentile(times, 0.5)), p99: round(percentile(times, 0.99)), rowsRead };
  };
  const first = await fetch(`${base}/v1/tickets?limit=25`, { headers: auth });
  const { nextCursor } = await first.json();
  return {
    tickets: SCALE_TICKETS,
    list: await timed(`${base}/v1/tickets?limit=25`),
    listNextPage: await timed(`${base}/v1/tickets?limit=25&cursor=${nextCursor}`),
    filterTeam: await timed(`${base}/v1/tickets?team=platform&limit=25`),
    filterCritical: await timed(`${base}/v1/tickets?priority=critical&limit=25`),
    filterResolved: await timed(`${base}/v1/tickets?status=resolved&channel=github&limit=25`),
    metrics30d: await timed(`${base}/v1/metrics`, 5),
  };
}

function targets(r) {
  const t = [];
  const add = (name, figure, met) => t.push({ name, figure, met });
  const ratio = (channel, min) =>
    add(
      `${channel} intake, ${CONCURRENCY} senders ≥ ${min} of /healthz`,
      r.intake[channel].ratioToHealthz,
      r.intake[channel].ratioToHealthz >= min,
    );
  ratio("api", 0.4);
  ratio("discord", 0.4);
  ratio("email", 0.25);
  ratio("slack", 0.8);
  ratio("github", 0.8);
  add("missed escalations = 0", r.escalation.missed, r.escalation.missed === 0);
  add("duplicate escalations = 0", r.escalation.duplicates, r.escalation.duplicates === 0);
  add(
    `escalation lateness p99 ≤ 150 ms (${r.escalation.tickets} timers)`,
    `${r.escalation.latenessMs.p99} ms`,
    (r.escalation.latenessMs.p99 ?? Infinity) <= 150,
  );
  for (const f of r.escalationFloor.filter((x) => x.senders > 0)) {
    add(
      `  the runtime's own floor: ${f.alarms} alarms doing one D1 read each, ${f.senders} senders doing a bare new ticket`,
      `p99 ${f.latenessMs.p99} ms`,
      (f.latenessMs.p99 ?? Infinity) <= 150 ? "within the target" : "floor above the target",
    );
  }
  const cpu = r.cpu.minusHealthz.newTicket;
  add(
    "workerd CPU per new ticket − /healthz's ≤ 3 ms (one sender; least of the rounds, median beside it)",
    `${cpu.minMs} ms (median ${cpu.medianMs} ms)`,
    cpu.minMs <= 3,
  );
  const p = r.cpu.newTicketPrimitives;
  add(
    `  the runtime's own floor under it: ${p.floorIs}`,
    `${p.floorMs} ms`,
    p.floorMs <= 3 ? "reachable" : "floor above the target",
  );
  add(
    `  the desk's own CPU per new ticket (minus the ${p.d1RoundTrips} D1 round trips and 2 object calls it makes)`,
    `${p.deskOwnMs} ms`,
    p.deskOwnMs <= 3,
  );
  add("Slack intake p99 < 100 ms", `${r.intake.slack.p99} ms`, r.intake.slack.p99 < 100);
  add("GitHub intake p99 < 100 ms", `${r.intake.github.p99} ms`, r.intake.github.p99 < 100);
  add("new-ticket intake ≤ 25 rows read", r.d1.newTicket.rowsRead, r.d1.newTicket.rowsRead <= 25);
  add("queue page ≤ limit + 1 rows read (limit 25)", r.d1.queuePage.rowsRead, r.d1.queuePage.rowsRead <= 26);
  add(
    `queue page at ${r.scale.tickets} tickets ≤ limit + 1 rows read`,
    r.scale.list.rowsRead,
    r.scale.list.rowsRead <= 26,
  );
  add(
    `metrics over ${r.scale.tickets} tickets < 500 ms (p50)`,
    `${r.scale.metrics30d.p50} ms`,
    r.scale.metrics30d.p50 < 500,
  );
  add(
    `every metered exchange complete (${r.exchange.exchanges})`,
    r.exchange.complete,
    r.exchange.complete === r.exchange.exchanges,
  );
  return t;
}

function printTable(r) {
  const lines = [];
  lines.push(`Runtime: ${r.runtime}; local state in ${r.stateOn}.`, "");
  lines.push(
    `| channel (${CONCURRENCY} senders) | req/s | p50 ms | p99 ms | req/s vs /healthz | failures | one sender p50 / p99 ms |`,
    "| --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const [name, x] of Object.entries(r.intake)) {
    const serial = x.serialP50 === undefined ? "—" : `${x.serialP50} / ${x.serialP99}`;
    lines.push(
      `| ${name} | ${x.rps} | ${x.p50} | ${x.p99} | ${x.ratioToHealthz ?? 1} | ${x.failures} | ${serial} |`,
    );
  }
  const drained = (d) =>
    `| ${d.seconds} s | ${Object.entries(d.expected)
      .map(([c, n]) => `${c} ${d.tickets[c]} / ${n}`)
      .join(", ")} |`;
  lines.push(
    "",
    "| intake queue: tickets opened by the consumer | drained after the last answer | tickets / expected |",
    "| --- | --- | --- |",
    `| after the ${CONCURRENCY}-sender slack run ${drained(r.queueDrainSlack)}`,
    `| after the ${CONCURRENCY}-sender github run ${drained(r.queueDrainGithub)}`,
    `| after the one-sender runs ${drained(r.queueDrainSerial)}`,
  );
  lines.push("", "| D1 cost | rows read | rows written |", "| --- | --- | --- |");
  for (const [name, x] of Object.entries(r.d1)) lines.push(`| ${name} | ${x.rowsRead} | ${x.rowsWritten} |`);
  const e = r.escalation;
  const e2 = r.escalationTwoSenders;
  lines.push(
    "",
    `| escalation (${e.tickets} tickets, ${e.windowSeconds} s window) | opened by ${e.senders} senders | by ${e2.senders} senders |`,
    "| --- | --- | --- |",
    `| tickets opened per second | ${e.openedPerSecond} | ${e2.openedPerSecond} |`,
    `| expected steps | ${e.expected} | ${e2.expected} |`,
    `| missed | ${e.missed} | ${e2.missed} |`,
    `| duplicates | ${e.duplicates} | ${e2.duplicates} |`,
    `| lateness p50 / p99 / max | ${e.latenessMs.p50} / ${e.latenessMs.p99} / ${e.latenessMs.max} ms | ${e2.latenessMs.p50} / ${e2.latenessMs.p99} / ${e2.latenessMs.max} ms |`,
  );
  lines.push(
    "",
    `| the runtime's own alarms (${r.escalationFloor[0]?.alarms} in ${r.escalationFloor[0]?.windowMs / 1000} s, one D1 read each) | bare intakes meanwhile | alarms fired | lateness p50 / p99 / max ms |`,
    "| --- | --- | --- | --- |",
    ...r.escalationFloor.map(
      (f) =>
        `| ${f.senders} senders | ${f.intakesDuringWindow} | ${f.fired} | ${f.latenessMs.p50} / ${f.latenessMs.p99} / ${f.latenessMs.max} |`,
    ),
  );
  const rc = r.cpu;
  lines.push(
    "",
    "| the runtime's own CPU per primitive (bench/calibrate.mjs; least / median of rounds) | ms |",
    "| --- | --- |",
    `| a bare request (answer "ok") | ${rc.runtime.noneMs} |`,
    ...Object.entries(rc.runtime.ops).map(([k, v]) => `| + ${k} | ${v.minMs} / ${v.medianMs} |`),
    `| a new ticket's floor: ${rc.newTicketPrimitives.floorIs} | ${rc.newTicketPrimitives.floorMs} |`,
    `| what the desk's new ticket calls (${rc.newTicketPrimitives.d1RoundTrips} D1 round trips, a new object, an object call) | ${rc.newTicketPrimitives.runtimeMs} |`,
    `| the desk's own CPU per new ticket (the rest) | ${rc.newTicketPrimitives.deskOwnMs} |`,
  );
  const p = r.emailParse;
  lines.push(
    "",
    "| email parse | value |",
    "| --- | --- |",
    `| corpus (${p.corpusFiles} files) p50 / p99 / max | ${p.corpusMs.p50} / ${p.corpusMs.p99} / ${p.corpusMs.max} ms |`,
    `| corpus peak RSS | ${p.corpusPeakRssMiB} MiB |`,
    `| ${round(p.big.bytes / 2 ** 20)} MiB message: parse time / memory it adds | ${p.big.parseMs} ms / ${p.big.parseMemoryMiB} MiB |`,
    `| ${round(p.endToEnd.bytes / 2 ** 20, 2)} MiB message through the local email endpoint, end to end | ${p.endToEnd.ms} ms (HTTP ${p.endToEnd.status}) |`,
  );
  const s = r.scale;
  lines.push(
    "",
    `| queue at ${s.tickets} tickets | p50 ms | p99 ms | rows read |`,
    "| --- | --- | --- | --- |",
  );
  for (const [name, x] of Object.entries(s))
    if (typeof x === "object") lines.push(`| ${name} | ${x.p50} | ${x.p99} | ${x.rowsRead} |`);
  const c = r.cpu;
  lines.push(
    "",
    `| workerd CPU per request, one sender (${c.rounds} rounds × ${c.perRound}) | least ms | median ms | − /healthz, least / median ms |`,
    "| --- | --- | --- | --- |",
  );
  for (const [name, x] of Object.entries(c.perRequest)) {
    const d = c.minusHealthz[name];
    lines.push(
      `| ${name} | ${x.minMs} | ${x.medianMs} | ${d === undefined ? "—" : `${d.minMs} / ${d.medianMs}`} |`,
    );
  }
  const x = r.exchange.perTicket;
  const cost = r.cost;
  lines.push(
    "",
    `| one ticket's exchange (${r.exchange.what}; ${r.exchange.complete}/${r.exchange.exchanges} complete) | per ticket |`,
    "| --- | --- |",
    `| HTTP requests / queued messages | ${x.httpRequests} / ${x.queueMessages} |`,
    `| workerd CPU (minus /healthz per HTTP request) | ${x.workerdCpuMs} ms |`,
    `| D1 rows read / written | ${x.d1RowsRead} / ${x.d1RowsWritten} |`,
    `| TicketTimer calls and alarms / their wall time | ${x.doRequests} / ${x.doWallMs} ms |`,
    `| outbound calls | ${x.outboundCalls} |`,
    "",
    `| 100,000 tickets a month (Workers Paid, prices read ${cost.prices.readOn}) | desk | with the Discord Gateway object |`,
    "| --- | --- | --- |",
  );
  for (const k of Object.keys(cost.month100k.chargesUsd)) {
    lines.push(
      `| ${k} | $${cost.month100k.chargesUsd[k]} | $${cost.month100kWithDiscordGateway.chargesUsd[k]} |`,
    );
  }
  lines.push(
    `| total with the $5 plan | $${cost.month100k.totalUsd} | $${cost.month100kWithDiscordGateway.totalUsd} |`,
    `| usage priced without included amounts | $${cost.month100k.withoutIncludedUsd} | $${cost.month100kWithDiscordGateway.withoutIncludedUsd} |`,
  );
  lines.push("", "| target | figure | met |", "| --- | --- | --- |");
  for (const t of r.targets)
    lines.push(
      `| ${t.name} | ${t.figure} | ${typeof t.met === "string" ? t.met : t.met ? "met" : "NOT MET"} |`,
    );
  console.log(lines.join("\n"));
}

/** D1 cost of the three intake shapes on a desk (rows as D1 reports them). */
async function intakeRows(base, auth, run) {
  const rows = async (body) => {
    await sleep(150);
    const r = await fetch(`${base}/v1/messages`, {
      method: "POST",
      headers: { ...auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    await r.arrayBuffer();
    return {
      status: r.status,
      rowsRead: Number(r.headers.get("x-d1-rows-read")),
      rowsWritten: Number(r.headers.get("x-d1-rows-written")),
    };
  };
  const thread = `${run}-rows`;
  return {
    newTicket: await rows({ externalId: `${run}-r1`, threadId: thread, from: { name: "B" }, text: "first" }),
    threadedReply: await rows({
      externalId: `${run}-r2`,
      threadId: thread,
      from: { name: "B" },
      text: "second",
    }),
    duplicate: await rows({ externalId: `${run}-r2`, threadId: thread, from: { name: "B" }, text: "second" }),
  };
}

/**
 * `--tickets N`: N tickets (created over N / 100,000 months, as a desk at 100,000 a month would
 * hold them) with about 2.9 messages each, their idempotency records and thread keys, in a fresh
 * local D1. Measures D1's bytes per ticket, every queue filter, the 30-day metrics, reading one
 * ticket, and intake's rows against an empty desk. Writes bench/results-tickets.json.
 */
async function ticketsRun(n) {
  const results = {
    machine: { cpus: os.cpus().length, node: process.version },
    startedAt: new Date().toISOString(),
  };
  const fake = await startFakeServices();
  const fakeBase = `http://127.0.0.1:${fake.address().port}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const run = crypto.randomUUID().slice(0, 8);
  const persist = fs.mkdtempSync(path.join(stateRoot, "switchboard-bench-tickets-"));
  const spanDays = Math.max(25, Math.round((n / 100_000) * 30));
  migrate(persist);
  log(`seeding ${n} tickets with their messages over ${spanDays} days…`);
  const seeded = seedTickets(persist, n, { spanDays, messages: true, log });
  const perTicket = (seeded.bytes.total - seeded.bytes.empty) / n;
  results.seed = seeded;
  results.bytes = {
    perTicket: Math.round(perTicket),
    ticketRowWithIndexes: Math.round((seeded.bytes.afterTickets - seeded.bytes.empty) / n),
    messagesKeysPerTicket: Math.round((seeded.bytes.total - seeded.bytes.afterTickets) / n),
    messagesPerTicket: 2.9,
    ticketsPer10GB: Math.floor(10e9 / perTicket),
  };
  const desk = await startDeskOn(persist, fakeBase, 1);
  const { base } = desk;
  try {
    await putConfig(base);
    const timed = async (url, count = 20) => {
      const times = [];
      let rowsRead = 0;
      let status = 0;
      let body;
      for (let i = 0; i < count; i++) {
        const t = performance.now();
        const r = await fetch(url, { headers: auth });
        body = await r.json();
        times.push(performance.now() - t);
        rowsRead = Math.max(rowsRead, Number(r.headers.get("x-d1-rows-read")));
        status = r.status;
      }
      return {
        status,
        p50: round(percentile(times, 0.5)),
        p99: round(percentile(times, 0.99)),
        rowsRead,
        body,
      };
    };
    log("queue filters…");
    const first = await timed(`${base}/v1/tickets?limit=25`, 1);
    const filters = {
      default: "limit=25",
      nextPage: `limit=25&cursor=${first.body.nextCursor}`,
      open: "status=open&limit=25",
      pending: "status=pending&limit=25",
      resolved: "status=resolved&limit=25",
      all: "status=all&limit=25",
      team: "team=platform&limit=25",
      channel: "channel=github&limit=25",
      priority: "priority=critical&limit=25",
      breached: "breached=true&limit=25",
      assignee: "assignee=alice&limit=25",
      resolvedGithub: "status=resolved&channel=github&limit=25",
      subjectWord: "q=late&limit=25",
    };
    results.queue = {};
    for (const [name, query] of Object.entries(filters)) {
      const { body, ...figures } = await timed(`${base}/v1/tickets?${query}`);
      results.queue[name] = { query, ...figures, tickets: body.tickets?.length ?? null };
    }
    log("metrics over 30 days…");
    const { body: metrics, ...metricsFigures } = await timed(`${base}/v1/metrics`, 5);
    results.metrics30d = { ...metricsFigures, ticketsInWindow: metrics.tickets ?? null };
    log("one ticket…");
    const keys = [1, Math.floor(n / 2), n - 1];
    results.getTicket = {};
    for (const k of keys) {
      const { body, ...figures } = await timed(`${base}/v1/tickets/SUP-${k}`);
      results.getTicket[`SUP-${k}`] = { ...figures, messages: body.messages?.length ?? null };
    }
    log("intake rows on the full desk…");
    results.intakeRows = await intakeRows(base, auth, run);
  } finally {
    await desk.stop();
    await sleep(500);
    fs.rmSync(persist, { recursive: true, force: true });
  }
  // The same three intakes on an empty desk: the rows a message costs must not grow with the desk.
  const emptyPersist = fs.mkdtempSync(path.join(stateRoot, "switchboard-bench-empty-"));
  migrate(emptyPersist);
  const empty = await startDeskOn(emptyPersist, fakeBase, 1);
  try {
    await putConfig(empty.base);
    results.intakeRowsEmptyDesk = await intakeRows(empty.base, auth, run);
  } finally {
    await empty.stop();
    fake.close();
    await sleep(500);
    fs.rmSync(emptyPersist, { recursive: true, force: true });
  }
  const t = [];
  const add = (name, figure, met) => t.push({ name, figure, met });
  for (const [name, q] of Object.entries(results.queue)) {
    add(
      `queue ${name} (${q.query}): ≤ 26 rows read, p99 < 20 ms`,
      `${q.rowsRead} rows, p99 ${q.p99} ms`,
      q.rowsRead <= 26 && q.p99 < 20,
    );
  }
  add("metrics over 30 days < 500 ms (p50)", `${results.metrics30d.p50} ms`, results.metrics30d.p50 < 500);
  for (const [key, g] of Object.entries(results.getTicket)) {
    add(`GET /v1/tickets/${key} < 10 ms (p50; p99 beside it)`, `${g.p50} ms (p99 ${g.p99})`, g.p50 < 10);
  }
  for (const kind of ["newTicket", "threadedReply", "duplicate"]) {
    const full = results.intakeRows[kind].rowsRead;
    const emptyRows = results.intakeRowsEmptyDesk[kind].rowsRead;
    add(
      `intake rows read unchanged: ${kind}`,
      `${full} at ${n} tickets, ${emptyRows} on an empty desk`,
      full === emptyRows,
    );
  }
  results.targets = t;
  results.finishedAt = new Date().toISOString();
  fs.writeFileSync(path.join(root, "bench", "results-tickets.json"), `${JSON.stringify(results, null, 2)}\n`);
  const lines = [
    `${n} tickets (${results.seed.seconds} s to seed): ${results.bytes.perTicket} bytes of D1 per ticket ` +
      `(ticket row and indexes ${results.bytes.ticketRowWithIndexes}, messages and keys ${results.bytes.messagesKeysPerTicket}); ` +
      `${results.bytes.ticketsPer10GB} tickets in 10 GB.`,
    "",
    "| queue filter | p50 ms | p99 ms | rows read |",
    "| --- | --- | --- | --- |",
    ...Object.entries(results.queue).map(
      ([k, q]) => `| ${k} (\`${q.query}\`) | ${q.p50} | ${q.p99} | ${q.rowsRead} |`,
    ),
    `| metrics, 30 days (${results.metrics30d.ticketsInWindow ?? "?"} tickets) | ${results.metrics30d.p50} | ${results.metrics30d.p99} | ${results.metrics30d.rowsRead} |`,
    ...Object.entries(results.getTicket).map(
      ([k, g]) => `| GET /v1/tickets/${k} (${g.messages} messages) | ${g.p50} | ${g.p99} | ${g.rowsRead} |`,
    ),
    "",
    "| intake | rows read / written at N | on an empty desk |",
    "| --- | --- | --- |",
    ...["newTicket", "threadedReply", "duplicate"].map(
      (k) =>
        `| ${k} | ${results.intakeRows[k].rowsRead} / ${results.intakeRows[k].rowsWritten} | ${results.intakeRowsEmptyDesk[k].rowsRead} / ${results.intakeRowsEmptyDesk[k].rowsWritten} |`,
    ),
    "",
    "| target | figure | met |",
    "| --- | --- | --- |",
    ...t.map((x) => `| ${x.name} | ${x.figure} | ${x.met ? "met" : "NOT MET"} |`),
  ];
  console.log(lines.join("\n"));
}

(MILLION === null ? main() : ticketsRun(MILLION)).catch((error) => {
  console.error(error);
  process.exit(1);
});
