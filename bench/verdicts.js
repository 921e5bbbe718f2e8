#!/usr/bin/env node
// bench/verdicts.js (`npm run bench -- verdicts`): the verdict matrix. Healthy traffic shapes that
// must never see a worker recycled, and poisoned workers that must leave rotation and be replaced,
// each in both balance modes, on keep-alive and new connections, on a quiet host and on a busy one
// (CPU-bound neighbour processes), ROUNDS times; node:cluster and PM2 beside warden for the
// poisoned cells. Writes a markdown table and its JSON to the report directory.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { pm2Bin, readStats, ROOT, startCluster, startPm2, startWarden } from './lib/contenders.js';
import { killAllTracked, killTracked, sleep, startProcess } from './lib/processes.js';
import { envList, envNumber, machine, machineLine, printJson } from './lib/report.js';
import { CELLS, QUICK_CELLS, startDependency, startTraffic } from './lib/verdict-cells.js';
import { markdownReport, runFigures, summarize } from './lib/verdict-report.js';
import { watchFleet } from './lib/verdict-watch.js';

const MODES = ['shared', 'handoff'];
const HOSTS = ['quiet', 'busy'];
const CONNS = ['newconn', 'keepalive'];
const OTHER_CONTENDERS = ['cluster', 'pm2'];
const APP = 'verdict-cells.js';
/**
 * The env vars verdictParams reads, and warden's own that change its verdicts (they reach warden
 * through the environment): the ones set go into the report's command.
 */
const PARAM_VARS = ['ROUNDS', 'CELLS', 'MODES', 'CONNS', 'HOSTS', 'CONTENDERS', 'CONTENDER_HOSTS', 'CONTENDER_ROUNDS', 'HEALTHY_S', 'CAUGHT_S', 'WORKERS', 'NEIGHBOURS', 'WARDEN_COMPARE_PROBE'];
/** Seconds each run costs besides its traffic (start, every worker answering, stop), for the estimate. */
const OVERHEAD_S = 2.5;

export function verdictParams(quick) {
  const cells = envList('CELLS', quick ? QUICK_CELLS : Object.keys(CELLS), Object.keys(CELLS));
  return {
    workers: envNumber('WORKERS', 2, { min: 2, integer: true }),
    rounds: envNumber('ROUNDS', quick ? 1 : 5, { min: 1, integer: true }),
    // Longer than --stuck-after's default (10 s): a waiting worker must outlast the rule that judges it
    // (its silence starts with the traffic; 2 s leave room for the verdict's heartbeat and tick).
    healthyS: envNumber('HEALTHY_S', 12, { min: 1 }),
    caughtS: envNumber('CAUGHT_S', 6, { min: 1 }),
    cells,
    modes: envList('MODES', MODES, MODES),
    hosts: envList('HOSTS', HOSTS, HOSTS),
    conns: envList('CONNS', quick ? ['newconn'] : CONNS, CONNS),
    contenders: envList('CONTENDERS', OTHER_CONTENDERS, OTHER_CONTENDERS),
    // node:cluster and PM2 never replace a poisoned worker: one connection kind, the quiet host, unless asked.
    contenderHosts: envList('CONTENDER_HOSTS', ['quiet'], HOSTS),
    // ...and in the first round only: one run each shows it, and the matrix keeps to about an hour.
    contenderRounds: envNumber('CONTENDER_ROUNDS', 1, { min: 0, integer: true }),
    neighbours: envNumber('NEIGHBOURS', 2, { min: 1, integer: true }),
  };
}

/** Every run of the matrix, in order: rounds outermost, so a run cut short still has every cell. */
export function plan(params) {
  const runs = [];
  for (let round = 1; round <= params.rounds; round++) {
    for (const host of params.hosts) {
      for (const name of params.cells) {
        const cell = CELLS[name];
        const conns = cell.conns.filter((conn) => params.conns.includes(conn));
        const usable = conns.length > 0 ? conns : [cell.conns[0]];
        for (const conn of usable) {
          for (const mode of params.modes) runs.push({ round, host, cell: name, conn, contender: `warden-${mode}` });
        }
        if (cell.kind === 'caught' && params.contenderHosts.includes(host) && round <= params.contenderRounds) {
          for (const contender of params.contenders) runs.push({ round, host, cell: name, conn: usable[0], contender });
        }
      }
    }
  }
  return runs;
}

/**
 * Seconds of traffic in a healthy cell, or watched after the poison in a caught one. Sparse cells are
 * watched twice as long: the stuck rule's fallback (--stuck-after, 10 s) should show as a figure,
 * not as "never".
 */
function windowS(cell, params) {
  if (cell.kind === 'healthy') return params.healthyS;
  return cell.sparse ? params.caughtS * 2 : params.caughtS;
}

export function estimateS(runs, params) {
  return Math.round(runs.reduce((sum, run) => {
    const cell = CELLS[run.cell];
    const trafficS = windowS(cell, params) + (cell.poisonAtS ?? 0);
    return sum + trafficS + OVERHEAD_S + (run.contender === 'pm2' ? 3 : 0);
  }, 0));
}

async function start(contender, env, workers) {
  if (contender.startsWith('warden-')) {
    const mode = contender.slice('warden-'.length);
    const started = await startWarden({ workers, app: APP, env, flags: ['--balance', mode] });
    return { ...started, key: contender };
  }
  // The contenders' app processes inherit this process's env (bench/apps/server.js runs the app).
  Object.assign(process.env, env);
  if (contender === 'cluster') return startCluster({ workers, sched: 'rr', app: APP });
  return startPm2({ workers, app: APP });
}

function arrivalsSince(before, after) {
  const delta = {};
  for (const [pid, entry] of after) {
    const n = entry.requests - (before.get(pid)?.requests ?? 0);
    if (n > 0) delta[pid] = n;
  }
  return delta;
}

async function runOne(run, params, dependency, log) {
  const cell = CELLS[run.cell];
  const env = { VERDICT_SHAPE: cell.shape, VERDICT_DEPENDENCY_URL: dependency.url };
  const contender = await start(run.contender, env, params.workers);
  if (contender === undefined) return undefined; // PM2 not installed
  let watcher;
  let traffic;
  let slowTimer;
  try {
    dependency.fast();
    watcher = watchFleet(contender);
    await watcher.ready;
    const statsBefore = readStats(contender.statsDir);
    const startedAt = performance.now();
    traffic = await startTraffic(cell, run.conn, contender.url);
    // Poisoned cells count arrivals from the poison on (startTraffic returns once it is done).
    const statsFrom = traffic.victim === undefined ? statsBefore : readStats(contender.statsDir);
    // The dependency turns slow for every worker at once, a second into the traffic.
    if (cell.shape === 'dependency') slowTimer = setTimeout(() => dependency.slow(), 1000);
    const from = traffic.victim?.at ?? startedAt;
    const endAt = from + windowS(cell, params) * 1000;
    await sleep(Math.max(0, endAt - 2000 - performance.now()));
    const statsLate = readStats(contender.statsDir);
    await sleep(Math.max(0, endAt - performance.now()));
    const endedAt = performance.now();
    const statsEnd = readStats(contender.statsDir);
    const watched = await watcher.stop();
    await traffic.stop();
    const figures = runFigures({
      cell, watched, records: traffic.records, victim: traffic.victim, startedAt, endedAt,
      arrivals: arrivalsSince(statsFrom, statsEnd),
      lateArrivals: arrivalsSince(statsLate, statsEnd),
      pinnedPid: traffic.pinnedPid, pinnedCount: traffic.pinnedCount,
    });
    const v = figures.victim;
    log(`   r${run.round} ${run.host.padEnd(5)} ${run.cell.padEnd(15)} ${run.contender.padEnd(14)} ${run.conn.padEnd(9)} recycles ${figures.recycles}${figures.recycleReasons.length > 0 ? ` (${figures.recycleReasons.join('; ')})` : ''}, quarantines ${figures.quarantines}${figures.quarantineReasons.length > 0 ? ` (${figures.quarantineReasons.join('; ')})` : ''}, longest wait ${figures.longestWaitS} s, answered ${figures.answered}, failed ${figures.failed}, waiting at end ${figures.unansweredAtEnd}` +
      (v === undefined ? '' : `; victim out ${v.outOfRotationS ?? 'never'} s, replaced ${v.replacedS ?? 'never'} s, receiving at end ${v.stillReceivingAtEnd ? 'yes' : 'no'}`));
    return { ...run, label: contender.label, figures };
  } finally {
    clearTimeout(slowTimer);
    await watcher?.stop();
    await traffic?.stop();
    await contender.stop();
  }
}

/** CPU-bound neighbour processes (a busy host), started and stopped by pid. */
async function startNeighbours(count) {
  const procs = [];
  for (let i = 0; i < count; i++) {
    const proc = startProcess(process.execPath, ['-e', 'for (;;) {}'], { label: `cpu neighbour ${i + 1}` });
    await proc.spawned;
    procs.push(proc);
  }
  return { stop: () => procs.forEach((proc) => killTracked(proc.pid)) };
}

function gitDescribe() {
  try {
    return execFileSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch (error) {
    if (error.code === 'ENOENT' || error.status !== undefined) return undefined; // no git, or not a checkout
    throw error;
  }
}

export async function runVerdicts(log = (line) => process.stdout.write(`${line}\n`), { quick = false, out } = {}) {
  const params = verdictParams(quick);
  if (params.contenders.includes('pm2') && pm2Bin() === undefined) params.contenders = params.contenders.filter((key) => key !== 'pm2');
  const info = machine();
  const runs = plan(params);
  const started = performance.now();
  const date = new Date().toISOString();
  log(`== verdicts${quick ? ' --quick' : ''}: ${runs.length} runs (${params.cells.length} cells, modes ${params.modes.join(', ')}, hosts ${params.hosts.join(', ')}, ${params.rounds} round(s)), about ${Math.round(estimateS(runs, params) / 60)} min`);
  log(`   ${machineLine(info)}`);
  const dependency = await startDependency();
  const results = [];
  const errors = [];
  let neighbours;
  let host = 'quiet';
  try {
    for (const run of runs) {
      if (run.host !== host) {
        neighbours?.stop();
        neighbours = run.host === 'busy' ? await startNeighbours(params.neighbours) : undefined;
        host = run.host;
      }
      try {
        const result = await runOne(run, params, dependency, log);
        if (result !== undefined) results.push(result);
      } catch (error) {
        // One run that cannot start (a busy host slows a start past its deadline) is reported, not fatal.
        errors.push(`round ${run.round} ${run.host} ${run.cell} ${run.contender} ${run.conn}: ${error.message.split('\n')[0]}`);
        log(`   ${errors.at(-1)}`);
      }
    }
  } finally {
    neighbours?.stop();
    await dependency.close();
  }
  const cells = Object.fromEntries(params.cells.map((name) => [name, CELLS[name]]));
  const result = {
    bench: 'verdicts', date, quick, git: gitDescribe(), machine: info, params, cells, results, errors,
    summary: summarize(results, cells), totalS: Math.round((performance.now() - started) / 1000),
    command: `${PARAM_VARS.filter((name) => process.env[name]).map((name) => `${name}=${process.env[name]} `).join('')}npm run bench -- verdicts${quick ? ' --quick' : ''}`,
  };
  const outDir = out ?? (quick ? mkdtempSync(join(tmpdir(), 'warden-bench-verdicts-')) : join(ROOT, 'bench', 'results'));
  mkdirSync(outDir, { recursive: true });
  const base = `${date.slice(0, 16).replace(/[:T]/g, '-')}-verdicts${quick ? '-quick' : ''}`;
  writeFileSync(join(outDir, `${base}.md`), markdownReport(result));
  writeFileSync(join(outDir, `${base}.json`), `${JSON.stringify(result, null, 1)}\n`);
  log('');
  for (const row of result.summary) log(`   ${row.status.padEnd(7)} ${row.cell} ${row.contender} ${row.conn} ${row.host}: ${row.figure}`);
  log(`== report: ${join(outDir, `${base}.md`)} (${result.totalS}s)`);
  const rows = result.summary.map(({ cell, contender, conn, host, status, figure }) => ({ cell, contender, conn, host, status, figure }));
  return { file: join(outDir, `${base}.md`), json: join(outDir, `${base}.json`), rows, errors };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
  runVerdicts(undefined, values)
    .then((result) => {
      printJson('verdicts', result);
      process.exit(0);
    })
    .catch((error) => {
      process.stderr.write(`bench/verdicts.js: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
      killAllTracked();
      process.exit(1);
    });
}
