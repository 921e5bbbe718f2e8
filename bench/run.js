#!/usr/bin/env node
// `npm run bench [-- balance|freeze|memory]`: runs bench/balance.js, bench/freeze.js and bench/memory.js (or the ones named)
// one after the other in this process, then prints a short summary and one BENCH_JSON line per bench.
// Parameters come from env vars; see bench/README.md.

import { assertWardenBuilt } from './lib/contenders.js';
import { killAllTracked } from './lib/processes.js';
import { printJson } from './lib/report.js';
import { runBalance } from './balance.js';
import { runFreeze } from './freeze.js';
import { runMemory } from './memory.js';
import { runReload } from './reload.js';

const BENCHES = { balance: runBalance, freeze: runFreeze, reload: runReload, memory: runMemory };

function summarize(results) {
  const lines = ['== summary'];
  const balance = results.balance;
  if (balance !== undefined) {
    for (const mode of balance.params.modes) {
      const parts = balance.results
        .filter((r) => r.mode === mode)
        .map((r) => `${r.contender} ${r.reqPerSec} req/s (${r.vsClusterRr?.toFixed(2) ?? '-'}x)`);
      lines.push(`   balance, ${mode === 'keepalive' ? 'keep-alive' : 'new connection per request'}, vs node:cluster RR: ${parts.join(', ')}`);
    }
  }
  const freeze = results.freeze;
  if (freeze !== undefined) {
    const s = (value) => (value === undefined ? 'never' : `${value}s`);
    for (const fault of freeze.params.faults) {
      const parts = freeze.results
        .filter((r) => r.fault === fault)
        .map((r) => `${r.contender} green ${s(r.falseGreenS)}, replaced ${s(r.replacedS)}, failed ${r.load.keepalive.failedAfterFault}+${r.load.newconn.failedAfterFault}`);
      lines.push(`   freeze, ${fault}: ${parts.join('; ')}`);
    }
  }
  const reload = results.reload;
  if (reload !== undefined) {
    const parts = reload.results.map((r) => `${r.contender} ${r.keepaliveFailed.median}+${r.newconnFailed.median} failed`);
    lines.push(`   reload (keep-alive + new connection failed, median): ${parts.join(', ')}`);
  }
  for (const row of results.memory?.summary ?? []) {
    lines.push(`   memory, ${row.contender}: startup ${row.startupMs} ms, supervisor ${row.idlePrimaryMb} MB, worker ${row.idleWorkerMb} MB idle (${row.idleWorkerOverPlainMb ?? '-'} MB over plain node)`);
  }
  return lines.join('\n');
}

async function main() {
  const names = process.argv.slice(2);
  for (const name of names) {
    if (!Object.hasOwn(BENCHES, name)) throw new Error(`unknown bench "${name}" (expected: ${Object.keys(BENCHES).join(', ')})`);
  }
  assertWardenBuilt();
  const started = performance.now();
  const results = {};
  for (const name of names.length > 0 ? names : Object.keys(BENCHES)) {
    results[name] = await BENCHES[name]();
    process.stdout.write('\n');
  }
  process.stdout.write(`${summarize(results)}\n   total ${Math.round((performance.now() - started) / 1000)}s\n`);
  for (const [name, result] of Object.entries(results)) printJson(name, result);
}

main()
  .then(() => process.exit(0))
  .catch((error) => {
    process.stderr.write(`bench: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
    killAllTracked();
    process.exit(1);
  });
