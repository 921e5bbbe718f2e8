#!/usr/bin/env node
// bench/soak.js (`npm run soak -- --minutes 5`): steady closed-loop load on `warden serve
// bench/apps/soak.js` while a seeded chaos loop SIGKILLs, SIGSTOPs, busy-loops, poisons and leaks
// workers, reloads and scales. At the end: every worker ready, each failed request explained by a
// fault on the worker that held it (or counted as unexplained), the primary's RSS at start and end,
// warden's exit after SIGTERM, and no process of its tree left. Exits 1 when anything is wrong.
// Memory over time: the primary's RSS every 5 s, its median per minute, and its growth from minute 5
// to the last (the goal: under 2 MB; run `npm run soak -- --minutes 30` for it).
// Decisions (the random source, the next action, attribution, the verdict) are in lib/soak-verdict.js.

import { readdirSync, readFileSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { startClosedLoop } from './lib/closed-loop.js';
import { ROOT, startWarden } from './lib/contenders.js';
import { httpGet } from './lib/http.js';
import { heldClientPorts, isAlive, killAllTracked, killTracked, processState, rssMb, sendSignal, statFields, sleep, startProcess } from './lib/processes.js';
import { machine, machineLine, round, table } from './lib/report.js';
import { ACTIONS, attributeFailures, chooseAction, createRandom, indexConnections, loggedAround, pauseMs, problems, RSS_SAMPLE_S, rssGrowth, verdictDeadlinesMs } from './lib/soak-verdict.js';

const WARDEN_BIN = join(ROOT, 'bin', 'warden.js');
const LOAD_CONNECTIONS = 4;
const REQUEST_TIMEOUT_MS = 30_000;
const MAX_MEMORY_MB = 160;
const LEAK_CALLS = 4; // 4 x 32 MB on top of a ~50 MB worker: over --max-memory
// The chaos hits a worker every ~3 s, so a slot often fails again before its worker has been up
// the 10 s that reset the crash-loop count: --max-restarts 10 would rightly halt warden as crash
// looping (fault 6 tests that guard). The soak tests recovery, so the guard is set out of reach.
// The verdicts' deadlines follow --timeout and --stuck-after: a failure after them is not explained.
const VERDICT_DEADLINES_MS = verdictDeadlinesMs({ timeoutMs: 3000, stuckAfterMs: 3000 });
const WARDEN_FLAGS = ['--timeout', '3', '--stuck-after', '3', '--graceful-timeout', '5', '--max-memory', String(MAX_MEMORY_MB), '--max-restarts', '100000'];
const PAUSE_MS = [1500, 4000];
const READY_DEADLINE_MS = 60_000;
const RSS_MAX_GROWTH_MB = 64;

const USAGE = 'usage: npm run soak -- [--minutes N (default 5)] [--workers N (default 3)] [--seed N] [--balance shared|handoff] [--rate N requests/s per client (default: as fast as answered)] [--json]';

export function parseSoakArgs(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: 'string', default: '5' },
      workers: { type: 'string', default: '3' },
      seed: { type: 'string' },
      balance: { type: 'string', default: 'shared' },
      rate: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  const minutes = Number(values.minutes);
  if (!(minutes > 0) || minutes > 24 * 60) throw new Error(`--minutes must be a number above 0 and at most 1440 (got "${values.minutes}")`);
  const workers = Number(values.workers);
  if (!Number.isInteger(workers) || workers < 2 || workers > 16) throw new Error(`--workers must be an integer from 2 to 16 (got "${values.workers}")`);
  const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer (got "${values.seed}")`);
  if (!['handoff', 'shared'].includes(values.balance)) throw new Error(`--balance must be handoff or shared (got "${values.balance}")`);
  const rate = values.rate === undefined ? undefined : Number(values.rate);
  if (rate !== undefined && !(rate > 0 && rate <= 100_000)) throw new Error(`--rate must be a number of requests per second per client above 0 (got "${values.rate}")`);
  return { minutes, workers, seed, balance: values.balance, rate, json: values.json, help: values.help };
}

const wallNow = () => performance.timeOrigin + performance.now();


/** Field 22 of /proc/<pid>/stat: tells a pid from a later process that reuses the number. */
function startTime(pid) {
  return statFields(pid)?.[19];
}

/** Every pid that ever showed up under warden's primary, sampled every 250 ms, with its start time. */
function watchTree(rootPid) {
  const seen = new Map([[rootPid, startTime(rootPid)]]);
  const sample = () => {
    const parents = new Map();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const fields = statFields(name); // undefined: gone while listed
      if (fields !== undefined) parents.set(Number(name), Number(fields[1]));
    }
    let added = true;
    while (added) {
      added = false;
      for (const [pid, parent] of parents) {
        if (!seen.has(pid) && seen.has(parent)) {
          const started = startTime(pid);
          if (started !== undefined) {
            seen.set(pid, started);
            added = true;
          }
        }
      }
    }
  };
  const timer = setInterval(sample, 250);
  sample();
  return {
    seen,
    stop() {
      clearInterval(timer);
      sample();
    },
    /** Pids seen under warden that still run (same start time: not a reused number). */
    survivors() {
      return [...seen].filter(([pid, started]) => startTime(pid) === started && processState(pid) !== 'Z').map(([pid]) => pid);
    },
  };
}

/** A keep-alive connection of our own and the pid of the worker holding it (its next request goes there too). */
async function pinWorker(url) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const answer = await httpGet(new URL('/pid', url), { agent, timeoutMs: 5000 });
  if (answer.status !== 200) {
    agent.destroy();
    return undefined;
  }
  return { agent, pid: Number(answer.body) };
}

/** Run a warden CLI command against the control socket; resolves with an error sentence or undefined. */
async function control(args, controlPath) {
  const cli = startProcess(process.execPath, [WARDEN_BIN, ...args, '--control', controlPath, '--wait', '120'], { label: `warden ${args.join(' ')}`, cwd: ROOT });
  await cli.spawned;
  const result = await Promise.race([cli.exited, sleep(150_000).then(() => undefined)]);
  killTracked(cli.pid);
  if (result === undefined) return `warden ${args.join(' ')} did not end within 150 s`;
  return result.code === 0 ? undefined : `warden ${args.join(' ')} exited ${result.signal ?? result.code}: ${cli.tail(3)}`;
}

async function workersInRotation(warden) {
  const report = await warden.workersReport();
  return report === undefined ? [] : report.workers.filter((w) => w.pid !== null && w.state === 'ready' && w.inRotation);
}

/** The chaos loop: one action at a time until `endAt`; returns the faults and what went wrong. */
async function runChaos(warden, params, random, endAt, log) {
  const faults = [];
  const actionFailures = [];
  const spinning = [];
  let target = params.workers;
  const servicePort = Number(new URL(warden.url).port);
  const bounds = { min: Math.max(2, params.workers - 1), max: params.workers + 1 };
  const watchGone = (fault) => {
    const poll = setInterval(() => {
      if (!isAlive(fault.pid)) {
        fault.goneAt = wallNow();
        clearInterval(poll);
      }
    }, 50);
    fault.stopWatching = () => clearInterval(poll);
  };
  while (performance.now() < endAt && warden.earlyExit === undefined) {
    await sleep(pauseMs(random, ...PAUSE_MS));
    if (performance.now() >= endAt) break;
    // Never fault the last healthy worker: wait (bounded) until two are in rotation.
    const deadline = performance.now() + 30_000;
    let ready = await workersInRotation(warden);
    while (ready.length < 2 && performance.now() < deadline) {
      await sleep(200);
      ready = await workersInRotation(warden);
    }
    const action = chooseAction(random, { target, ...bounds });
    const elapsedS = round((performance.now() - (endAt - params.minutes * 60_000)) / 1000, 1);
    if (action.kind === 'reload' || action.kind === 'scale') {
      const args = action.kind === 'reload' ? ['reload'] : ['scale', action.step > 0 ? '+1' : '-1'];
      const at = wallNow();
      const error = await control(args, warden.control);
      if (error === undefined && action.kind === 'scale') target += action.step;
      if (error !== undefined) actionFailures.push(error);
      faults.push({ kind: action.kind, at, step: action.step });
      log(`   ${String(elapsedS).padStart(6)}s  ${args.join(' ')}${error ? ` FAILED: ${error}` : ` done in ${round((wallNow() - at) / 1000, 1)} s`}`);
      continue;
    }
    if (ready.length === 0) continue;
    let fault;
    if (action.kind === 'kill' || action.kind === 'stop') {
      const victim = ready[Math.floor(random() * ready.length)];
      // SIGSTOP first, for a SIGKILL too: then the kernel's list of the connections the victim holds
      // is final, one it accepted a moment ago and its app has not been told of included.
      sendSignal(victim.pid, 'SIGSTOP');
      fault = { kind: action.kind, pid: victim.pid, at: wallNow(), held: heldClientPorts(victim.pid, servicePort) ?? [] };
      if (action.kind === 'kill') sendSignal(victim.pid, 'SIGKILL');
    } else {
      const pinned = await pinWorker(warden.url);
      if (pinned === undefined) continue;
      fault = { kind: action.kind, pid: pinned.pid, at: wallNow() };
      if (action.kind === 'spin') {
        // Never answers: warden kills the worker, and this request ends with it.
        spinning.push(pinned.agent);
        httpGet(new URL('/spin', warden.url), { agent: pinned.agent, timeoutMs: 120_000 });
        // Once its loop spins the worker accepts nothing more: what the kernel says it holds then,
        // it holds until it is killed.
        const spun = fault;
        setTimeout(() => {
          spun.held = heldClientPorts(spun.pid, servicePort) ?? [];
        }, 500);
      } else {
        const path = action.kind === 'poison' ? '/poison' : '/leak';
        for (let i = 0; i < (action.kind === 'leak' ? LEAK_CALLS : 1); i++) {
          const answer = await httpGet(new URL(path, warden.url), { agent: pinned.agent, timeoutMs: 10_000 });
          if (answer.status !== 200 || answer.pid !== pinned.pid) {
            actionFailures.push(`GET ${path} on the connection pinned to worker ${pinned.pid} failed: ${answer.error ?? `http ${answer.status}`} from ${answer.pid}`);
            break;
          }
        }
        pinned.agent.destroy();
      }
    }
    watchGone(fault);
    faults.push(fault);
    log(`   ${String(elapsedS).padStart(6)}s  ${ACTIONS[action.kind].label} -> worker ${fault.pid}`);
  }
  return { faults, actionFailures, spinning, target };
}

/** Wait until the target number of workers are ready and in rotation, none of them a faulted pid. */
async function waitAllReady(warden, faultedPids) {
  const deadline = performance.now() + READY_DEADLINE_MS;
  let last;
  while (performance.now() < deadline) {
    last = await warden.workersReport();
    if (last !== undefined) {
      const ready = last.workers.filter((w) => w.pid !== null && w.state === 'ready' && w.inRotation && !faultedPids.has(w.pid));
      const target = last.primary.workersTarget;
      if (ready.length === target && last.workers.length === target) return { allReady: true, ready: ready.length, target };
    }
    await sleep(200);
  }
  const ready = last?.workers.filter((w) => w.state === 'ready' && w.inRotation).length ?? 0;
  return { allReady: false, ready, target: last?.primary.workersTarget ?? '?' };
}

export async function runSoak(params, log = (line) => process.stdout.write(`${line}\n`)) {
  const info = machine();
  log(`== soak: ${params.minutes} min, ${params.workers} workers (--balance ${params.balance}), seed ${params.seed} (repeat with --seed ${params.seed})`);
  log(`   load: ${LOAD_CONNECTIONS} keep-alive + ${LOAD_CONNECTIONS} new-connection clients, request timeout ${REQUEST_TIMEOUT_MS / 1000} s; warden ${WARDEN_FLAGS.join(' ')}`);
  log(`   ${machineLine(info)}`);
  const warden = await startWarden({
    workers: params.workers, app: 'soak.js', flags: [...WARDEN_FLAGS, '--balance', params.balance],
  });
  const tree = watchTree(warden.primaryPid);
  // warden must not exit before the soak stops it: keep how it ended and its last lines.
  let isStopping = false;
  const startedAt = performance.now();
  warden.proc.exited.then((result) => {
    if (!isStopping) warden.earlyExit = { ...result, at: round((performance.now() - startedAt) / 1000, 1), tail: warden.proc.tail(40) };
  });
  let load;
  let chaos;
  try {
    const rssStart = round(rssMb(warden.primaryPid), 1);
    // The primary's RSS every 5 s: a leak keeps climbing through the second half, a heap settling does not.
    const rssSamples = [rssStart];
    const rssTimer = setInterval(() => {
      const mb = rssMb(warden.primaryPid);
      if (mb !== undefined) rssSamples.push(round(mb, 1));
    }, RSS_SAMPLE_S * 1000).unref();
    const counts = { sent: 0, answered: 0, failed: 0 };
    const failures = [];
    load = startClosedLoop(warden.url, {
      connections: LOAD_CONNECTIONS,
      timeoutMs: REQUEST_TIMEOUT_MS,
      ratePerClient: params.rate,
      onRecord: (record) => {
        counts.sent += 1;
        if (record.failure === undefined) {
          counts.answered += 1;
          return;
        }
        counts.failed += 1;
        failures.push({ ...record, start: performance.timeOrigin + record.start, end: performance.timeOrigin + record.end });
      },
    });
    const random = createRandom(params.seed);
    const endAt = performance.now() + params.minutes * 60_000;
    chaos = await runChaos(warden, params, random, endAt, log);
    const faultedPids = new Set(chaos.faults.filter((f) => f.pid !== undefined).map((f) => f.pid));
    const workers = warden.earlyExit === undefined ? await waitAllReady(warden, faultedPids) : { allReady: false, ready: 0, target: '?' };
    await load.stop();
    const rssEnd = round(rssMb(warden.primaryPid), 1);
    clearInterval(rssTimer);
    rssSamples.push(rssEnd);
    for (const fault of chaos.faults) fault.stopWatching?.();
    const faultsUnresolved = chaos.faults.filter((f) => f.pid !== undefined && isAlive(f.pid)).length;
    // The connection logs, read before warden and its temp dir go.
    const logs = {};
    for (const name of readdirSync(warden.statsDir)) {
      if (name.endsWith('.conns')) logs[name.slice(0, -'.conns'.length)] = readFileSync(join(warden.statsDir, name), 'utf8');
    }
    const stoppedAt = performance.now();
    isStopping = true;
    sendSignal(warden.primaryPid, 'SIGTERM');
    const exit = (await Promise.race([warden.proc.exited, sleep(30_000).then(() => undefined)])) ?? { code: 'no exit within 30 s' };
    const stopS = round((performance.now() - stoppedAt) / 1000, 1);
    tree.stop();
    await sleep(500); // the workers' own exit after the primary's
    const orphans = tree.survivors();
    const connections = indexConnections(logs);
    const { explained, unexplained } = attributeFailures(failures, chaos.faults, connections, VERDICT_DEADLINES_MS);
    const summary = {
      seed: params.seed, minutes: params.minutes, workers: params.workers, balance: params.balance, machine: info,
      faults: Object.fromEntries(Object.keys(ACTIONS).map((kind) => [kind, {
        injected: chaos.faults.filter((f) => f.kind === kind).length,
        failedRequestsExplained: explained.filter((r) => r.kind === kind).length,
      }])),
      requests: { sent: counts.sent, answered: counts.answered, failed: counts.failed, explained: explained.length, explainedByKernel: explained.filter((r) => r.seenBy === 'kernel').length, unexplained: unexplained.length },
      unexplainedRequests: unexplained.slice(0, 20).map((r) => ({ mode: r.mode, failure: r.failure, pid: r.pid ?? null, localPort: r.localPort, startedAt: new Date(r.start).toISOString(), ms: round(r.end - r.start), logged: loggedAround(connections, r) })),
      // What happened when, for reading an unexplained failure against it.
      timeline: chaos.faults.map((f) => ({ kind: f.kind, ...(f.step === undefined ? {} : { step: f.step }), ...(f.pid === undefined ? {} : { pid: f.pid }), at: new Date(f.at).toISOString(), ...(f.goneAt === undefined ? {} : { goneAfterMs: round(f.goneAt - f.at) }) })),
      workers, faultsUnresolved, actionFailures: chaos.actionFailures,
      rssMb: { start: rssStart, half: rssSamples[Math.floor(rssSamples.length / 2)], end: rssEnd, peak: Math.max(...rssSamples), maxGrowth: RSS_MAX_GROWTH_MB, every5s: rssSamples, afterWarmUp: rssGrowth(rssSamples) },
      exit, stopS, processesSeen: tree.seen.size, orphans, earlyExit: warden.earlyExit,
    };
    summary.problems = problems(summary);
    report(summary, log);
    return summary;
  } finally {
    await load?.stop();
    for (const agent of chaos?.spinning ?? []) agent.destroy();
    tree.stop();
    await warden.stop();
  }
}

function report(summary, log) {
  log('');
  log(table(['fault', 'injected', 'failed requests it explains'],
    Object.entries(summary.faults).map(([kind, row]) => [ACTIONS[kind].label, row.injected, row.failedRequestsExplained])));
  log('');
  const r = summary.requests;
  log(table(['requests', 'count'], [
    ['sent', r.sent], ['answered (200)', r.answered], ['failed', r.failed],
    ['failed, in flight on a faulted worker', r.explained],
    ['  of them accepted, the app not yet told (seen in /proc)', r.explainedByKernel], ['failed, unexplained', r.unexplained],
  ]));
  for (const each of summary.unexplainedRequests) log(`   unexplained: ${JSON.stringify(each)}`);
  log('');
  log(table(['check', 'result'], [
    ['primary RSS at start / half-way / end (peak)', `${summary.rssMb.start} / ${summary.rssMb.half} / ${summary.rssMb.end} MB (${summary.rssMb.peak} MB)`],
    ['primary RSS per minute (median of each minute)', summary.rssMb.afterWarmUp.perMinute.map((mb) => mb ?? '-').join(' ') || '-'],
    [`primary RSS growth, minute ${summary.rssMb.afterWarmUp.fromMinute} to ${summary.rssMb.afterWarmUp.toMinute} (goal < ${summary.rssMb.afterWarmUp.boundMb} MB)`,
      summary.rssMb.afterWarmUp.growthMb === null ? summary.rssMb.afterWarmUp.status : `${summary.rssMb.afterWarmUp.growthMb} MB: ${summary.rssMb.afterWarmUp.status}`],
    ['workers ready at the end', `${summary.workers.ready} of ${summary.workers.target}${summary.workers.allReady ? '' : ' (NOT ALL)'}`],
    ['faulted workers still alive', summary.faultsUnresolved],
    ['warden exit after SIGTERM', `${summary.exit.signal ?? summary.exit.code} after ${summary.stopS} s`],
    ['processes seen in the tree / left after stop', `${summary.processesSeen} / ${summary.orphans.length}`],
  ]));
  if (summary.earlyExit !== undefined) log(`\nwarden exited ${summary.earlyExit.at} s into the soak (${summary.earlyExit.signal ?? summary.earlyExit.code}); its last lines:\n${summary.earlyExit.tail}`);
  log('');
  log(summary.problems.length === 0 ? `soak passed (seed ${summary.seed})` : `soak FAILED (seed ${summary.seed}):\n${summary.problems.map((p) => `  - ${p}`).join('\n')}`);
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  let params;
  try {
    params = parseSoakArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`soak: ${error.message}\n${USAGE}\n`);
    process.exit(2);
  }
  if (params.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  runSoak(params, params.json ? () => {} : undefined)
    .then((summary) => {
      if (params.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      process.exit(summary.problems.length === 0 ? 0 : 1);
    })
    .catch((error) => {
      process.stderr.write(`soak: ${process.env.BENCH_DEBUG ? error.stack : error.message}\n`);
      killAllTracked();
      process.exit(1);
    });
}
