#!/usr/bin/env node
// bench/freeze.js: how long a frozen worker goes unnoticed, what it costs, and when it is replaced.
// For each fault (SIGSTOP, a busy loop, a poisoned worker) and each contender (warden, node:cluster
// round-robin, PM2 cluster mode), one fresh run: steady load from keep-alive and new-connection
// clients at the same time, the fault on one worker, then WINDOW seconds of health polls every
// HEALTH_INTERVAL ms (warden: admin /readyz; others: the app's /health route) and worker watching.

import { Agent } from 'node:http';
import { pathToFileURL } from 'node:url';
import { pm2Bin, readStats, startCluster, startPm2, startWarden } from './lib/contenders.js';
import { MODES, startClosedLoop } from './lib/closed-loop.js';
import { httpGet } from './lib/http.js';
import { childPids, isAlive, killAllTracked, processState, sendSignal, sleep } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, printJson, round, table } from './lib/report.js';

const ALL_CONTENDERS = ['warden', 'warden-handoff', 'cluster', 'pm2'];
const ALL_FAULTS = ['stop', 'spin', 'poison'];
const FAULT_LABELS = { stop: 'SIGSTOP', spin: 'busy loop (/spin)', poison: 'poisoned (/poison)' };
const LABELS = { warden: 'warden', 'warden-handoff': 'warden --balance handoff', cluster: 'node:cluster RR', pm2: 'PM2 cluster mode' };
/** Health counts as red once this many polls in a row fail: the kubelet's default failureThreshold. */
const FAILURE_THRESHOLD = 3;

export function freezeParams() {
  return {
    workers: envNumber('WORKERS', 2, { min: 2, integer: true }),
    beforeS: envNumber('BEFORE', 3, { min: 2 }),
    windowS: envNumber('WINDOW', 10, { min: 3 }),
    loadConnections: envNumber('LOAD_CONNECTIONS', 4, { min: 1, integer: true }),
    requestTimeoutMs: envNumber('REQUEST_TIMEOUT', 2, { min: 0.1 }) * 1000,
    maxRequests: envNumber('MAX_REQUESTS', 500000, { min: 1, integer: true }),
    healthIntervalMs: envNumber('HEALTH_INTERVAL', 100, { min: 10 }),
    healthTimeoutMs: envNumber('HEALTH_TIMEOUT', 1, { min: 0.1 }) * 1000,
    wardenTimeoutS: envNumber('WARDEN_TIMEOUT', 3, { min: 0.5 }),
    // Unset: warden's own default, so the poisoned worker is judged as it would be in production.
    wardenStuckAfterS: envNumber('WARDEN_STUCK_AFTER', undefined, { min: 0.5 }),
    contenders: envList('CONTENDERS', ALL_CONTENDERS, ALL_CONTENDERS),
    faults: envList('FAULTS', ALL_FAULTS, ALL_FAULTS),
  };
}

/** --stuck-after only when WARDEN_STUCK_AFTER is set; otherwise warden judges as it would in production. */
function stuckAfterFlag(params) {
  return params.wardenStuckAfterS === undefined ? [] : ['--stuck-after', String(params.wardenStuckAfterS)];
}

function start(key, params) {
  switch (key) {
    case 'warden':
      return startWarden({
        workers: params.workers,
        flags: ['--timeout', String(params.wardenTimeoutS), ...stuckAfterFlag(params), '--balance', 'shared'],
      });
    case 'warden-handoff':
      return startWarden({
        workers: params.workers,
        flags: ['--timeout', String(params.wardenTimeoutS), ...stuckAfterFlag(params), '--balance', 'handoff'],
      }).then((started) => ({ ...started, key: 'warden-handoff', label: LABELS['warden-handoff'] }));
    case 'cluster':
      return startCluster({ workers: params.workers, sched: 'rr' });
    case 'pm2':
      return startPm2({ workers: params.workers });
    default:
      throw new Error(`freeze: unknown contender ${key}`);
  }
}

/** A GET of the health URL every interval, each on a new connection, each with its own timeout. */
function startHealthPolls(url, params) {
  const polls = [];
  const pending = new Set();
  const timer = setInterval(() => {
    const poll = httpGet(url, { timeoutMs: params.healthTimeoutMs }).then((result) => {
      polls.push({ at: result.startedAt, isGreen: result.status === 200, result: result.error ?? result.status });
      pending.delete(poll);
    });
    pending.add(poll);
  }, params.healthIntervalMs);
  return {
    polls,
    async stop() {
      clearInterval(timer);
      await Promise.all(pending);
      polls.sort((a, b) => a.at - b.at);
    },
  };
}

/**
 * Ask for /pid on a keep-alive connection of its own, so a following request on the same connection
 * reaches the same worker. Returns the agent (still holding that connection) and the worker's pid.
 */
async function pinWorker(url) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const answer = await httpGet(new URL('/pid', url), { agent, timeoutMs: 2000 });
  if (answer.status !== 200) throw new Error(`freeze: GET /pid failed: ${answer.error ?? answer.status}`);
  return { agent, pid: Number(answer.body) };
}

/** Apply the fault to one worker; returns the victim pid, when, and a cleanup to run at the end. */
async function applyFault(fault, contender, workerPids) {
  const { agent, pid } = await pinWorker(contender.url);
  if (!workerPids.includes(pid)) throw new Error(`freeze: pid ${pid} from /pid is not a worker of ${contender.label} (${workerPids.join(', ')})`);
  let at;
  let pending;
  if (fault === 'stop') {
    at = performance.now();
    process.kill(pid, 'SIGSTOP');
  } else {
    at = performance.now();
    // /spin never answers; /poison answers, and from then on that worker answers only /health.
    pending = httpGet(new URL(`/${fault}`, contender.url), { agent, timeoutMs: 600000 });
    if (fault === 'poison') {
      const answer = await pending;
      if (answer.pid !== pid) throw new Error(`freeze: /poison reached pid ${answer.pid}, not ${pid}: the keep-alive connection was not reused`);
    }
  }
  return {
    pid,
    at,
    /** The victim must not outlive the run, and must not stay stopped: SIGCONT, then SIGKILL. */
    cleanup() {
      agent.destroy();
      if (workerPids.includes(pid) && isAlive(pid)) {
        sendSignal(pid, 'SIGCONT');
        sendSignal(pid, 'SIGKILL');
      }
    },
  };
}

/**
 * Watch the victim's slot every 100 ms. warden: /workers (out of rotation, killed, replacement spawned
 * and in rotation). node:cluster and PM2: the primary's child pids (a new pid = a replacement).
 */
function watchReplacement(contender, victim, initialPids, initialReport) {
  const seen = { outOfRotationAt: undefined, killedAt: undefined, spawnedAt: undefined, readyAt: undefined, reasons: [], newPid: undefined };
  const victimSlot = initialReport?.workers.find((worker) => worker.pid === victim.pid)?.slot;
  let isRunning = true;
  const tick = async () => {
    const now = performance.now();
    if (seen.killedAt === undefined && !isAlive(victim.pid)) seen.killedAt = now;
    if (contender.key.startsWith('warden')) {
      const report = await contender.workersReport();
      if (report === undefined) return;
      const old = report.workers.find((worker) => worker.pid === victim.pid);
      if (seen.outOfRotationAt === undefined && (old === undefined || !old.inRotation)) seen.outOfRotationAt = now;
      // Each verdict warden gave the victim, in order (late, then stalled; or stuck).
      const verdict = old === undefined ? undefined : old.reason ?? undefined;
      if (verdict !== undefined && !old.inRotation && seen.reasons.at(-1) !== `${old.state}: ${verdict}`) seen.reasons.push(`${old.state}: ${verdict}`);
      const fresh = report.workers.find((worker) => worker.slot === victimSlot && worker.pid !== null && worker.pid !== victim.pid);
      if (fresh !== undefined) {
        seen.spawnedAt ??= now;
        seen.newPid = fresh.pid;
        // The slot remembers why its previous worker went: the verdict that ended the victim.
        const exit = fresh.lastExit;
        if (exit?.pid === victim.pid && exit.reason && !seen.reasons.includes(`exit: ${exit.reason}`)) seen.reasons.push(`exit: ${exit.reason}`);
        if (fresh.inRotation) seen.readyAt ??= now;
      }
    } else {
      const fresh = childPids(contender.primaryPid).find((pid) => !initialPids.includes(pid));
      if (fresh !== undefined && seen.spawnedAt === undefined) {
        seen.spawnedAt = now;
        seen.newPid = fresh;
      }
      // Ready = the new process has loaded the app (it writes its counters file on load).
      if (seen.newPid !== undefined && seen.readyAt === undefined && readStats(contender.statsDir).has(seen.newPid)) seen.readyAt = now;
    }
  };
  const done = (async () => {
    while (isRunning) {
      await tick();
      await sleep(100);
    }
  })();
  return {
    seen,
    async stop() {
      isRunning = false;
      await done;
    },
  };
}

function secondsAfter(at, faultAt) {
  return at === undefined ? undefined : round((at - faultAt) / 1000, 1);
}

/** From the first poll after the fault: when health went red (N failures in a row) and when green again. */
function healthFigures(polls, faultAt, endAt) {
  const after = polls.filter((poll) => poll.at >= faultAt && poll.at < endAt);
  let redAt;
  let greenAgainAt;
  for (let i = 0; i + FAILURE_THRESHOLD <= after.length; i++) {
    if (after.slice(i, i + FAILURE_THRESHOLD).every((poll) => !poll.isGreen)) {
      redAt = after[i].at;
      const back = after.slice(i).find((poll) => poll.isGreen);
      greenAgainAt = back?.at;
      break;
    }
  }
  const greenCount = after.filter((poll) => poll.isGreen).length;
  const failures = {};
  for (const poll of after) if (!poll.isGreen) failures[poll.result] = (failures[poll.result] ?? 0) + 1;
  return {
    falseGreenS: redAt === undefined ? undefined : secondsAfter(redAt, faultAt),
    greenAgainS: secondsAfter(greenAgainAt, faultAt),
    greenPct: after.length === 0 ? undefined : round((100 * greenCount) / after.length, 0),
    polls: after.length,
    pollFailures: failures,
  };
}

function loadFigures(records, faultAt, params) {
  const windowEnd = faultAt + params.windowS * 1000;
  const okPerSecond = (mode, from, to) => round(records.filter((r) => r.mode === mode && !r.failure && r.end >= from && r.end < to).length / ((to - from) / 1000));
  const figures = {};
  for (const mode of MODES) {
    const failed = records.filter((r) => r.mode === mode && r.failure && r.end >= faultAt);
    const kinds = {};
    for (const record of failed) kinds[record.failure] = (kinds[record.failure] ?? 0) + 1;
    // The first second of load is warm-up; "before" is the rest of the steady part.
    const before = okPerSecond(mode, faultAt - (params.beforeS - 1) * 1000, faultAt);
    const after = okPerSecond(mode, faultAt, windowEnd);
    const last3s = okPerSecond(mode, windowEnd - 3000, windowEnd);
    figures[mode] = {
      failedAfterFault: failed.length, failures: kinds, reqPerSecBefore: before, reqPerSecAfter: after, reqPerSecLast3s: last3s,
      afterVsBefore: before > 0 ? round(after / before, 2) : undefined,
    };
  }
  return figures;
}

async function runOne(key, fault, params, log) {
  const contender = await start(key, params);
  if (contender === undefined) return undefined;
  let load;
  let health;
  let watcher;
  let victim;
  try {
    const initialPids = await contender.workerPids();
    const initialReport = key.startsWith('warden') ? await contender.workersReport() : undefined;
    load = startClosedLoop(contender.url, { connections: params.loadConnections, timeoutMs: params.requestTimeoutMs, maxRequests: params.maxRequests });
    health = startHealthPolls(contender.healthUrl, params);
    await sleep(params.beforeS * 1000);
    victim = await applyFault(fault, contender, initialPids);
    watcher = watchReplacement(contender, victim, initialPids, initialReport);
    await sleep(Math.max(0, victim.at + params.windowS * 1000 - performance.now()));
    const endAt = performance.now();
    await Promise.all([load.stop(), health.stop(), watcher.stop()]);
    const seen = watcher.seen;
    const result = {
      fault, contender: key, label: contender.label, victimPid: victim.pid,
      victimState: processState(victim.pid) ?? 'gone',
      ...healthFigures(health.polls, victim.at, endAt),
      outOfRotationS: secondsAfter(seen.outOfRotationAt, victim.at),
      victimKilledS: secondsAfter(seen.killedAt, victim.at),
      replacementSpawnedS: secondsAfter(seen.spawnedAt, victim.at),
      replacedS: secondsAfter(seen.readyAt, victim.at),
      wardenVerdicts: seen.reasons,
      load: loadFigures(load.records, victim.at, params),
    };
    log(`   ${FAULT_LABELS[fault].padEnd(18)} ${contender.label.padEnd(18)} health red after ${fmtS(result.falseGreenS, params)}, replaced after ${fmtS(result.replacedS, params)}, failed ${result.load.keepalive.failedAfterFault}+${result.load.newconn.failedAfterFault}`);
    return result;
  } finally {
    await Promise.all([load?.stop(), health?.stop(), watcher?.stop()]);
    victim?.cleanup();
    await contender.stop();
  }
}

/** What became of the victim by the end of the window, from its /proc state letter. */
function victimAtEnd(result) {
  if (result.victimState === 'gone') return 'gone';
  if (result.victimState === 'T') return 'still stopped';
  return result.fault === 'spin' ? 'still spinning' : 'still running';
}

function fmtS(value, params) {
  return value === undefined ? `never (>${params.windowS}s)` : `${value}s`;
}

export async function runFreeze(log = (line) => process.stdout.write(`${line}\n`)) {
  const params = freezeParams();
  const info = machine();
  const contenders = params.contenders.filter((key) => key !== 'pm2' || pm2Bin() !== undefined);
  const skipped = params.contenders.filter((key) => !contenders.includes(key)).map((key) => `${key} (not installed)`);
  log(`== freeze: ${params.workers} workers; load ${params.loadConnections} keep-alive + ${params.loadConnections} new-connection clients, request timeout ${params.requestTimeoutMs / 1000}s;`);
  log(`   fault after ${params.beforeS}s, watched for ${params.windowS}s; health polled every ${params.healthIntervalMs} ms (timeout ${params.healthTimeoutMs / 1000}s), red = ${FAILURE_THRESHOLD} failures in a row;`);
  log(`   warden --timeout ${params.wardenTimeoutS} --stuck-after ${params.wardenStuckAfterS ?? '(default)'}`);
  log(`   ${machineLine(info)}${skipped.length > 0 ? `; skipped: ${skipped.join(', ')}` : ''}`);
  const results = [];
  for (const fault of params.faults) {
    for (const key of contenders) {
      const result = await runOne(key, fault, params, log);
      if (result !== undefined) results.push(result);
    }
  }

  const s = (value) => (value === undefined ? 'never' : value.toFixed(1));
  log('');
  log(table(
    ['fault', 'contender', 'green for s', 'green again s', 'green polls %', 'out of rotation s', 'victim killed s', 'replaced s', 'victim at end'],
    results.map((r) => [FAULT_LABELS[r.fault], r.label, s(r.falseGreenS), r.falseGreenS === undefined ? '-' : s(r.greenAgainS), r.greenPct,
      r.contender.startsWith('warden') ? s(r.outOfRotationS) : 'n/a', s(r.victimKilledS), s(r.replacedS), victimAtEnd(r)]),
  ));
  for (const r of results.filter((result) => result.wardenVerdicts?.length > 0)) {
    log(`   warden on the ${FAULT_LABELS[r.fault]} victim: ${r.wardenVerdicts.join(' -> ')}`);
  }
  log('');
  log(table(
    ['fault', 'contender', 'failed k-a', 'failed new', 'k-a req/s before', 'after', 'last 3s', 'new req/s before', 'after', 'last 3s'],
    results.map((r) => [FAULT_LABELS[r.fault], r.label, r.load.keepalive.failedAfterFault, r.load.newconn.failedAfterFault,
      r.load.keepalive.reqPerSecBefore, r.load.keepalive.reqPerSecAfter, r.load.keepalive.reqPerSecLast3s,
      r.load.newconn.reqPerSecBefore, r.load.newconn.reqPerSecAfter, r.load.newconn.reqPerSecLast3s]),
  ));
  log(`   seconds are counted from the fault; "never" = not within the ${params.windowS}s window. green for: until the health URL failed`);
  log(`   ${FAILURE_THRESHOLD} polls in a row. failed: requests that ended after the fault in an error, a ${params.requestTimeoutMs / 1000}s timeout or a non-200.`);
  log(`   k-a = keep-alive clients; new = a new connection per request. "after" = the whole window, "last 3s" = its end.`);
  return { bench: 'freeze', machine: info, params, results };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  runFreeze()
    .then((result) => {
      printJson('freeze', result);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`bench/freeze.js: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
      killAllTracked();
      process.exit(1);
    });
}
