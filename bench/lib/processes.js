// Every process the benchmarks start, and the only place that signals them. Children are spawned
// detached, so each leads its own process group and one kill(-pid) reaches its workers too. Whatever
// ends the bench (normal end, failure, Ctrl-C, SIGTERM), every tracked group and pid gets SIGCONT
// (a SIGSTOPped worker must not stay stopped) and SIGKILL, and the temporary directories go.
// Nothing is ever killed by name.

import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** pid -> { label, isGroup } for everything started or discovered; removed once known dead. */
const tracked = new Map();
/** Temporary directories (stats files, PM2_HOME) removed at the end whatever happens. */
const tempDirs = new Set();
let areHandlersInstalled = false;

/** Send a signal; false if the target is already gone (ESRCH). */
export function sendSignal(target, name) {
  try {
    process.kill(target, name);
    return true;
  } catch (error) {
    if (error.code === 'ESRCH') return false; // already gone
    throw error;
  }
}

/**
 * SIGCONT then SIGKILL one tracked pid, its group if it leads one, and its descendants found in /proc
 * (a child that left the group, such as the PM2 daemon while `pm2 start` is still running).
 */
export function killTracked(pid) {
  const entry = tracked.get(pid);
  const targets = [...(entry?.isGroup ? [-pid, pid] : [pid]), ...descendantPids(pid)];
  for (const target of targets) {
    sendSignal(target, 'SIGCONT');
    sendSignal(target, 'SIGKILL');
  }
  tracked.delete(pid);
}

/** Synchronous steps run before the kills, e.g. finding a PM2 daemon pid that is not known yet. */
const cleanupSteps = new Set();

export function addCleanupStep(step) {
  installHandlers();
  cleanupSteps.add(step);
  return () => cleanupSteps.delete(step);
}

export function killAllTracked() {
  for (const step of [...cleanupSteps]) {
    cleanupSteps.delete(step);
    step();
  }
  for (const pid of [...tracked.keys()]) killTracked(pid);
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

export function makeTempDir(name) {
  installHandlers();
  const dir = mkdtempSync(join(tmpdir(), `warden-bench-${name.replace(/[^a-z0-9]/gi, '-')}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function installHandlers() {
  if (areHandlersInstalled) return;
  areHandlersInstalled = true;
  process.on('exit', killAllTracked);
  for (const name of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(name, () => {
      process.stderr.write(`\nbench: ${name} received; killing ${tracked.size} tracked process(es)\n`);
      killAllTracked();
      process.exit(130);
    });
  }
}

/** Remember a pid we did not spawn ourselves (a PM2 daemon, a worker), so cleanup reaches it. */
export function trackPid(pid, label, isGroup = false) {
  installHandlers();
  if (!tracked.has(pid)) tracked.set(pid, { label, isGroup });
}

export function isAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if (error.code === 'ESRCH') return false;
    throw error;
  }
  // A zombie still answers kill(pid, 0); it is dead for our purposes.
  return processState(pid) !== 'Z';
}

/** The one-letter state from /proc/<pid>/stat (R, S, T, Z...), or undefined if gone. */
export function processState(pid) {
  return statFields(pid)?.[0];
}

/** The fields of /proc/<pid>/stat after the command name (state, ppid, ...), or undefined if gone. */
export function statFields(pid) {
  const stat = readProc(`/proc/${pid}/stat`);
  return stat === undefined ? undefined : stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

function readProc(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ESRCH') return undefined;
    throw error;
  }
}

/** [pid, ppid] of every live (non-zombie) process, from /proc/<n>/stat (Linux only). */
function processTable() {
  const rows = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const fields = statFields(name);
    if (fields === undefined) continue;
    if (fields[0] !== 'Z') rows.push([Number(name), Number(fields[1])]);
  }
  return rows;
}

export function childPids(pid) {
  return processTable().filter(([, parent]) => parent === pid).map(([child]) => child);
}

function descendantPids(pid) {
  const rows = processTable();
  const found = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const [child, childParent] of rows) {
      if (childParent === parent && !found.includes(child)) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

let clockTicks;
function ticksPerSecond() {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return clockTicks;
}

/** CPU time (user + system, ms) used so far by `pid` alone, or undefined if it is gone (Linux only). */
export function processCpuMs(pid) {
  const fields = statFields(pid);
  return fields === undefined ? undefined : ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond();
}

/**
 * CPU time (user + system, ms) used so far by `pid` and every live descendant: what a contender's
 * processes spent, whoever else shares the cores. Linux only (/proc/<pid>/stat, CLK_TCK).
 */
export function treeCpuMs(pid) {
  let ticks = 0;
  for (const each of [pid, ...descendantPids(pid)]) {
    const stat = readProc(`/proc/${each}/stat`);
    if (stat === undefined) continue;
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return (ticks * 1000) / ticksPerSecond();
}

/**
 * Start a command as the leader of a new process group. Its output is read line by line (an unread
 * pipe would block it); the last lines are kept for error messages.
 */
export function startProcess(command, args, { label, env = process.env, cwd } = {}) {
  installHandlers();
  const child = spawn(command, args, { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines = [];
  const listeners = new Set();
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, signal: sig })));
  child.once('spawn', () => trackPid(child.pid, label, true));
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      lines.push(line);
      if (lines.length > 200) lines.shift();
      for (const listener of listeners) listener(line);
    });
  }
  const spawned = new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    child,
    label,
    spawned,
    exited,
    get pid() {
      return child.pid;
    },
    tail: (count = 20) => lines.slice(-count).join('\n'),
    /** Resolve with the first line (seen so far or later) matching `pattern`; reject on exit or timeout. */
    waitForLine(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const seen = lines.find((line) => pattern.test(line));
        if (seen !== undefined) return resolve(seen.match(pattern));
        const timer = setTimeout(() => done(new Error(`${label}: no line matching ${pattern} within ${timeoutMs} ms; last output:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
        const onLine = (line) => {
          if (pattern.test(line)) done(undefined, line.match(pattern));
        };
        const onExit = ({ code, signal: sig }) => done(new Error(`${label} exited (${sig ?? code}) before printing ${pattern}; last output:\n${lines.slice(-20).join('\n')}`));
        let isSettled = false;
        function done(error, match) {
          if (isSettled) return;
          isSettled = true;
          clearTimeout(timer);
          listeners.delete(onLine);
          if (error) reject(error);
          else resolve(match);
        }
        listeners.add(onLine);
        exited.then(onExit);
      });
    },
    /** SIGTERM the leader, wait up to `graceMs`, then SIGCONT + SIGKILL the whole group. */
    async stop(graceMs = 2000) {
      if (child.exitCode === null && child.signalCode === null) {
        sendSignal(child.pid, 'SIGTERM');
        await Promise.race([exited, sleep(graceMs)]);
      }
      killTracked(child.pid);
      await Promise.race([exited, sleep(1000)]);
    },
  };
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** VmRSS of a pid in MB, or undefined if it is gone. */
export function rssMb(pid) {
  const status = readProc(`/proc/${pid}/status`);
  const match = status === undefined ? null : /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return match === null ? undefined : Number(match[1]) / 1024;
}

/**
 * The client ports of the TCP connections to `servicePort` that a process holds open right now, read
 * from the kernel (/proc/<pid>/fd and /proc/<pid>/net/tcp{,6}): every connection it has accepted,
 * including one accepted a moment ago whose `connection` event its JavaScript has not run yet.
 * Undefined if the process is gone.
 */
export function heldClientPorts(pid, servicePort) {
  let links;
  try {
    links = readdirSync(`/proc/${pid}/fd`);
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ESRCH') return undefined;
    throw error;
  }
  const inodes = new Set();
  for (const fd of links) {
    let target;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed while listed
    }
    const match = /^socket:\[(\d+)\]$/.exec(target);
    if (match !== null) inodes.add(match[1]);
  }
  const ports = [];
  for (const table of ['tcp', 'tcp6']) {
    const text = readProc(`/proc/${pid}/net/${table}`) ?? '';
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 10 || !inodes.has(fields[9])) continue;
      const localPort = Number.parseInt(fields[1].split(':')[1], 16);
      const remotePort = Number.parseInt(fields[2].split(':')[1], 16);
      if (localPort === servicePort && remotePort !== 0) ports.push(remotePort);
    }
  }
  return ports;
}
