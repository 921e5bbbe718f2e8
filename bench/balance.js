#!/usr/bin/env node
// bench/balance.js: HTTP throughput of the connection-distribution designs, side by side in one run.
// warden (the primary hands each accepted connection to a healthy worker), node:cluster round-robin,
// node:cluster SCHED_NONE (the kernel picks), one plain node process and PM2 cluster mode, each
// serving bench/apps/hello.js, under autocannon with keep-alive and with a new connection per request.
// Runs are interleaved (contender order rotates each repeat) and the median is reported.

import autocannon from 'autocannon';
import { pathToFileURL } from 'node:url';
import { pm2Bin, readStats, startCluster, startPlain, startPm2, startWarden } from './lib/contenders.js';
import { envList, envNumber, machine, machineLine, median, printJson, round, table } from './lib/report.js';
import { killAllTracked, sleep } from './lib/processes.js';

const ALL_CONTENDERS = ['warden', 'cluster-rr', 'cluster-none', 'plain', 'pm2'];
const ALL_MODES = ['keepalive', 'newconn'];
const MODE_LABELS = { keepalive: 'keep-alive', newconn: 'new conn/request' };

export function balanceParams() {
  return {
    durationS: envNumber('DURATION', 2, { min: 1 }),
    connections: envNumber('CONNECTIONS', 50, { min: 1, integer: true }),
    workers: envNumber('WORKERS', 2, { min: 1, integer: true }),
    repeats: envNumber('REPEATS', 3, { min: 1, integer: true }),
    warmupS: envNumber('WARMUP', 1, { min: 0 }),
    contenders: envList('CONTENDERS', ALL_CONTENDERS, [...ALL_CONTENDERS, 'warden-nocapture']),
    modes: envList('MODES', ALL_MODES, ALL_MODES),
  };
}

/**
 * autocannon's way to get a new connection per request. With `Connection: close` the server closes
 * after each response, and autocannon reconnects on 'end', but it has already written the next request
 * into the closing socket; that request stays in its queue and every later latency is measured from
 * it (p99 grows to ~1 s). So: skip that write and let the reconnect send the request. (reconnectRate: 1
 * is no alternative: autocannon 8 then counts no responses at all.) The server-side connection count
 * in the table shows whether each request really had its own connection (conn/req = 1.00).
 */
export function newConnectionPerRequest(client) {
  let isServerClosing = false;
  client.on('headers', (info) => {
    const raw = info.headers ?? [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      if (String(raw[i]).toLowerCase() === 'connection' && String(raw[i + 1]).toLowerCase() === 'close') isServerClosing = true;
    }
  });
  const doRequest = client._doRequest;
  client._doRequest = function doRequestOnOpenConnection(...args) {
    if (isServerClosing) {
      isServerClosing = false;
      return undefined;
    }
    return doRequest.apply(this, args);
  };
}

function runAutocannon(url, mode, { durationS, connections }) {
  const options = { url, connections, duration: durationS, timeout: 5 };
  if (mode === 'newconn') Object.assign(options, { headers: { connection: 'close' }, setupClient: newConnectionPerRequest });
  return autocannon(options);
}

async function measure(contender, mode, params) {
  const before = readStats(contender.statsDir);
  const result = await runAutocannon(contender.url, mode, params);
  await sleep(300); // app processes write their counters every 100 ms
  const after = readStats(contender.statsDir);
  const perWorker = new Map();
  for (const [pid, entry] of after) {
    const start = before.get(pid) ?? { requests: 0, connections: 0 };
    perWorker.set(pid, { requests: entry.requests - start.requests, connections: entry.connections - start.connections });
  }
  const served = [...perWorker.values()].reduce((sum, entry) => sum + entry.requests, 0);
  const connections = [...perWorker.values()].reduce((sum, entry) => sum + entry.connections, 0);
  return {
    contender: contender.key,
    mode,
    reqPerSec: result.requests.total / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    served,
    connPerReq: served > 0 ? connections / served : undefined,
    perWorker: Object.fromEntries(perWorker),
  };
}

const STARTERS = {
  warden: (params) => startWarden({ workers: params.workers }),
  // The cost of --capture-stacks (on by default) while workers are healthy: run with
  // CONTENDERS=warden,warden-nocapture,cluster-rr.
  'warden-nocapture': async (params) => ({
    ...(await startWarden({ workers: params.workers, flags: ['--capture-stacks', 'off'] })),
    key: 'warden-nocapture',
    label: 'warden --capture-stacks off',
  }),
  'cluster-rr': (params) => startCluster({ workers: params.workers, sched: 'rr' }),
  'cluster-none': (params) => startCluster({ workers: params.workers, sched: 'none' }),
  plain: () => startPlain(),
  pm2: (params) => startPm2({ workers: params.workers }),
};

/** Shares of the served requests per worker, busiest first: "52/48". */
function shares(perWorkerRuns) {
  const totals = new Map();
  for (const run of perWorkerRuns) {
    for (const [pid, entry] of Object.entries(run)) totals.set(pid, (totals.get(pid) ?? 0) + entry.requests);
  }
  const sum = [...totals.values()].reduce((a, b) => a + b, 0);
  if (sum === 0) return { text: undefined, busiestPct: undefined };
  const percents = [...totals.values()].filter((value) => value > 0).map((value) => (100 * value) / sum).sort((a, b) => b - a);
  return { text: percents.map((value) => Math.round(value)).join('/'), busiestPct: round(percents[0], 1) };
}

export async function runBalance(log = (line) => process.stdout.write(`${line}\n`)) {
  const params = balanceParams();
  const info = machine();
  const wanted = params.contenders.filter((key) => key !== 'pm2' || pm2Bin() !== undefined);
  const skipped = params.contenders.filter((key) => !wanted.includes(key)).map((key) => `${key} (not installed)`);
  log(`== balance: ${params.workers} workers, ${params.connections} connections, ${params.durationS}s x ${params.repeats} repeats per mode`);
  log(`   ${machineLine(info)}${skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''}`);

  const contenders = [];
  const measurements = [];
  try {
    for (const key of wanted) {
      const started = await STARTERS[key](params);
      if (started !== undefined) contenders.push(started);
    }
    if (params.warmupS > 0) {
      for (const contender of contenders) await runAutocannon(contender.url, 'keepalive', { ...params, durationS: params.warmupS });
    }
    for (let repeat = 0; repeat < params.repeats; repeat++) {
      for (const mode of params.modes) {
        // Rotate the order each repeat so no contender always runs first (or right after the heaviest).
        const order = contenders.map((_, i) => contenders[(i + repeat) % contenders.length]);
        for (const contender of order) {
          const result = await measure(contender, mode, params);
          measurements.push({ repeat, ...result });
          log(`   repeat ${repeat + 1} ${MODE_LABELS[mode].padEnd(16)} ${contender.label.padEnd(24)} ${Math.round(result.reqPerSec)} req/s, p99 ${result.p99Ms} ms`);
        }
      }
    }
  } finally {
    const stops = await Promise.allSettled(contenders.map((contender) => contender.stop()));
    for (const [i, stop] of stops.entries()) {
      if (stop.status === 'rejected') log(`   could not stop ${contenders[i].label} cleanly (killed at exit): ${stop.reason.message}`);
    }
  }

  const rows = [];
  const summary = [];
  for (const mode of params.modes) {
    // Paired: each run is compared with the node:cluster RR run of the same repeat (seconds apart),
    // so a noisy neighbour that slows one whole repeat cancels out of the ratio.
    const baselineOf = (repeat) => measurements.find((m) => m.mode === mode && m.contender === 'cluster-rr' && m.repeat === repeat);
    for (const contender of contenders) {
      const runs = measurements.filter((m) => m.mode === mode && m.contender === contender.key);
      const reqPerSec = median(runs.map((m) => m.reqPerSec));
      const ratios = runs.map((m) => baselineOf(m.repeat)).map((base, i) => (base ? runs[i].reqPerSec / base.reqPerSec : undefined));
      const share = shares(runs.map((m) => m.perWorker));
      const entry = {
        mode, contender: contender.key, label: contender.label,
        reqPerSec: round(reqPerSec), vsClusterRr: round(median(ratios), 2), ratioRuns: ratios.map((ratio) => round(ratio, 2)),
        p99Ms: median(runs.map((m) => m.p99Ms)), errors: runs.reduce((sum, m) => sum + m.errors, 0),
        non2xx: runs.reduce((sum, m) => sum + m.non2xx, 0), connPerReq: round(median(runs.map((m) => m.connPerReq)), 3),
        workerShares: share.text, busiestWorkerPct: share.busiestPct, runs: runs.map((m) => round(m.reqPerSec)),
      };
      summary.push(entry);
      rows.push([MODE_LABELS[mode], entry.label, entry.reqPerSec, entry.vsClusterRr?.toFixed(2), entry.p99Ms, entry.errors + entry.non2xx,
        entry.connPerReq?.toFixed(2), entry.workerShares, entry.runs.join(' ')]);
    }
  }
  log('');
  log(table(['mode', 'contender', 'req/s', 'vs RR', 'p99 ms', 'errors', 'conn/req', 'share %', 'runs (req/s)'], rows));
  log('   req/s and p99: median of the repeats; vs RR: median of the per-repeat ratios to node:cluster RR;');
  log('   errors: sum over the repeats (connection errors + timeouts + non-2xx);');
  log('   conn/req: TCP connections the app saw per request (1.00 = new connection each request); share %: requests per worker');
  return { bench: 'balance', machine: info, params, results: summary, measurements };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  runBalance()
    .then((result) => {
      printJson('balance', result);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`bench/balance.js: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
      killAllTracked();
      process.exit(1);
    });
}
