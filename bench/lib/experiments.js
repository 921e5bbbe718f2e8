// The measuring experiments of `npm run bench`: throughput and latency per app and load, fairness
// (served per worker), and the mixed-load tail latency. Each starts every contender on the app, runs
// rounds interleaved (the order rotates each round, after a discarded warm-up), and returns every
// single measurement plus medians and spread.

import { readStats } from './contenders.js';
import { CLUSTER_KEYS, KERNEL_KEYS, startAll, stopAll } from './contender-set.js';
import { LOADS, runLoad } from './loads.js';
import { sleep, treeCpuMs } from './processes.js';
import { median, round } from './report.js';

/** { median, min, max } of the defined values, rounded. */
export function spread(values, digits = 0) {
  const defined = values.filter((value) => value !== undefined && value !== null && Number.isFinite(value));
  if (defined.length === 0) return { median: undefined, min: undefined, max: undefined, n: 0 };
  return { median: round(median(defined), digits), min: round(Math.min(...defined), digits), max: round(Math.max(...defined), digits), n: defined.length };
}

function perWorkerDelta(before, after) {
  const perWorker = {};
  for (const [pid, entry] of after) {
    const start = before.get(pid) ?? { requests: 0, connections: 0 };
    const requests = entry.requests - start.requests;
    if (requests > 0 || before.has(pid)) perWorker[pid] = { requests, connections: entry.connections - start.connections };
  }
  return perWorker;
}

async function measureOnce(contender, load, params) {
  const before = readStats(contender.statsDir);
  const cpuBefore = treeCpuMs(contender.primaryPid);
  const result = await runLoad(load, contender.url, params);
  // CPU the contender's processes spent on this run, whatever else ran on the machine.
  const cpuMs = treeCpuMs(contender.primaryPid) - cpuBefore;
  await sleep(150); // app processes write their counters every 100 ms
  const perWorker = perWorkerDelta(before, readStats(contender.statsDir));
  const served = Object.values(perWorker).reduce((sum, entry) => sum + entry.requests, 0);
  const connections = Object.values(perWorker).reduce((sum, entry) => sum + entry.connections, 0);
  return { ...result, served, cpuUsPerRequest: served > 0 ? (1000 * cpuMs) / served : undefined, connPerReq: served > 0 ? connections / served : undefined, perWorker };
}

/** Requests per worker, busiest first, as percentages of the total: [52, 48]. */
export function shares(perWorker) {
  const counts = Object.values(perWorker).map((entry) => entry.requests);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return [];
  return counts.map((value) => (100 * value) / total).sort((a, b) => b - a).map((value) => round(value, 1));
}

/**
 * Rounds interleaved over the contenders (order rotated each round) for each load; returns the raw
 * runs. `warmupS` of keep-alive load per contender first, not recorded.
 */
async function interleave(contenders, loads, params, log, tag) {
  const runs = [];
  if (params.warmupS > 0) {
    for (const contender of contenders) await runLoad('autocannon', contender.url, { durationS: params.warmupS, connections: params.connections });
  }
  for (let roundIndex = 0; roundIndex < params.rounds; roundIndex++) {
    for (const load of loads) {
      const order = contenders.map((_, i) => contenders[(i + roundIndex) % contenders.length]);
      for (const contender of order) {
        let result;
        try {
          result = await measureOnce(contender, load, params);
        } catch (error) {
          result = { failed: error.message };
        }
        runs.push({ round: roundIndex, load, contender: contender.key, ...result });
        log(`   ${tag} round ${roundIndex + 1} ${LOADS[load].label.padEnd(42)} ${contender.label.padEnd(26)} ${result.failed ? `FAILED: ${result.failed}` : `${Math.round(result.reqPerSec)} req/s, p99 ${round(result.p99Ms, 1)} ms`}`);
      }
    }
  }
  return runs;
}

/**
 * Per contender and load: medians and spread, ratios per round to the best node:cluster, to the best
 * of the contenders without a primary in the path (SCHED_NONE, SO_REUSEPORT) and to single node.
 */
export function summarizeThroughput(runs, contenders, loads) {
  const rows = [];
  for (const load of loads) {
    const ofRound = (key, roundIndex) => runs.find((r) => r.load === load && r.contender === key && r.round === roundIndex && !r.failed);
    for (const contender of contenders) {
      const mine = runs.filter((r) => r.load === load && r.contender === contender.key && !r.failed);
      const ratiosBest = [];
      const ratiosPlain = [];
      const ratiosKernel = [];
      const cpuRatios = [];
      for (const run of mine) {
        const best = Math.max(...CLUSTER_KEYS.map((key) => ofRound(key, run.round)?.reqPerSec ?? 0));
        if (best > 0) ratiosBest.push(run.reqPerSec / best);
        // Only in a round where SO_REUSEPORT ran too: otherwise this would repeat the ratio to SCHED_NONE.
        const kernelRuns = KERNEL_KEYS.map((key) => ofRound(key, run.round)?.reqPerSec);
        if (kernelRuns.every((value) => value > 0)) ratiosKernel.push(run.reqPerSec / Math.max(...kernelRuns));
        const plain = ofRound('plain', run.round)?.reqPerSec;
        if (plain > 0) ratiosPlain.push(run.reqPerSec / plain);
        const bestCpu = Math.min(...CLUSTER_KEYS.map((key) => ofRound(key, run.round)?.cpuUsPerRequest ?? Infinity));
        if (Number.isFinite(bestCpu) && run.cpuUsPerRequest !== undefined) cpuRatios.push(run.cpuUsPerRequest / bestCpu);
      }
      const perWorker = {};
      for (const run of mine) {
        for (const [pid, entry] of Object.entries(run.perWorker ?? {})) perWorker[pid] = { requests: (perWorker[pid]?.requests ?? 0) + entry.requests, connections: 0 };
      }
      rows.push({
        load, contender: contender.key, label: contender.label,
        runs: mine.length, failedRuns: runs.filter((r) => r.load === load && r.contender === contender.key && r.failed).length,
        reqPerSec: spread(mine.map((r) => r.reqPerSec)),
        p50Ms: spread(mine.map((r) => r.p50Ms), 2), p99Ms: spread(mine.map((r) => r.p99Ms), 2),
        vsBestCluster: spread(ratiosBest, 3), vsBestKernel: spread(ratiosKernel, 3), vsPlain: spread(ratiosPlain, 3),
        cpuUsPerRequest: spread(mine.map((r) => r.cpuUsPerRequest), 1), cpuVsBestCluster: spread(cpuRatios, 3),
        errors: mine.reduce((sum, r) => sum + (r.errors ?? 0) + (r.non2xx ?? 0), 0),
        connPerReq: spread(mine.map((r) => r.connPerReq), 2),
        shares: shares(perWorker),
      });
    }
  }
  return rows;
}

export async function runThroughput({ app, loads, keys, params, log }) {
  log(`== throughput: app ${app}, loads ${loads.join(', ')}, ${params.rounds} rounds x ${params.durationS}s, ${params.connections} connections`);
  const contenders = await startAll(keys, { app, workers: params.workers, parallel: params.parallelStart });
  const startup = Object.fromEntries(contenders.map((c) => [c.key, c.startupMs]));
  try {
    const runs = await interleave(contenders, loads, params, log, app.replace(/\.js$/, ''));
    return { app, loads, startup, runs, rows: summarizeThroughput(runs, contenders, loads) };
  } finally {
    await stopAll(contenders, log);
  }
}

/**
 * The single-worker trap (seed 001): 16 loops of new-connection requests on the mixed app, where 1
 * request in 1,000 blocks its worker's loop for 100 ms. Fast requests' p50/p99/p99.9, per worker.
 */
export async function runMixed({ keys, params, log }) {
  const mixedParams = { ...params, durationS: params.mixedDurationS, connections: params.mixedLoops, warmupS: 0 };
  log(`== mixed load: ${mixedParams.connections} loops, a new connection per request, 1 request in 1,000 blocks 100 ms; ${params.rounds} rounds x ${mixedParams.durationS}s`);
  const contenders = await startAll(keys, { app: 'mixed.js', workers: params.workers, parallel: params.parallelStart });
  const startup = Object.fromEntries(contenders.map((c) => [c.key, c.startupMs]));
  try {
    const runs = await interleave(contenders, ['newconn'], mixedParams, log, 'mixed');
    const rows = contenders.map((contender) => {
      const mine = runs.filter((r) => r.contender === contender.key && !r.failed);
      const perWorker = {};
      for (const run of mine) {
        for (const [pid, entry] of Object.entries(run.perWorker ?? {})) perWorker[pid] = { requests: (perWorker[pid]?.requests ?? 0) + entry.requests };
      }
      return {
        contender: contender.key, label: contender.label, runs: mine.length,
        reqPerSec: spread(mine.map((r) => r.reqPerSec)),
        fastP50Ms: spread(mine.map((r) => r.fast?.p50), 2), fastP99Ms: spread(mine.map((r) => r.fast?.p99), 2), fastP999Ms: spread(mine.map((r) => r.fast?.p999), 2),
        slow: mine.reduce((sum, r) => sum + (r.slow ?? 0), 0),
        errors: mine.reduce((sum, r) => sum + (r.errors ?? 0) + (r.non2xx ?? 0), 0),
        servedPerWorker: Object.values(perWorker).map((entry) => entry.requests).sort((a, b) => b - a),
      };
    });
    return { startup, runs, rows };
  } finally {
    await stopAll(contenders, log);
  }
}
