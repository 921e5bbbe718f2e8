#!/usr/bin/env node
// bench/reload.js: requests lost during a rolling reload under load. warden (`warden reload`) and PM2
// cluster mode (`pm2 reload`) serve the same app with the same workers; keep-alive clients and
// clients opening a new connection per request run at the same time, from BEFORE seconds before
// the reload until AFTER seconds after it ended. node:cluster has no reload and is not measured.
// MIN_READY (default "all"): warden's --min-ready, or several comma-separated, each run as its own
// contender in the same rounds: the room it leaves sets how many slots a reload rolls at once.

import { pathToFileURL } from 'node:url';
import { pm2Bin, startPm2, startWarden } from './lib/contenders.js';
import { startClosedLoop } from './lib/closed-loop.js';
import { killAllTracked, sleep } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, median, printJson, round, table } from './lib/report.js';

const ALL_CONTENDERS = ['warden', 'pm2'];
const LABELS = { warden: 'warden reload', pm2: 'pm2 reload' };

export function reloadParams() {
  return {
    workers: envNumber('WORKERS', 2, { min: 1, integer: true }),
    beforeS: envNumber('BEFORE', 2, { min: 0.5 }),
    afterS: envNumber('AFTER', 2, { min: 0.5 }),
    loadConnections: envNumber('LOAD_CONNECTIONS', 4, { min: 1, integer: true }),
    requestTimeoutMs: envNumber('REQUEST_TIMEOUT', 2, { min: 0.1 }) * 1000,
    repeats: envNumber('REPEATS', 2, { min: 1, integer: true }),
    contenders: envList('CONTENDERS', ALL_CONTENDERS, ALL_CONTENDERS),
    minReady: (process.env.MIN_READY ?? 'all').split(',').map((value) => value.trim()).filter((value) => value !== ''),
  };
}

/** The keys run: pm2, and warden once per --min-ready value ("warden" alone for the default). */
function contenderKeys(params) {
  return params.contenders.flatMap((key) => (key !== 'warden' ? [key] : params.minReady.map((value) => (value === 'all' ? 'warden' : `warden@${value}`))));
}

function labelOf(key) {
  return key.startsWith('warden@') ? `warden reload (--min-ready ${key.slice('warden@'.length)})` : LABELS[key];
}

function start(key, params) {
  if (key === 'pm2') return startPm2({ workers: params.workers });
  const minReady = key.startsWith('warden@') ? key.slice('warden@'.length) : undefined;
  return startWarden({ workers: params.workers, flags: minReady === undefined ? [] : ['--min-ready', minReady] });
}

async function runOnce(key, params) {
  const contender = await start(key, params);
  if (contender === undefined) return undefined;
  try {
    const load = startClosedLoop(contender.url, { connections: params.loadConnections, timeoutMs: params.requestTimeoutMs });
    await sleep(params.beforeS * 1000);
    const began = performance.now();
    await contender.reload();
    const reloadS = (performance.now() - began) / 1000;
    await sleep(params.afterS * 1000);
    await load.stop();
    const count = (mode, failed) => load.records.filter((r) => r.mode === mode && (failed ? r.failure !== undefined : true)).length;
    const errors = [...new Set(load.records.filter((r) => r.failure !== undefined).map((r) => r.failure))].slice(0, 4);
    return {
      contender: key, reloadS: round(reloadS, 2),
      keepalive: { sent: count('keepalive', false), failed: count('keepalive', true) },
      newconn: { sent: count('newconn', false), failed: count('newconn', true) },
      errors,
    };
  } finally {
    await contender.stop();
  }
}

export async function runReload() {
  const params = reloadParams();
  const contenders = contenderKeys(params).filter((key) => key !== 'pm2' || pm2Bin() !== undefined);
  process.stdout.write(`== reload: failed requests during a rolling reload (${params.workers} workers, ${params.loadConnections} keep-alive + ${params.loadConnections} new-connection clients, ${params.repeats} rounds)\n   ${machineLine()}\n`);
  const runs = [];
  for (let round = 0; round < params.repeats; round++) {
    for (const key of contenders) {
      const result = await runOnce(key, params);
      if (result !== undefined) runs.push(result);
    }
  }
  const results = contenders.map((key) => {
    const mine = runs.filter((run) => run.contender === key);
    const spread = (values) => ({ median: round(median(values), 2), min: Math.min(...values), max: Math.max(...values) });
    return {
      contender: key,
      keepaliveFailed: spread(mine.map((run) => run.keepalive.failed)),
      newconnFailed: spread(mine.map((run) => run.newconn.failed)),
      sent: spread(mine.map((run) => run.keepalive.sent + run.newconn.sent)),
      reloadS: spread(mine.map((run) => run.reloadS)),
      errors: [...new Set(mine.flatMap((run) => run.errors))].slice(0, 4),
    };
  });
  const show = (s) => (s.min === s.max ? `${s.median}` : `${s.median} (${s.min}-${s.max})`);
  process.stdout.write(`${table(
    ['', 'keep-alive failed', 'new connection failed', 'requests sent', 'reload took s', 'errors'],
    results.map((r) => [labelOf(r.contender), show(r.keepaliveFailed), show(r.newconnFailed), show(r.sent), show(r.reloadS), r.errors.join('; ') || '-']),
  )}\n`);
  return { params, machine: machine(), results, runs };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  runReload()
    .then((result) => {
      printJson('reload', result);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`bench reload: ${error.stack}\n`);
      killAllTracked();
      process.exit(1);
    });
}
