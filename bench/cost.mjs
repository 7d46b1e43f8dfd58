// What the desk costs to run on Cloudflare's Workers Paid plan, from the meters the benchmark
// measures per ticket. Prices as published on developers.cloudflare.com, read on 2026-12-01
// (each with its page): change them here when Cloudflare does.
export const PRICES = {
  readOn: "2026-12-01",
  workers: {
    url: "https://developers.cloudflare.com/workers/platform/pricing/",
    subscriptionUsd: 5,
    requestsIncluded: 10_000_000,
    usdPerMillionRequests: 0.3,
    cpuMsIncluded: 30_000_000,
    usdPerMillionCpuMs: 0.02,
  },
  d1: {
    url: "https://developers.cloudflare.com/d1/platform/pricing/",
    rowsReadIncluded: 25_000_000_000,
    usdPerMillionRowsRead: 0.001,
    rowsWrittenIncluded: 50_000_000,
    usdPerMillionRowsWritten: 1.0,
    storageGbIncluded: 5,
    usdPerGbMonth: 0.75,
  },
  durableObjects: {
    url: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
    requestsIncluded: 1_000_000,
    usdPerMillionRequests: 0.15,
    gbSecondsIncluded: 400_000,
    usdPerMillionGbSeconds: 12.5,
    /** Duration is billed at the object's 128 MB, as the page's own examples compute it (128 MB / 1 GB). */
    gbPerObject: 0.128,
    /** Incoming WebSocket messages are billed as requests at 20:1. */
    websocketMessagesPerRequest: 20,
  },
  r2: {
    url: "https://developers.cloudflare.com/r2/pricing/",
    classAIncluded: 1_000_000,
    usdPerMillionClassA: 4.5,
    classBIncluded: 10_000_000,
    usdPerMillionClassB: 0.36,
    storageGbIncluded: 10,
    usdPerGbMonth: 0.015,
  },
  queues: {
    url: "https://developers.cloudflare.com/queues/pricing/",
    operationsIncluded: 1_000_000,
    usdPerMillionOperations: 0.4,
  },
};

const SECONDS_PER_MONTH = 30 * 86_400;
const over = (used, included) => Math.max(0, used - included);
const usd = (v) => Math.round(v * 100) / 100;

/**
 * The month's bill for `tickets` tickets, each costing `perTicket` (measured meters), plus what
 * runs whatever the volume (`fixed`: the crons, the resident Discord Gateway object). Returns the
 * usage, each line's charge after the plan's included amounts, and the total with the $5 plan.
 */
export function costOf({ tickets, perTicket, fixed, storage }) {
  const p = PRICES;
  const use = {
    workerRequests: tickets * perTicket.workerRequests + fixed.workerRequests,
    workerCpuMs: tickets * perTicket.workerCpuMs + fixed.workerCpuMs,
    d1RowsRead: tickets * perTicket.d1RowsRead + fixed.d1RowsRead,
    d1RowsWritten: tickets * perTicket.d1RowsWritten + fixed.d1RowsWritten,
    d1StorageGb: storage.d1Gb,
    doRequests: tickets * perTicket.doRequests + fixed.doRequests,
    doGbSeconds: tickets * perTicket.doGbSeconds + fixed.doGbSeconds,
    r2ClassA: tickets * perTicket.r2ClassA,
    r2ClassB: tickets * perTicket.r2ClassB,
    r2StorageGb: storage.r2Gb,
    queueOperations: tickets * perTicket.queueOperations,
  };
  const lines = {
    workersRequests:
      (over(use.workerRequests, p.workers.requestsIncluded) / 1e6) * p.workers.usdPerMillionRequests,
    workersCpu: (over(use.workerCpuMs, p.workers.cpuMsIncluded) / 1e6) * p.workers.usdPerMillionCpuMs,
    d1RowsRead: (over(use.d1RowsRead, p.d1.rowsReadIncluded) / 1e6) * p.d1.usdPerMillionRowsRead,
    d1RowsWritten: (over(use.d1RowsWritten, p.d1.rowsWrittenIncluded) / 1e6) * p.d1.usdPerMillionRowsWritten,
    d1Storage: over(use.d1StorageGb, p.d1.storageGbIncluded) * p.d1.usdPerGbMonth,
    doRequests:
      (over(use.doRequests, p.durableObjects.requestsIncluded) / 1e6) *
      p.durableObjects.usdPerMillionRequests,
    doDuration:
      (over(use.doGbSeconds, p.durableObjects.gbSecondsIncluded) / 1e6) *
      p.durableObjects.usdPerMillionGbSeconds,
    r2ClassA: (over(use.r2ClassA, p.r2.classAIncluded) / 1e6) * p.r2.usdPerMillionClassA,
    r2ClassB: (over(use.r2ClassB, p.r2.classBIncluded) / 1e6) * p.r2.usdPerMillionClassB,
    r2Storage: over(use.r2StorageGb, p.r2.storageGbIncluded) * p.r2.usdPerGbMonth,
    queues: (over(use.queueOperations, p.queues.operationsIncluded) / 1e6) * p.queues.usdPerMillionOperations,
  };
  const usage = Object.values(lines).reduce((a, b) => a + b, 0);
  // The same usage priced from the first unit (no included amounts): what the desk itself adds to a
  // Workers Paid account that already uses its allowances for something else.
  const marginal =
    (use.workerRequests / 1e6) * p.workers.usdPerMillionRequests +
    (use.workerCpuMs / 1e6) * p.workers.usdPerMillionCpuMs +
    (use.d1RowsRead / 1e6) * p.d1.usdPerMillionRowsRead +
    (use.d1RowsWritten / 1e6) * p.d1.usdPerMillionRowsWritten +
    use.d1StorageGb * p.d1.usdPerGbMonth +
    (use.doRequests / 1e6) * p.durableObjects.usdPerMillionRequests +
    (use.doGbSeconds / 1e6) * p.durableObjects.usdPerMillionGbSeconds +
    (use.r2ClassA / 1e6) * p.r2.usdPerMillionClassA +
    (use.r2ClassB / 1e6) * p.r2.usdPerMillionClassB +
    use.r2StorageGb * p.r2.usdPerGbMonth +
    (use.queueOperations / 1e6) * p.queues.usdPerMillionOperations;
  return {
    tickets,
    usage: Object.fromEntries(Object.entries(use).map(([k, v]) => [k, Math.round(v * 1000) / 1000])),
    chargesUsd: Object.fromEntries(Object.entries(lines).map(([k, v]) => [k, usd(v)])),
    totalUsd: usd(p.workers.subscriptionUsd + usage),
    withoutIncludedUsd: usd(marginal),
  };
}

/**
 * The resident Discord Gateway object (SPEC §12): connected 24/7 by an outbound WebSocket, so it
 * never hibernates and its duration is billed all month at 128 MB; its watchdog alarm runs every
 * minute; incoming Gateway messages (heartbeat ACKs every ~41.25 s plus dispatches) are billed at 20:1.
 */
export function discordGatewayMonth({ dispatchesPerMonth = 100_000 } = {}) {
  const heartbeatAcks = SECONDS_PER_MONTH / 41.25;
  const alarms = SECONDS_PER_MONTH / 60;
  return {
    assumptions:
      "one object connected all month (2,592,000 s at 128 MB); a heartbeat every 41.25 s (Discord's usual HELLO interval); " +
      `a watchdog alarm a minute; ${dispatchesPerMonth} Gateway dispatches a month; incoming messages billed 20:1`,
    doGbSeconds: SECONDS_PER_MONTH * PRICES.durableObjects.gbPerObject,
    doRequests:
      alarms + (heartbeatAcks + dispatchesPerMonth) / PRICES.durableObjects.websocketMessagesPerRequest,
  };
}
