#!/usr/bin/env node
// bench/autoscale.js (`npm run bench -- autoscale`): a step in load, idle, then saturating, then idle
// again, against `--workers MIN..MAX` and against the fixed counts MIN and MAX, on the CPU-bound app
// (bench/apps/cpu.js). Every second: req/s, p99 latency, failed requests, and the workers serving
// (from /workers). Clients open a new connection per request, so a worker that joins gets its share.
// Parameters: MIN (2), MAX (4), CONNECTIONS (16), IDLE (5 s before), LOAD (30 s), AFTER (30 s idle),
// AUTOSCALE_WINDOW (2 s: --autoscale-window), CONTENDERS (range,fixed-min,fixed-max). Report in
// bench/results/<date>-autoscale.{md,json} (--out DIR elsewhere, --quick: shorter, in a temp dir).

import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startClosedLoop } from './lib/closed-loop.js';
import { ROOT, startWarden } from './lib/contenders.js';
import { killAllTracked, sleep } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, percentile, round, table } from './lib/report.js';

const CONTENDERS = ['range', 'fixed-min', 'fixed-max'];
const PARAM_VARS = ['MIN', 'MAX', 'CONNECTIONS', 'IDLE', 'LOAD', 'AFTER', 'AUTOSCALE_WINDOW', 'CONTENDERS'];

export function autoscaleParams(quick = false) {
  const min = envNumber('MIN', 2, { min: 1, integer: true });
  const max = envNumber('MAX', 4, { min: 1, integer: true });
  if (max < min) throw new Error(`MAX (${max}) must be at least MIN (${min})`);
  return {
    min, max,
    connections: envNumber('CONNECTIONS', 16, { min: 1, integer: true }),
    idleS: envNumber('IDLE', quick ? 3 : 5, { min: 1 }),
    loadS: envNumber('LOAD', quick ? 15 : 30, { min: 1 }),
    afterS: envNumber('AFTER', quick ? 15 : 30, { min: 1 }),
    windowS: envNumber('AUTOSCALE_WINDOW', 2, { min: 0.1 }),
    contenders: envList('CONTENDERS', CONTENDERS, CONTENDERS),
  };
}

function flagsFor(contender, params) {
  switch (contender) {
    case 'range':
      return { workers: params.min, flags: ['--workers', `${params.min}..${params.max}`, '--autoscale-window', String(params.windowS)], label: `--workers ${params.min}..${params.max}` };
    case 'fixed-min':
      return { workers: params.min, flags: [], label: `--workers ${params.min}` };
    default:
      return { workers: params.max, flags: [], label: `--workers ${params.max}` };
  }
}

/** One run: the load steps up after `idleS`, back down after `loadS`; a row per second. */
async function runOne(contender, params, log) {
  const { workers, flags, label } = flagsFor(contender, params);
  // The --workers in `flags` comes last and wins (commander keeps the last value); `workers` is the count to wait for.
  const warden = await startWarden({ workers, app: 'cpu.js', flags });
  const seconds = [];
  const records = [];
  let load;
  try {
    const startedAt = performance.now();
    const total = params.idleS + params.loadS + params.afterS;
    for (let second = 1; second <= total; second++) {
      if (second === params.idleS + 1) load = startClosedLoop(warden.url, { connections: params.connections, timeoutMs: 10_000, modes: ['newconn'], onRecord: (record) => records.push(record) });
      if (second === params.idleS + params.loadS + 1) await load?.stop();
      await sleep(Math.max(0, startedAt + second * 1000 - performance.now()));
      const report = await warden.workersReport().catch(() => undefined);
      seconds.push({
        second, phase: second <= params.idleS ? 'idle' : second <= params.idleS + params.loadS ? 'load' : 'after',
        serving: report?.workers.filter((worker) => worker.inRotation).length ?? null,
        target: report?.primary.workersTarget ?? null,
        fleetUtilization: report?.primary.fleetUtilization ?? null,
      });
    }
    await load?.stop();
    const rows = seconds.map((row) => {
      const from = startedAt + (row.second - 1) * 1000;
      const ended = records.filter((record) => record.end >= from && record.end < from + 1000);
      const ok = ended.filter((record) => record.failure === undefined).map((record) => record.end - record.start).sort((a, b) => a - b);
      return { ...row, requests: ok.length, failed: ended.length - ok.length, p99Ms: round(percentile(ok, 99), 1) ?? null };
    });
    const loaded = records.filter((record) => record.start >= startedAt + params.idleS * 1000);
    const okMs = loaded.filter((record) => record.failure === undefined).map((record) => record.end - record.start).sort((a, b) => a - b);
    const during = rows.filter((row) => row.phase === 'load');
    const firstGrow = rows.find((row) => row.target !== null && row.target > params.min && contender === 'range');
    const backToMin = contender === 'range' ? rows.find((row) => row.phase === 'after' && row.target === params.min && row.serving === params.min) : undefined;
    const summary = {
      contender, label,
      loadRps: round(during.reduce((sum, row) => sum + row.requests, 0) / params.loadS, 1),
      // The second half of the load: the range has grown by then; the fixed counts are as they were.
      lateLoadRps: round(during.slice(Math.floor(during.length / 2)).reduce((sum, row) => sum + row.requests, 0) / Math.max(1, during.length - Math.floor(during.length / 2)), 1),
      p99Ms: round(percentile(okMs, 99), 1),
      failed: loaded.length - okMs.length,
      requests: loaded.length,
      maxServing: Math.max(...rows.map((row) => row.serving ?? 0)),
      growAfterS: firstGrow === undefined ? null : firstGrow.second - params.idleS,
      backToMinAfterS: backToMin === undefined ? null : backToMin.second - params.idleS - params.loadS,
    };
    log(`   ${label.padEnd(16)} load ${summary.loadRps} req/s (second half ${summary.lateLoadRps}), p99 ${summary.p99Ms} ms, ${summary.failed} failed of ${summary.requests}, up to ${summary.maxServing} workers` +
      `${contender === 'range' ? `, grew ${summary.growAfterS ?? '-'} s into the load, back to ${params.min} ${summary.backToMinAfterS ?? '-'} s after it` : ''}`);
    return { summary, rows };
  } finally {
    await load?.stop();
    await warden.stop();
  }
}

function markdown(result) {
  const { params } = result;
  const lines = [
    `# Autoscaling: a step in load (${result.date.slice(0, 16).replace('T', ' ')} UTC)`,
    '',
    `${machineLine(result.machine)}. App: bench/apps/cpu.js (CPU-bound), ${params.connections} clients, a new connection per request.`,
    `Load: ${params.idleS} s idle, ${params.loadS} s saturating, ${params.afterS} s idle. \`--autoscale-window ${params.windowS}\` (grow after ${params.windowS} s busy, retire after ${3 * params.windowS} s idle, ${2 * params.windowS} s between changes).`,
    `Reproduce: \`${result.command}\` (${result.totalS} s).`,
    '',
    '## Summary',
    '',
    '| contender | req/s under load | req/s, second half of the load | p99 ms under load | failed | most workers serving | grew after (s into the load) | back to MIN after (s after the load) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...result.runs.map(({ summary: s }) => `| \`${s.label}\` | ${s.loadRps} | ${s.lateLoadRps} | ${s.p99Ms ?? '-'} | ${s.failed} of ${s.requests} | ${s.maxServing} | ${s.growAfterS ?? '-'} | ${s.backToMinAfterS ?? '-'} |`),
    '',
    'Read the figures as ratios within this run, and mind the load average above: other work may share',
    'the machine. On a quiet host with fewer cores than MAX, workers past the core count only share the',
    'same CPUs; on a busy one, more processes also take a larger share of the CPUs from the other work,',
    'so a bigger fleet can win even there. What the range shows is the fleet following the load (workers',
    'serving, second by second, below), its throughput once grown (second half), and no failed request.',
    '',
  ];
  for (const run of result.runs) {
    lines.push(`## \`${run.summary.label}\` over time`, '', '| s | phase | workers serving | target | fleet ELU | req/s | p99 ms | failed |', '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const row of run.rows) {
      lines.push(`| ${row.second} | ${row.phase} | ${row.serving ?? '-'} | ${row.target ?? '-'} | ${row.fleetUtilization === null ? '-' : `${Math.round(row.fleetUtilization * 100)} %`} | ${row.requests} | ${row.p99Ms ?? '-'} | ${row.failed} |`);
    }
    lines.push('');
  }
  return `${lines.join('\n')}\n`;
}

export async function runAutoscale(log = (line) => process.stdout.write(`${line}\n`), { quick = false, out } = {}) {
  const params = autoscaleParams(quick);
  const info = machine();
  const date = new Date().toISOString();
  const started = performance.now();
  log(`== autoscale: ${params.idleS} s idle, ${params.loadS} s of ${params.connections} clients, ${params.afterS} s idle; ${params.contenders.join(', ')} (MIN ${params.min}, MAX ${params.max})`);
  log(`   ${machineLine(info)}`);
  const runs = [];
  try {
    for (const contender of params.contenders) runs.push(await runOne(contender, params, log));
  } finally {
    killAllTracked();
  }
  const result = {
    bench: 'autoscale', date, quick, machine: info, params, runs, totalS: Math.round((performance.now() - started) / 1000),
    command: `${PARAM_VARS.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]} `).join('')}npm run bench -- autoscale${quick ? ' --quick' : ''}`,
  };
  log('');
  log(table(['contender', 'req/s load', 'req/s 2nd half', 'p99 ms', 'failed', 'max workers', 'grew after s', 'back to MIN s'],
    runs.map(({ summary: s }) => [s.label, s.loadRps, s.lateLoadRps, s.p99Ms, s.failed, s.maxServing, s.growAfterS, s.backToMinAfterS])));
  const outDir = out ?? (quick ? mkdtempSync(join(tmpdir(), 'warden-bench-autoscale-')) : join(ROOT, 'bench', 'results'));
  mkdirSync(outDir, { recursive: true });
  const base = `${date.slice(0, 16).replace(/[:T]/g, '-')}-autoscale${quick ? '-quick' : ''}`;
  writeFileSync(join(outDir, `${base}.md`), markdown(result));
  writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(result, null, 1)}\n`);
  log(`== report: ${join(outDir, `${base}.md`)} (${result.totalS}s)`);
  return { file: join(outDir, `${base}.md`), summary: runs.map((run) => run.summary) };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runAutoscale();
}
