// `npm run bench -- scale` (and part of the full suite): what the fleet size costs the primary.
// warden (default --balance) against node:cluster SCHED_NONE, started the same way one after the
// other, at SCALE_WORKERS (1,8,32,64) workers plus LOAD_WORKERS (2, the under-load goal): time until
// every worker answers, the primary's CPU idle and under keep-alive load (utime + stime from
// /proc/<pid>/stat over a window), primary and worker RSS, warden's /workers and /metrics latency,
// and warden's rolling reload until /workers shows the new generation everywhere. The goals are
// judged in lib/scale-check.js.

import { startCluster, startWarden } from './lib/contenders.js';
import { httpGet } from './lib/http.js';
import { runLoad } from './lib/loads.js';
import { processCpuMs, rssMb, sleep } from './lib/processes.js';
import { envNumber, machine, machineLine, median, percentile, round, table } from './lib/report.js';
import { scaleTargets, summarizeScale } from './lib/scale-check.js';

const CONTENDERS = {
  warden: { label: 'warden', start: (workers) => startWarden({ workers, app: 'hello.js' }) },
  'cluster-none': { label: 'node:cluster SCHED_NONE', start: (workers) => startCluster({ workers, sched: 'none', app: 'hello.js' }) },
};
const RELOAD_TIMEOUT_MS = 120_000;

function envCounts(name, defaultValue) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return defaultValue;
  const counts = raw.split(',').map((item) => Number(item.trim()));
  if (counts.some((count) => !Number.isInteger(count) || count < 1 || count > 256)) throw new Error(`${name} must be worker counts from 1 to 256, comma-separated (got "${raw}")`);
  return counts;
}

export function scaleParams(quick = false) {
  // The quick run only proves the experiment works (1 and LOAD_WORKERS): `--quick` stays under 3 minutes.
  const points = envCounts('SCALE_WORKERS', quick ? [1] : [1, 8, 32, 64]);
  const loadWorkers = envNumber('LOAD_WORKERS', 2, { min: 1, integer: true });
  return {
    workers: [...new Set([...points, loadWorkers])].sort((a, b) => a - b),
    loadWorkers,
    rounds: envNumber('SCALE_ROUNDS', 1, { min: 1, integer: true }),
    settleS: envNumber('SCALE_SETTLE', quick ? 0.25 : 2, { min: 0 }),
    idleS: envNumber('IDLE_WINDOW', quick ? 1 : 10, { min: 0.5 }),
    loadS: envNumber('LOAD_WINDOW', quick ? 1 : 5, { min: 0.5 }),
    connections: envNumber('CONNECTIONS', 50, { min: 1, integer: true }),
    adminRequests: envNumber('ADMIN_REQUESTS', quick ? 5 : 50, { min: 1, integer: true }),
  };
}

/** Share of one core (%) that `pid` used over `windowS` seconds while `during` ran (or slept). */
async function cpuPercent(pid, windowS, during = () => sleep(windowS * 1000)) {
  const before = processCpuMs(pid);
  const started = performance.now();
  const result = await during();
  const elapsedMs = performance.now() - started;
  const after = processCpuMs(pid);
  return { percent: before === undefined || after === undefined ? undefined : round((100 * (after - before)) / elapsedMs, 2), result };
}

/** Median of 3 samples 100 ms apart. */
async function sampleRss(pid) {
  const samples = [];
  for (let i = 0; i < 3; i++) {
    samples.push(rssMb(pid));
    await sleep(100);
  }
  return median(samples);
}

/** `count` GETs one after the other, each on a new connection: p50, p99, max in ms. */
async function latency(url, count) {
  const ms = [];
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const answer = await httpGet(url, { timeoutMs: 5000 });
    if (answer.status === 200) ms.push(answer.ms);
    else failures += 1;
  }
  ms.sort((a, b) => a - b);
  return { n: ms.length, failures, p50: round(median(ms), 1), p99: round(percentile(ms, 99), 1), max: round(ms.at(-1), 1) };
}

/** Reload, then poll /workers until exactly `workers` workers run the new generation, ready and in rotation. */
async function reloadMs(warden, workers) {
  const before = (await warden.workersReport())?.primary.generation;
  const started = performance.now();
  await warden.reload();
  const cliMs = performance.now() - started;
  while (performance.now() - started < RELOAD_TIMEOUT_MS) {
    const view = await warden.workersReport();
    if (view !== undefined && view.primary.generation > before && view.workers.length === workers
      && view.workers.every((w) => w.generation === view.primary.generation && w.state === 'ready' && w.inRotation)) {
      return { ms: performance.now() - started, cliMs };
    }
    await sleep(50);
  }
  throw new Error(`reload of ${workers} workers not done within ${RELOAD_TIMEOUT_MS} ms`);
}

async function measure(key, workers, params) {
  const contender = await CONTENDERS[key].start(workers);
  try {
    await sleep(params.settleS * 1000);
    const idle = await cpuPercent(contender.primaryPid, params.idleS);
    const primaryRssMb = await sampleRss(contender.primaryPid);
    const pids = await contender.workerPids();
    if (pids.length !== workers) throw new Error(`${key}: expected ${workers} workers, found ${pids.length}`);
    const workerRss = [];
    for (const pid of pids) workerRss.push(rssMb(pid));
    const admin = key === 'warden'
      ? { workers: await latency(`${contender.adminUrl}/workers`, params.adminRequests), metrics: await latency(`${contender.adminUrl}/metrics`, params.adminRequests) }
      : undefined;
    const load = await cpuPercent(contender.primaryPid, params.loadS, () => runLoad('autocannon', contender.url, { durationS: params.loadS, connections: params.connections }));
    const reload = key === 'warden' ? await reloadMs(contender, workers) : undefined;
    return {
      startupMs: round(contender.startupMs), idleCpuPercent: idle.percent, loadCpuPercent: load.percent, loadReqPerSec: round(load.result.reqPerSec),
      primaryRssMb: round(primaryRssMb, 1), workerRssMb: round(median(workerRss), 1), admin, reloadMs: round(reload?.ms), reloadCliMs: round(reload?.cliMs),
    };
  } finally {
    await contender.stop();
  }
}

export async function runScale({ quick = false, log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const params = scaleParams(quick);
  const info = machine();
  log(`== scale: ${params.workers.join(', ')} workers, warden against node:cluster SCHED_NONE, ${params.rounds} round(s); idle window ${params.idleS} s, load window ${params.loadS} s`);
  log(`   ${machineLine(info)}`);
  const runs = [];
  const keys = Object.keys(CONTENDERS);
  for (let roundIndex = 0; roundIndex < params.rounds; roundIndex++) {
    for (const [pointIndex, workers] of params.workers.entries()) {
      // Alternate who goes first, so neither always meets the machine right after the other.
      const order = (roundIndex + pointIndex) % 2 === 0 ? keys : [...keys].reverse();
      for (const key of order) {
        let run;
        try {
          run = await measure(key, workers, params);
        } catch (error) {
          run = { failed: error.message };
        }
        runs.push({ round: roundIndex, workers, contender: key, label: CONTENDERS[key].label, ...run });
        log(`   ${String(workers).padStart(3)} workers ${CONTENDERS[key].label.padEnd(24)} ${run.failed !== undefined ? `FAILED: ${run.failed}`
          : `start ${run.startupMs} ms, idle CPU ${run.idleCpuPercent} %, load CPU ${run.loadCpuPercent} %, primary ${run.primaryRssMb} MB, worker ${run.workerRssMb} MB${run.reloadMs === undefined ? '' : `, reload ${run.reloadMs} ms`}${run.admin === undefined ? '' : `, /workers p50 ${run.admin.workers.p50} ms, /metrics p50 ${run.admin.metrics.p50} ms`}`}`);
      }
    }
  }
  const rows = summarizeScale(runs);
  const targets = scaleTargets(rows);
  log(table(['workers', 'contender', 'start ms', 'idle CPU %', 'load CPU %', 'load req/s', 'primary MB', 'worker MB', '/workers p50/p99 ms', '/metrics p50/p99 ms', 'reload ms'],
    rows.map((r) => [r.workers, r.label, r.startupMs, r.idleCpuPercent, r.loadCpuPercent, r.loadReqPerSec, r.primaryRssMb, r.workerRssMb,
      r.workersP50Ms === undefined ? undefined : `${r.workersP50Ms}/${r.workersP99Ms}`, r.metricsP50Ms === undefined ? undefined : `${r.metricsP50Ms}/${r.metricsP99Ms}`, r.reloadMs])));
  for (const t of targets) log(`   ${t.status.padEnd(12)} ${t.target}: ${t.figure}`);
  return { params, machine: info, runs, rows, targets };
}
