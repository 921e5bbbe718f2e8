#!/usr/bin/env node
// bench/memory.js: what a process manager costs in memory and in startup time. For each contender
// (one plain node process, node:cluster RR, warden), ROUNDS fresh starts, interleaved: the time from
// spawn to every worker answering, then the RSS (VmRSS from /proc) of the supervisor and of each
// worker when idle (SETTLE seconds after ready) and after LOAD_REQUESTS keep-alive requests.
// The figure that matters: warden's worker RSS minus the plain node process's (same app, same Node).

import { Agent, get } from 'node:http';
import { pathToFileURL } from 'node:url';
import { startCluster, startPlain, startWarden } from './lib/contenders.js';
import { killAllTracked, rssMb, sleep } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, median, printJson, round, table } from './lib/report.js';

const ALL_CONTENDERS = ['plain', 'cluster-rr', 'warden'];
const LABELS = { plain: 'plain node (1 process)', 'cluster-rr': 'node:cluster RR', warden: 'warden' };

export function memoryParams() {
  return {
    workers: envNumber('WORKERS', 2, { min: 1, integer: true }),
    rounds: envNumber('ROUNDS', 3, { min: 1, integer: true }),
    settleS: envNumber('SETTLE', 3, { min: 0 }),
    loadRequests: envNumber('LOAD_REQUESTS', 2000, { min: 0, integer: true }),
    contenders: envList('CONTENDERS', ALL_CONTENDERS, ALL_CONTENDERS),
  };
}

/** Median of 5 samples 100 ms apart, so one GC or a page-in does not decide the figure. */
async function sampleRss(pid) {
  const samples = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssMb(pid));
    await sleep(100);
  }
  return median(samples);
}

async function load(url, count) {
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  let sent = 0;
  const loop = async () => {
    while (sent < count) {
      sent += 1;
      await new Promise((resolve, reject) => {
        get(url, { agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: 8 }, loop));
  agent.destroy();
}

async function start(key, workers) {
  if (key === 'plain') return startPlain();
  if (key === 'cluster-rr') return startCluster({ workers, sched: 'rr' });
  return startWarden({ workers, flags: [] });
}

async function measure(key, params) {
  const startedAt = performance.now();
  const contender = await start(key, params.workers);
  try {
    const workerPids = key === 'plain' ? [] : await contender.workerPids();
    const expected = key === 'plain' ? 0 : params.workers;
    if (workerPids.length !== expected) throw new Error(`${key}: expected ${expected} workers, found ${workerPids.length}`);
    // Every worker answering: a few requests on new connections spread over the workers.
    for (let i = 0; i < 2 * Math.max(1, params.workers); i++) await new Promise((resolve, reject) => get(contender.url, { agent: false }, (res) => res.resume().on('end', resolve)).on('error', reject));
    const startupMs = performance.now() - startedAt;
    await sleep(params.settleS * 1000);
    const idle = { primary: await sampleRss(contender.primaryPid), workers: [] };
    for (const pid of workerPids) idle.workers.push(await sampleRss(pid));
    await load(contender.url, params.loadRequests);
    await sleep(500);
    const loaded = { primary: await sampleRss(contender.primaryPid), workers: [] };
    for (const pid of workerPids) loaded.workers.push(await sampleRss(pid));
    return { startupMs, idle, loaded };
  } finally {
    await contender.stop();
  }
}

export async function runMemory(params = memoryParams()) {
  const info = machine();
  process.stdout.write(`== memory: ${params.workers} workers, ${params.rounds} rounds, idle after ${params.settleS}s, then ${params.loadRequests} requests\n   ${machineLine(info)}\n`);
  const runs = [];
  for (let round_ = 1; round_ <= params.rounds; round_++) {
    for (const key of params.contenders) {
      const result = await measure(key, params);
      runs.push({ contender: key, round: round_, ...result });
      const fmt = (value) => value?.toFixed(1) ?? '-';
      process.stdout.write(`   round ${round_} ${key}: startup ${Math.round(result.startupMs)} ms, idle primary ${fmt(result.idle.primary)} MB, workers ${result.idle.workers.map(fmt).join(' / ') || '-'} MB\n`);
    }
  }
  const summary = params.contenders.map((key) => {
    const mine = runs.filter((run) => run.contender === key);
    const pick = (fn) => round(median(mine.map(fn)), 1);
    const workerMedian = (phase) => (run) => (run[phase].workers.length === 0 ? undefined : median(run[phase].workers));
    return {
      contender: key,
      startupMs: round(median(mine.map((run) => run.startupMs))),
      // For plain node the "primary" is the only process: it is the app itself.
      idlePrimaryMb: pick((run) => run.idle.primary),
      idleWorkerMb: key === 'plain' ? pick((run) => run.idle.primary) : pick(workerMedian('idle')),
      loadedPrimaryMb: pick((run) => run.loaded.primary),
      loadedWorkerMb: key === 'plain' ? pick((run) => run.loaded.primary) : pick(workerMedian('loaded')),
    };
  });
  const plain = summary.find((row) => row.contender === 'plain');
  for (const row of summary) {
    row.idleWorkerOverPlainMb = plain === undefined ? undefined : round(row.idleWorkerMb - plain.idleWorkerMb, 1);
    row.loadedWorkerOverPlainMb = plain === undefined ? undefined : round(row.loadedWorkerMb - plain.loadedWorkerMb, 1);
  }
  process.stdout.write(`${table(
    ['contender', 'startup ms', 'supervisor MB idle', 'worker MB idle', 'worker - plain', 'supervisor MB loaded', 'worker MB loaded', 'worker - plain'],
    summary.map((row) => [LABELS[row.contender], row.startupMs, row.contender === 'plain' ? undefined : row.idlePrimaryMb, row.idleWorkerMb, row.idleWorkerOverPlainMb,
      row.contender === 'plain' ? undefined : row.loadedPrimaryMb, row.loadedWorkerMb, row.loadedWorkerOverPlainMb]),
  )}\n`);
  const warden = summary.find((row) => row.contender === 'warden');
  const targets = warden === undefined ? [] : [
    { target: 'warden worker <= plain node + 4 MB (idle)', figure: warden.idleWorkerOverPlainMb === undefined ? '-' : `+${warden.idleWorkerOverPlainMb} MB`, held: warden.idleWorkerOverPlainMb === undefined ? undefined : warden.idleWorkerOverPlainMb <= 4 },
    { target: `warden primary <= 50 MB idle with ${params.workers} workers`, figure: `${warden.idlePrimaryMb} MB`, held: warden.idlePrimaryMb <= 50 },
  ];
  for (const { target, held } of targets) process.stdout.write(`   ${held === undefined ? 'not measured (no plain contender)' : held ? 'held' : 'MISSED'}: ${target}\n`);
  return { machine: info, params, summary, targets, runs };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  runMemory()
    .then((result) => {
      printJson('memory', result);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`bench/memory.js: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
      killAllTracked();
      process.exit(1);
    });
}
