#!/usr/bin/env node
// bench/spread.js: how new connections spread over warden's workers, at light, medium and full load.
// Closed-loop clients (1, 4, 16, 64), each opening a new connection per request, against 2 and 4
// workers, in `--balance shared` (the kernel's accept queue, the workers race) and `handoff` (the
// primary picks). Per-worker shares come from the answering pid of every request (x-pid).

import { pathToFileURL } from 'node:url';
import { startWarden } from './lib/contenders.js';
import { startClosedLoop } from './lib/closed-loop.js';
import { killAllTracked, sleep } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, round, table } from './lib/report.js';

const MODES = ['shared', 'handoff'];

export function spreadParams() {
  return {
    workers: envList('WORKERS', ['2', '4'], ['2', '3', '4', '8']).map(Number),
    clients: envList('CLIENTS', ['1', '4', '16', '64'], ['1', '2', '4', '8', '16', '32', '64', '128']).map(Number),
    modes: envList('MODES', MODES, MODES),
    durationS: envNumber('DURATION', 4, { min: 1 }),
  };
}

/**
 * Shares of the requests answered, per worker, largest first (as fractions), and the largest
 * share over the fair one (1 = even; N = one worker took everything).
 */
export function shares(counts, workers) {
  const total = counts.reduce((sum, n) => sum + n, 0);
  const padded = [...counts, ...Array(Math.max(0, workers - counts.length)).fill(0)].sort((a, b) => b - a);
  const fractions = padded.map((n) => (total === 0 ? 0 : n / total));
  return { total, fractions, overFair: total === 0 ? undefined : (fractions[0] ?? 0) * workers };
}

async function measure(url, clients, durationS) {
  const load = startClosedLoop(url, { connections: clients, timeoutMs: 5000, modes: ['newconn'] });
  const startedAt = performance.now();
  await sleep(durationS * 1000);
  await load.stop();
  const seconds = (performance.now() - startedAt) / 1000;
  const byPid = new Map();
  let failed = 0;
  for (const record of load.records) {
    if (record.failure !== undefined || record.pid === undefined) failed += 1;
    else byPid.set(record.pid, (byPid.get(record.pid) ?? 0) + 1);
  }
  return { byPid, failed, perSecond: round(load.records.length / seconds) };
}

export async function runSpread(log = (line) => process.stdout.write(`${line}\n`)) {
  const params = spreadParams();
  const info = machine();
  log(`== spread: new connection per request, workers ${params.workers.join(', ')}, clients ${params.clients.join(', ')}, modes ${params.modes.join(', ')}, ${params.durationS} s each`);
  log(`   ${machineLine(info)}`);
  const rows = [];
  try {
    for (const mode of params.modes) {
      for (const workers of params.workers) {
        const warden = await startWarden({ workers, flags: ['--balance', mode] });
        try {
          for (const clients of params.clients) {
            const { byPid, failed, perSecond } = await measure(warden.url, clients, params.durationS);
            const share = shares([...byPid.values()], workers);
            const row = {
              mode, workers, clients, requests: share.total, failed, perSecond,
              shares: share.fractions.map((fraction) => Math.round(fraction * 100)),
              overFair: round(share.overFair, 2),
            };
            rows.push(row);
            log(`   ${mode.padEnd(7)} ${workers} workers ${String(clients).padStart(2)} clients: ${row.shares.join('/')} % (largest ${row.overFair}x fair), ${row.requests} requests, ${perSecond}/s, ${failed} failed`);
          }
        } finally {
          await warden.stop();
        }
      }
    }
  } finally {
    killAllTracked();
  }
  log('');
  log(table(['mode', 'workers', 'clients', 'shares %', 'largest / fair', 'req/s', 'failed'],
    rows.map((row) => [row.mode, row.workers, row.clients, row.shares.join('/'), row.overFair, row.perSecond, row.failed])));
  return { bench: 'spread', date: new Date().toISOString(), machine: info, params, rows };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runSpread();
}
