// Pure checks over a `npm run bench` result: did every contender produce figures (what CI asserts,
// not that warden wins), and which of the targets hold.

import { CLUSTER_KEYS } from './contender-set.js';

/** Every (experiment, app, load, contender) that has no figure: no run, a failed run, or 0 req/s. */
export function missingFigures(result) {
  const missing = [];
  for (const block of result.throughput ?? []) {
    for (const key of result.contenders) {
      for (const load of block.loads) {
        const row = block.rows.find((r) => r.contender === key && r.load === load);
        if (row === undefined) missing.push(`${block.app} ${load}: ${key} did not run`);
        else if (row.failedRuns > 0) missing.push(`${block.app} ${load}: ${key} failed ${row.failedRuns} run(s)`);
        else if (!(row.reqPerSec.median > 0)) missing.push(`${block.app} ${load}: ${key} served nothing`);
      }
    }
  }
  if (result.mixed !== undefined) {
    for (const key of result.contenders) {
      const row = result.mixed.rows.find((r) => r.contender === key);
      if (row === undefined || !(row.reqPerSec.median > 0) || row.fastP99Ms.median === undefined) missing.push(`mixed: ${key} has no figures`);
    }
  }
  // Start-up figures come from the throughput and mixed experiments.
  if ((result.throughput ?? []).length > 0 || result.mixed !== undefined) {
    for (const key of result.contenders) {
      if (!(result.startup?.[key]?.median > 0)) missing.push(`startup: ${key} has no figure`);
    }
  }
  for (const row of result.scale?.rows ?? []) {
    if (row.failed.length > 0 || row.rounds === 0) missing.push(`scale ${row.workers} workers: ${row.contender} failed: ${row.failed.join('; ')}`);
  }
  return missing;
}

function held(ok) {
  return ok === undefined ? 'not measured' : ok ? 'held' : 'missed';
}

/** The targets, each { target, figure, status }. */
export function targets(result) {
  const out = [];
  for (const block of result.throughput ?? []) {
    if (!['hello.js', 'cpu.js'].includes(block.app)) continue;
    for (const load of block.loads) {
      for (const key of ['warden-shared', 'warden-handoff']) {
        const row = block.rows.find((r) => r.contender === key && r.load === load);
        if (row === undefined) continue;
        const ratio = row.vsBestCluster.median;
        out.push({
          target: `${block.app.replace('.js', '')}, ${load}: ${row.label} >= 0.97 x the better node:cluster`,
          figure: ratio === undefined ? '-' : `${ratio.toFixed(2)} x (${row.vsBestCluster.min?.toFixed(2)}-${row.vsBestCluster.max?.toFixed(2)})`,
          status: held(ratio === undefined ? undefined : ratio >= 0.97),
        });
      }
    }
  }
  // The bar for every shape: the best contender without a primary in the path, same round.
  if (result.skipped?.reuseport !== undefined) {
    out.push({ target: 'warden >= 1.00 x the best of SCHED_NONE and SO_REUSEPORT, every shape', figure: `SO_REUSEPORT skipped: ${result.skipped.reuseport}`, status: 'not measured' });
  } else {
    for (const block of result.throughput ?? []) {
      for (const load of block.loads) {
        for (const key of ['warden-shared', 'warden-handoff']) {
          const row = block.rows.find((r) => r.contender === key && r.load === load);
          if (row?.vsBestKernel === undefined) continue;
          const ratio = row.vsBestKernel.median;
          out.push({
            target: `${block.app.replace('.js', '')}, ${load}: ${row.label} >= 1.00 x the best of SCHED_NONE and SO_REUSEPORT`,
            figure: ratio === undefined ? '-' : `${ratio.toFixed(2)} x (${row.vsBestKernel.min?.toFixed(2)}-${row.vsBestKernel.max?.toFixed(2)})`,
            status: held(ratio === undefined ? undefined : ratio >= 1),
          });
        }
      }
    }
  }
  const mixed = result.mixed;
  if (mixed !== undefined) {
    const of = (key) => mixed.rows.find((r) => r.contender === key);
    const rr = of('cluster-rr');
    const none = of('cluster-none');
    for (const key of ['warden-shared', 'warden-handoff']) {
      const row = of(key);
      if (row === undefined || rr === undefined || none === undefined) continue;
      const p99 = row.fastP99Ms.median;
      out.push({
        target: `mixed load: ${row.label} fast p99 <= 0.5 x node:cluster RR's and <= SCHED_NONE's`,
        figure: `${p99} ms against RR ${rr.fastP99Ms.median} ms (x ${(p99 / rr.fastP99Ms.median).toFixed(2)}) and SCHED_NONE ${none.fastP99Ms.median} ms`,
        status: held(p99 <= 0.5 * rr.fastP99Ms.median && p99 <= none.fastP99Ms.median),
      });
      const best = Math.max(...CLUSTER_KEYS.map((k) => of(k)?.reqPerSec.median ?? 0));
      out.push({
        target: `mixed load: ${row.label} req/s >= the better node:cluster's`,
        figure: `${row.reqPerSec.median} against ${best}`,
        status: held(row.reqPerSec.median >= best),
      });
    }
  }
  for (const target of result.memory?.targets ?? []) {
    if (target && typeof target === 'object') {
      out.push({ target: String(target.target ?? target.name ?? 'memory'), figure: String(target.figure ?? target.value ?? '-'), status: target.status ?? held(target.ok ?? target.held) });
    }
  }
  for (const target of result.scale?.targets ?? []) out.push({ target: `scale: ${target.target}`, figure: target.figure, status: target.status });
  if (result.quick && result.only === undefined) {
    out.push({ target: '`npm run bench -- --quick` under 3 minutes', figure: `${result.totalS} s`, status: held(result.totalS < 180) });
  }
  return out;
}
