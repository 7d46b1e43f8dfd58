#!/usr/bin/env node
// `node bench/cpu-quick.mjs [--var K=V ...] [--rounds N]`: workerd CPU per request (least and median
// of rounds, cpuPerRequest) for /healthz, a new api ticket and a threaded message on a fresh desk —
// the bench's "Workers CPU per new ticket" step on its own, for trying a change in a minute.
import crypto from "node:crypto";
import { bench, cpuPerRequest, round } from "./desk.mjs";

const vars = {};
process.argv.forEach((a, i) => {
  if (a === "--var") {
    const [k, ...v] = process.argv[i + 1].split("=");
    vars[k] = v.join("=");
  }
});
const ri = process.argv.indexOf("--rounds");
const rounds = ri === -1 ? 7 : Number(process.argv[ri + 1]);
const desk = await bench.startDesk({ vars });
try {
  await bench.putConfig(desk.base);
  const run = crypto.randomUUID().slice(0, 8);
  const post = (body) => ({
    url: `${desk.base}/v1/messages`,
    init: {
      method: "POST",
      headers: { ...desk.auth, "content-type": "application/json" },
      body: JSON.stringify(body),
    },
  });
  const kinds = {
    healthz: () => ({ url: `${desk.base}/healthz` }),
    newTicket: (i) => post({ externalId: `${run}-${i}`, from: { name: "Bench" }, text: "Webhooks are late" }),
    threaded: (i) =>
      post({
        externalId: `${run}-t${i}`,
        threadId: `${run}-thread`,
        from: { name: "Bench" },
        text: "Still late",
      }),
  };
  await cpuPerRequest(desk, kinds, { rounds: 1, perRound: 20 });
  const f = await cpuPerRequest(desk, kinds, { rounds, perRound: 30 });
  const out = {};
  for (const k of ["newTicket", "threaded"]) {
    out[k] = {
      minMinusHealthz: round(f[k].minMs - f.healthz.minMs, 2),
      medianMinusHealthz: round(f[k].medianMs - f.healthz.medianMs, 2),
    };
  }
  out.healthz = { min: f.healthz.minMs, median: f.healthz.medianMs };
  console.log(JSON.stringify(out));
} finally {
  await desk.stop();
}
