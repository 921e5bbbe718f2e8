// `npm run bench -- storm`: the primary under a crash storm. warden serves bench/apps/storm.js on
// WORKERS (10) workers; after BASELINE (10) seconds of calm, every worker is made to crash 300 ms
// after it starts, for STORM (60) seconds: with 10 slots that is ~100 crashes a minute, each slot
// held back by its own restart backoff. Side by side in one run, calm against storm: how fast the
// admin answers (/livez and /workers, one probe every 100 ms), the primary's CPU and RSS, how many
// crashes and at most how many per slot; then how long until every worker is ready again once the
// cause is gone. Targets (docs/faults.md, fault 12): admin p99 < 100 ms, RSS bounded.

import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startWarden } from './lib/contenders.js';
import { httpGet } from './lib/http.js';
import { rssMb, sendSignal, sleep, statFields } from './lib/processes.js';
import { envNumber, machine, machineLine, median, percentile, round, table } from './lib/report.js';

const ADMIN_P99_TARGET_MS = 100;
const RSS_GROWTH_BOUND_MB = 32;

/** The primary's user + system CPU time so far, in ms (clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = statFields(pid);
  return fields === undefined ? undefined : (Number(fields[11]) + Number(fields[12])) * 10;
}

async function crashCount(adminUrl) {
  const answer = await httpGet(`${adminUrl}/metrics`, { timeoutMs: 5000 });
  const match = answer.status === 200 ? /^warden_worker_replacements_total\{reason="crash"\} (\d+)/m.exec(answer.body) : null;
  return match === null ? 0 : Number(match[1]);
}

/** Probe /livez and /workers in turn every 100 ms for `seconds`; RSS and CPU of the primary too. */
async function observe(warden, seconds) {
  const latencies = { livez: [], workers: [] };
  const failures = [];
  const rss = [];
  const cpuBefore = cpuMs(warden.primaryPid);
  const started = performance.now();
  let next = 0;
  while (performance.now() - started < seconds * 1000) {
    const path = next++ % 2 === 0 ? 'livez' : 'workers';
    const answer = await httpGet(`${warden.adminUrl}/${path}`, { timeoutMs: 5000 });
    // /livez is 503 while no worker is alive: an answer all the same; only no answer is a failure.
    if (answer.error !== undefined) failures.push(`${path}: ${answer.error}`);
    else latencies[path].push(answer.ms);
    if (next % 50 === 0) rss.push(rssMb(warden.primaryPid));
    await sleep(100);
  }
  const elapsedMs = performance.now() - started;
  const cpu = cpuMs(warden.primaryPid) - cpuBefore;
  rss.push(rssMb(warden.primaryPid));
  const summary = (values) => {
    const sorted = [...values].sort((a, b) => a - b);
    return { n: sorted.length, p50: round(median(sorted), 1), p99: round(percentile(sorted, 99), 1), max: round(percentile(sorted, 100), 1) };
  };
  return {
    livez: summary(latencies.livez), workers: summary(latencies.workers), failures,
    cpuPercent: round((100 * cpu) / elapsedMs, 1), rssMb: { start: round(rss[0], 1), end: round(rss.at(-1), 1), peak: round(Math.max(...rss), 1) },
  };
}

export async function runStorm(log = (line) => process.stdout.write(`${line}\n`)) {
  const params = { workers: envNumber('WORKERS', 10, { min: 1, integer: true }), baselineS: envNumber('BASELINE', 10, { min: 1 }), stormS: envNumber('STORM', 60, { min: 1 }) };
  const info = machine();
  log(`== storm: ${params.workers} workers, ${params.baselineS} s calm, then ${params.stormS} s of every worker crashing 300 ms after it starts`);
  log(`   ${machineLine(info)}`);
  const warden = await startWarden({ workers: params.workers, app: 'storm.js', flags: ['--max-restarts', '100000'] });
  try {
    const calm = await observe(warden, params.baselineS);
    log(`   calm: /livez p99 ${calm.livez.p99} ms, /workers p99 ${calm.workers.p99} ms, primary CPU ${calm.cpuPercent} %`);
    const crashesBefore = await crashCount(warden.adminUrl);
    writeFileSync(join(warden.statsDir, 'storm'), '');
    // The workers running now loaded the app before the storm: kill them, their replacements crash.
    for (const pid of await warden.workerPids()) sendSignal(pid, 'SIGKILL');
    const storm = await observe(warden, params.stormS);
    const crashes = (await crashCount(warden.adminUrl)) - crashesBefore;
    const report = await warden.workersReport();
    const perSlot = (report?.workers ?? []).map((w) => w.restarts ?? 0);
    log(`   storm: ${crashes} crashes, /livez p99 ${storm.livez.p99} ms, /workers p99 ${storm.workers.p99} ms, primary CPU ${storm.cpuPercent} %`);
    rmSync(join(warden.statsDir, 'storm'));
    const healedAt = performance.now();
    let recoveredS;
    while (performance.now() - healedAt < 60_000) {
      const view = await warden.workersReport();
      if (view !== undefined && view.workers.length === params.workers && view.workers.every((w) => w.state === 'ready' && w.inRotation)) {
        recoveredS = round((performance.now() - healedAt) / 1000, 1);
        break;
      }
      await sleep(100);
    }
    const result = {
      params, machine: info, calm, storm, crashes, crashesPerMinute: round((60 * crashes) / params.stormS), maxRestartsInARow: Math.max(0, ...perSlot), recoveredS,
    };
    const p99 = Math.max(storm.livez.p99 ?? Infinity, storm.workers.p99 ?? Infinity);
    result.targets = [
      { target: `admin p99 < ${ADMIN_P99_TARGET_MS} ms during the storm`, status: p99 < ADMIN_P99_TARGET_MS ? 'held' : 'missed', figure: `${p99} ms (calm: ${Math.max(calm.livez.p99, calm.workers.p99)} ms)` },
      { target: `primary RSS grows < ${RSS_GROWTH_BOUND_MB} MB over the storm`, status: storm.rssMb.end - calm.rssMb.start < RSS_GROWTH_BOUND_MB ? 'held' : 'missed', figure: `${calm.rssMb.start} -> ${storm.rssMb.end} MB (peak ${storm.rssMb.peak})` },
      { target: 'every admin probe answered', status: storm.failures.length === 0 ? 'held' : 'missed', figure: `${storm.failures.length} unanswered` },
    ];
    log('');
    log(table(['phase', '/livez p50 ms', '/livez p99 ms', '/livez max ms', '/workers p50 ms', '/workers p99 ms', '/workers max ms', 'primary CPU %', 'primary RSS MB (start-end)'], [calm, storm].map((phase, i) => [
      i === 0 ? 'calm' : 'storm', phase.livez.p50, phase.livez.p99, phase.livez.max, phase.workers.p50, phase.workers.p99, phase.workers.max, phase.cpuPercent, `${phase.rssMb.start}-${phase.rssMb.end}`,
    ])));
    log(`   ${crashes} crashes in ${params.stormS} s (${result.crashesPerMinute} a minute); at most ${result.maxRestartsInARow} restarts in a row in one slot (backoff 100 ms doubling to 10 s)`);
    log(`   every worker ready again ${recoveredS === undefined ? 'NOT within 60 s' : `${recoveredS} s`} after the cause was gone`);
    for (const t of result.targets) log(`   ${t.status.padEnd(7)} ${t.target}: ${t.figure}`);
    return result;
  } finally {
    await warden.stop();
  }
}
