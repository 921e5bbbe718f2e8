// `npm run bench -- profile`: where the primary's start-up time and memory go. For each of
// PROFILE_WORKERS (1,8) worker counts, PROFILE_RUNS (3) times (the median of each figure is reported),
// `node --cpu-prof bin/warden.js serve bench/apps/hello.js` (the
// workers are not profiled: warden does not pass its own node options on), stopped with SIGTERM
// once /workers shows every worker ready. From the profile: when the first worker was spawned, the
// primary's busy time before it split into module loading, GC and its own code, and the functions
// with the most self time from start to every worker ready; with PROFILE_IDLE seconds, the same for
// the idle primary after that. A second start with a module-load hook
// (lib/module-log.js) counts the modules the primary loads, per package and src/ folder.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './lib/contenders.js';
import { rssMb, sleep, startProcess } from './lib/processes.js';
import { envNumber, machine, machineLine, median, round, table } from './lib/report.js';

const WARDEN_BIN = join(ROOT, 'bin', 'warden.js');
const APP = join(ROOT, 'bench', 'apps', 'hello.js');
const READY_TIMEOUT_MS = 60_000;

function workerCounts() {
  const raw = process.env.PROFILE_WORKERS ?? '1,8';
  const counts = raw.split(',').map((item) => Number(item.trim()));
  if (counts.some((count) => !Number.isInteger(count) || count < 1)) throw new Error(`PROFILE_WORKERS must be worker counts, comma-separated (got "${raw}")`);
  return counts;
}

/**
 * Start warden with `nodeArgs`, wait until it has logged every worker ready; returns { proc, readyMs }.
 * Its log, not /workers, tells: polling the admin server would put the poll's cost in the profile.
 */
async function startUntilReady(nodeArgs, workers, env = process.env) {
  const startedAt = performance.now();
  const proc = startProcess(process.execPath, [...nodeArgs, WARDEN_BIN, 'serve', APP, '--workers', String(workers), '--port', '0', '--admin-port', '0'], { label: 'warden (profiled)', cwd: ROOT, env });
  await proc.spawned;
  for (let slot = 1; slot <= workers; slot++) await proc.waitForLine(new RegExp(`worker ${slot} ready`), READY_TIMEOUT_MS);
  return { proc, startedAt, readyMs: performance.now() - startedAt };
}

const shortUrl = (url) => url.replace(/^file:\/\/.*?\/(dist\/src|node_modules)\//, '$1/').replace(/^file:\/\/.*\//, '');

/**
 * The pure part: a .cpuprofile -> first spawn, busy time before it by kind, top self times until
 * `untilMs`, and (when `idleFromMs` is given) the busy time and top self times from then to the end.
 */
export function analyzeProfile(profile, untilMs = Infinity, limit = Infinity, idleFromMs = Infinity) {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const stackOf = (id) => {
    const stack = [];
    for (let at = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at));
    return stack;
  };
  const isSpawn = (node) => node.callFrame.functionName === 'spawn' && node.callFrame.url.includes('child_process');
  const isLoading = (node) => /internal\/modules\/(esm|cjs)|internal\/bootstrap/.test(node.callFrame.url) || node.callFrame.functionName === 'compileForInternalLoader';
  let t = 0;
  let firstSpawnMs;
  const before = new Map();
  const self = new Map();
  let busyMs = 0;
  const idle = new Map();
  let idleBusyMs = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000;
    t += dt;
    const stack = stackOf(id);
    const top = stack[0].callFrame;
    if (top.functionName === '(idle)') return;
    const own = stack.find((node) => node.callFrame.url.includes('/dist/src/') || node.callFrame.url.includes('/node_modules/'));
    const where = own ?? stack[0];
    const name = `${where.callFrame.functionName || '(top level)'} ${shortUrl(where.callFrame.url) || '(native)'}:${where.callFrame.lineNumber + 1}`;
    if (t >= idleFromMs) {
      idleBusyMs += dt;
      idle.set(name, (idle.get(name) ?? 0) + dt);
    }
    if (t > untilMs) return;
    busyMs += dt;
    if (firstSpawnMs === undefined && stack.some(isSpawn)) firstSpawnMs = t;
    if (firstSpawnMs === undefined) {
      const kind = top.functionName === '(garbage collector)' ? 'garbage collection' : stack.some(isLoading) ? 'module loading (resolve, read, compile, evaluate)'
        : own !== undefined ? `${own.callFrame.functionName || '(top level)'} ${shortUrl(own.callFrame.url)}` : `node: ${top.functionName || '(anonymous)'}`;
      before.set(kind, (before.get(kind) ?? 0) + dt);
    }
    self.set(name, (self.get(name) ?? 0) + dt);
  });
  const top = (map, count) => [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([what, ms]) => ({ what, ms: round(ms, 1) }));
  const beforeSpawnMs = [...before.values()].reduce((a, b) => a + b, 0);
  const idleSpanMs = Number.isFinite(idleFromMs) ? Math.max(0, t - idleFromMs) : 0;
  return {
    firstSpawnMs: round(firstSpawnMs), busyMs: round(busyMs), beforeSpawnBusyMs: round(beforeSpawnMs), beforeSpawn: top(before, limit), topSelf: top(self, limit),
    idleSpanMs: round(idleSpanMs), idleBusyMs: round(idleBusyMs, 1), idleSelf: top(idle, limit),
  };
}

/**
 * The median of each figure over several profiled starts (an item missing from a run counts 0 there):
 * on a shared machine one start's profile carries whatever preempted it (a 1-ms read that waited
 * 140 ms for a core), the median of three does much less.
 */
export function medianOfRuns(analyses) {
  const mid = (values) => round(median(values), 1);
  const merge = (field, count) => {
    const keys = new Set(analyses.flatMap((a) => a[field].map((row) => row.what)));
    return [...keys].map((what) => ({ what, ms: mid(analyses.map((a) => a[field].find((row) => row.what === what)?.ms ?? 0)) }))
      .sort((a, b) => b.ms - a.ms).slice(0, count);
  };
  return {
    runs: analyses.length,
    firstSpawnMs: mid(analyses.map((a) => a.firstSpawnMs)), busyMs: mid(analyses.map((a) => a.busyMs)), beforeSpawnBusyMs: mid(analyses.map((a) => a.beforeSpawnBusyMs)),
    beforeSpawn: merge('beforeSpawn', 8), topSelf: merge('topSelf', 15),
    idleSpanMs: mid(analyses.map((a) => a.idleSpanMs)), idleBusyMs: mid(analyses.map((a) => a.idleBusyMs)), idleSelf: merge('idleSelf', 10),
  };
}

const MODULE_LOG_HOOK = join(ROOT, 'bench', 'lib', 'module-log.js');

async function loadedModules(workers, dir) {
  const logFile = join(dir, 'modules.log');
  writeFileSync(logFile, '');
  const { proc } = await startUntilReady(['--import', pathToFileURL(MODULE_LOG_HOOK).href], workers, { ...process.env, BENCH_MODULE_LOG: logFile });
  await sleep(1000);
  const rss = rssMb(proc.pid);
  await proc.stop(3000);
  const urls = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
  const groups = new Map();
  for (const url of urls) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    const src = /dist\/src\/(.+)$/.exec(url)?.[1];
    const folder = src === undefined ? undefined : src.includes('/') ? src.slice(0, src.indexOf('/') + 1) : '';
    const key = url.startsWith('node:') ? 'node: built-ins' : pkg !== undefined ? `package ${pkg}` : folder !== undefined ? `src/${folder}` : shortUrl(url);
    groups.set(key, (groups.get(key) ?? 0) + 1);
  }
  return { count: urls.length, rssMbWithHook: round(rss, 1), byGroup: [...groups].sort((a, b) => b[1] - a[1]).map(([group, count]) => ({ group, count })) };
}

export async function runProfileStartup(log = (line) => process.stdout.write(`${line}\n`)) {
  const info = machine();
  log(`== profile: the primary's start-up, ${workerCounts().join(' and ')} workers`);
  log(`   ${machineLine(info)}`);
  const results = [];
  const runs = envNumber('PROFILE_RUNS', 3, { min: 1, integer: true });
  const idleS = envNumber('PROFILE_IDLE', 0, { min: 0 });
  for (const workers of workerCounts()) {
    const analyses = [];
    const ready = [];
    const rss = [];
    let modules;
    for (let run = 1; run <= runs; run++) {
      const dir = mkdtempSync(join(tmpdir(), 'warden-bench-profile-'));
      try {
        const { proc, startedAt, readyMs } = await startUntilReady(['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '200'], workers);
        rss.push(rssMb(proc.pid));
        const idleStartedMs = performance.now() - startedAt;
        if (idleS > 0) await sleep(idleS * 1000);
        await proc.stop(10_000); // the profile is written as the primary exits
        const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
        if (file === undefined) throw new Error('the primary wrote no .cpuprofile');
        const profile = JSON.parse(readFileSync(join(dir, file), 'utf8'));
        // The profile starts once node has booted; readyMs counts from spawn.
        // Profile time starts after node's boot, a little later than readyMs's spawn: the idle window
        // starts half a second after ready, so no start-up work falls in it.
        analyses.push(analyzeProfile(profile, readyMs, Infinity, idleS > 0 ? idleStartedMs + 500 : Infinity));
        ready.push(readyMs);
        modules ??= await loadedModules(workers, dir);
        if (process.env.PROFILE_KEEP !== undefined) writeFileSync(join(process.env.PROFILE_KEEP, `primary-${workers}-workers-${run}.cpuprofile`), JSON.stringify(profile));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    results.push({ workers, readyMs: round(median(ready)), primaryRssMbAtReady: round(median(rss), 1), ...medianOfRuns(analyses), modules });
  }
  for (const r of results) {
    log('');
    log(`-- ${r.workers} worker(s), median of ${r.runs} starts: every worker ready ${r.readyMs} ms after spawn; first worker spawned ${r.firstSpawnMs} ms into the profile; primary busy ${r.busyMs} ms until ready, ${r.beforeSpawnBusyMs} ms of it before the first spawn; RSS at ready ${r.primaryRssMbAtReady} MB`);
    log(table(['busy before the first spawn', 'ms'], r.beforeSpawn.map((row) => [row.what, row.ms])));
    log(table(['time at the nearest warden or package frame, start to every worker ready', 'ms'], r.topSelf.map((row) => [row.what, row.ms])));
    if (r.idleSpanMs > 0) {
      log(`   idle after ready: busy ${r.idleBusyMs} ms in ${r.idleSpanMs} ms (${round((100 * r.idleBusyMs) / r.idleSpanMs, 2)} % of a core)`);
      log(table(['time at the nearest warden or package frame, idle', 'ms'], r.idleSelf.map((row) => [row.what, row.ms])));
    }
    log(`   ${r.modules.count} modules loaded: ${r.modules.byGroup.map((g) => `${g.group} ${g.count}`).join(', ')}`);
  }
  return { machine: info, results };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  runProfileStartup().then(() => process.exit(0), (error) => {
    process.stderr.write(`bench/profile-startup.js: ${error.message}\n`);
    process.exit(1);
  });
}
