#!/usr/bin/env node
// `npm run bench`: the whole suite, side by side in one run, and one report.
//   npm run bench                 full run: report in bench/results/<date>.{md,svg,json}
//   npm run bench -- --quick      every contender, every experiment, short (under 3 minutes); report in a temp dir
//   npm run bench -- --check      exit 1 unless every contender produced figures (what CI asserts)
//   npm run bench -- --out DIR    where the report goes
//   npm run bench -- --skip freeze,memory    leave experiments out (throughput, mixed, freeze, memory, reload, scale)
//   npm run bench -- balance | freeze        the two older single scripts, as before
//   npm run bench -- reload | storm          the rolling reload on its own; the primary under a crash storm
//   npm run bench -- verdicts [--quick]      the verdict matrix: healthy shapes never recycled, poisoned workers caught
//   npm run bench -- spread                  how new connections spread over the workers at light to full load
//   npm run bench -- profile                 where the primary's start-up time and memory go (--cpu-prof, modules loaded)
//   npm run bench -- scale                   the fleet-size experiment alone, in the suite's report shape (temp dir unless --out)
//   npm run bench -- machine                 the pure state machine's cost per event (no processes)
//   npm run bench -- restart                 restart warden itself under load, with and without socket activation
//   npm run bench -- autoscale [--quick]     a step in load against --workers MIN..MAX and the fixed counts MIN and MAX
// Parameters come from env vars (ROUNDS, DURATION, CONNECTIONS, WARMUP, APPS, LOADS, CONTENDERS,
// MIXED_DURATION, MIXED_LOOPS, WORKERS); see bench/README.md.

import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runBalance } from './balance.js';
import { runFreeze } from './freeze.js';
import { runMachineStep } from './machine-step.js';
import { runProfileStartup } from './profile-startup.js';
import { runScale } from './scale.js';
import { runSpread } from './spread.js';
import { runStorm } from './storm.js';
import { runVerdicts } from './verdicts.js';
import { runRestart } from './restart.js';
import { runAutoscale } from './autoscale.js';
import { missingFigures, targets } from './lib/check.js';
import { CONTENDERS, skippedContenders } from './lib/contender-set.js';
import { assertWardenBuilt, ROOT } from './lib/contenders.js';
import { runMixed, runThroughput, spread } from './lib/experiments.js';
import { LOADS, wrkBin } from './lib/loads.js';
import { markdownReport, ratioChart } from './lib/markdown.js';
import { killAllTracked } from './lib/processes.js';
import { runReload } from './lib/reload.js';
import { envList, envNumber, machine, median, printJson } from './lib/report.js';

const APPS = ['hello.js', 'cpu.js', 'express.js'];
const EXPERIMENTS = ['throughput', 'mixed', 'freeze', 'memory', 'reload', 'scale'];
const log = (line) => process.stdout.write(`${line}\n`);
// The parameters a report's "reproduce with" line repeats when they were set.
const PARAMETER_VARS = ['ROUNDS', 'DURATION', 'CONNECTIONS', 'WARMUP', 'APPS', 'LOADS', 'CONTENDERS', 'MIXED_DURATION', 'MIXED_LOOPS', 'WORKERS',
  'SCALE_WORKERS', 'LOAD_WORKERS', 'SCALE_ROUNDS', 'SCALE_SETTLE', 'IDLE_WINDOW', 'LOAD_WINDOW', 'ADMIN_REQUESTS'];

export function suiteParams(quick) {
  const wrk = wrkBin() !== undefined;
  const defaultLoads = quick ? ['autocannon', 'newconn'] : ['autocannon', 'newconn', ...(wrk ? ['wrk', 'wrk-newconn'] : [])];
  const loads = envList('LOADS', defaultLoads, Object.keys(LOADS));
  if (!wrk && loads.some((load) => load.startsWith('wrk'))) throw new Error('LOADS names a wrk load but wrk is not installed (apt-get install wrk)');
  return {
    workers: envNumber('WORKERS', 2, { min: 1, integer: true }),
    rounds: envNumber('ROUNDS', quick ? 1 : 3, { min: 1, integer: true }),
    durationS: envNumber('DURATION', quick ? 1 : 5, { min: 1 }),
    connections: envNumber('CONNECTIONS', 50, { min: 1, integer: true }),
    warmupS: envNumber('WARMUP', quick ? 0.25 : 1, { min: 0 }),
    mixedDurationS: envNumber('MIXED_DURATION', quick ? 2 : 8, { min: 1 }),
    mixedLoops: envNumber('MIXED_LOOPS', 16, { min: 1, integer: true }),
    // The quick run leaves out the Express app (its contenders take the longest to start).
    apps: envList('APPS', (quick ? APPS.slice(0, 2) : APPS).map((app) => app.replace('.js', '')), APPS.map((app) => app.replace('.js', ''))).map((app) => `${app}.js`),
    loads,
    contenders: envList('CONTENDERS', Object.keys(CONTENDERS), Object.keys(CONTENDERS)),
    // The quick run starts the contenders of an app at once (its startup figures are then rough).
    parallelStart: quick,
  };
}

/** bench/memory.js (RSS and startup per contender) when it is in the tree; undefined otherwise. */
async function runMemoryIfPresent(quick) {
  const file = fileURLToPath(new URL('./memory.js', import.meta.url));
  if (!existsSync(file)) return undefined;
  const memory = await import(pathToFileURL(file).href);
  if (typeof memory.runMemory !== 'function') return undefined;
  if (quick) {
    process.env.ROUNDS = '1';
    process.env.SETTLE ??= '1';
    process.env.LOAD_REQUESTS ??= '500';
  }
  const savedContenders = process.env.CONTENDERS;
  delete process.env.CONTENDERS; // memory.js has contender names of its own
  try {
    return await memory.runMemory();
  } finally {
    if (savedContenders !== undefined) process.env.CONTENDERS = savedContenders;
  }
}

async function runFreezeSuite(quick) {
  if (quick) {
    process.env.FAULTS ??= 'stop';
    process.env.BEFORE ??= '2';
    process.env.WINDOW ??= '4';
  }
  const savedContenders = process.env.CONTENDERS;
  delete process.env.CONTENDERS; // freeze.js has contender names of its own
  try {
    return await runFreeze(log);
  } finally {
    if (savedContenders !== undefined) process.env.CONTENDERS = savedContenders;
  }
}

async function suite(options) {
  const quick = options.quick;
  const started = performance.now();
  const params = suiteParams(quick);
  const skip = new Set(options.skip);
  const info = machine();
  const date = new Date().toISOString();
  log(`== npm run bench${quick ? ' --quick' : ''}: ${info.node}, ${info.cores} cores, load average ${info.loadavg1m}; apps ${params.apps.join(', ')}; loads ${params.loads.join(', ')}`);
  // A contender this Node cannot run (SO_REUSEPORT before 22.12) is left out with its reason, not missing.
  const skipped = skippedContenders(params.contenders);
  for (const [key, reason] of Object.entries(skipped)) log(`   ${key} not run: ${reason}`);
  params.contenders = params.contenders.filter((key) => skipped[key] === undefined);
  const result = {
    bench: 'suite', date, quick, machine: info, params, wrk: wrkBin() !== undefined, contenders: params.contenders, skipped,
    labels: Object.fromEntries(params.contenders.map((key) => [key, CONTENDERS[key].label])),
    throughput: [], sectionsS: {}, only: options.only,
    command: [...PARAMETER_VARS.filter((name) => process.env[name] !== undefined).map((name) => `${name}=${process.env[name]}`),
      options.only === undefined ? `npm run bench${quick ? ' -- --quick' : ''}` : `npm run bench -- ${options.only}${quick ? ' --quick' : ''}`].join(' '),
  };
  // The machine's load average every 10 s: whether other jobs shared the cores during the run.
  const loadSamples = [info.loadavg1m];
  const loadTimer = setInterval(() => loadSamples.push(loadavg()[0]), 10_000);
  loadTimer.unref();
  const startups = Object.fromEntries(params.contenders.map((key) => [key, []]));
  const addStartup = (startup) => {
    for (const [key, ms] of Object.entries(startup)) startups[key]?.push(ms);
  };
  let sectionStart = performance.now();
  const section = (name) => {
    result.sectionsS[name] = Math.round((performance.now() - sectionStart) / 1000);
    sectionStart = performance.now();
  };
  if (!skip.has('throughput')) {
    for (const app of params.apps) {
      const block = await runThroughput({ app, loads: params.loads, keys: params.contenders, params, log });
      addStartup(block.startup);
      result.throughput.push(block);
      section(`throughput ${app}`);
    }
  }
  if (!skip.has('mixed')) {
    result.mixed = await runMixed({ keys: params.contenders, params, log });
    addStartup(result.mixed.startup);
    section('mixed');
  }
  result.startup = Object.fromEntries(Object.entries(startups).map(([key, values]) => [key, spread(values)]));
  if (!skip.has('freeze')) result.freeze = await runFreezeSuite(quick);
  section('freeze');
  if (!skip.has('memory')) result.memory = await runMemoryIfPresent(quick);
  section('memory');
  result.reload = skip.has('reload') ? { ran: false, reason: 'skipped (`--skip reload`)' } : await runReload({ quick, log });
  section('reload');
  if (!skip.has('scale')) result.scale = await runScale({ quick, log });
  section('scale');
  clearInterval(loadTimer);
  result.totalS = Math.round((performance.now() - started) / 1000);
  result.loadAvgEnd = loadavg()[0];
  loadSamples.push(result.loadAvgEnd);
  // The bench itself keeps the load near the core count; above 1.5 x the cores others were running too.
  result.loadAvg = { median: Number(median(loadSamples).toFixed(2)), max: Number(Math.max(...loadSamples).toFixed(2)), samples: loadSamples.length };
  if (result.loadAvg.max > info.cores * 1.5) {
    result.contention = `load average up to ${result.loadAvg.max} (median ${result.loadAvg.median}) on ${info.cores} cores during the run: other jobs shared the machine, so absolute figures are low and noisy; ratios within a round still compare contenders`;
  }
  result.missing = missingFigures(result);
  result.targets = targets(result);
  return result;
}

function writeReport(result, outDir) {
  mkdirSync(outDir, { recursive: true });
  const base = `${result.date.slice(0, 16).replace(/[:T]/g, '-')}${result.only === undefined ? '' : `-${result.only}`}${result.quick ? '-quick' : ''}`;
  // The chart shows the throughput experiment; a run of one other experiment has none.
  const chartName = result.only === undefined ? `${base}.svg` : undefined;
  if (chartName !== undefined) writeFileSync(join(outDir, chartName), ratioChart(result));
  writeFileSync(join(outDir, `${base}.md`), markdownReport(result, { chartFile: chartName }));
  writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(result, null, 1)}\n`);
  return join(outDir, `${base}.md`);
}

/** `npm run bench -- reload`: bench/reload.js on its own, with its own table. */
async function runReloadAlone() {
  const { runReload: runReloadBench } = await import('./reload.js');
  return runReloadBench();
}

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { quick: { type: 'boolean', default: false }, check: { type: 'boolean', default: false }, out: { type: 'string' }, skip: { type: 'string', default: '' } },
  });
  assertWardenBuilt();
  const skip = values.skip.split(',').map((item) => item.trim()).filter(Boolean);
  for (const item of skip) if (!EXPERIMENTS.includes(item)) throw new Error(`--skip: unknown experiment "${item}" (expected some of ${EXPERIMENTS.join(', ')})`);
  const isScaleAlone = positionals.length === 1 && positionals[0] === 'scale';
  if (positionals.length > 0 && !isScaleAlone) {
    const singles = { balance: runBalance, freeze: runFreeze, reload: runReloadAlone, storm: runStorm, verdicts: runVerdicts, spread: runSpread, profile: runProfileStartup, machine: runMachineStep, restart: runRestart, autoscale: runAutoscale };
    for (const name of positionals) {
      if (!Object.hasOwn(singles, name)) throw new Error(`unknown bench "${name}" (expected: ${Object.keys(singles).join(', ')}, or no name for the whole suite)`);
    }
    for (const name of positionals) printJson(name, await singles[name](log, { quick: values.quick, out: values.out }));
    return 0;
  }
  const result = isScaleAlone
    ? await suite({ quick: values.quick, skip: EXPERIMENTS.filter((name) => name !== 'scale'), only: 'scale' })
    : await suite({ quick: values.quick, skip });
  const outDir = values.out ?? (values.quick || isScaleAlone ? mkdtempSync(join(tmpdir(), 'warden-bench-')) : join(ROOT, 'bench', 'results'));
  const file = writeReport(result, outDir);
  log('');
  log('== targets');
  for (const t of result.targets) log(`   ${t.status.padEnd(12)} ${t.target}: ${t.figure}`);
  log(`== report: ${file} (${result.totalS}s)`);
  if (result.missing.length > 0) {
    log(`== missing figures:\n${result.missing.map((line) => `   ${line}`).join('\n')}`);
    if (values.check) return 1;
  } else if (values.check) {
    log('== check: every contender produced figures');
  }
  return 0;
}

main()
  .then((code) => process.exit(code))
  .catch((error) => {
    process.stderr.write(`bench: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
    killAllTracked();
    process.exit(1);
  });
