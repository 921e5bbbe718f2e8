// The faults `warden check` injects and undoes: SIGSTOP and SIGCONT (`stop`), a busy loop started
// through the worker's inspector and ended by SIGKILL (`spin`), and the /proc reads that tell the
// frozen process from a later one with its pid. Acting code: signals processes, nothing else.

import { errnoCode, WardenError } from '../errors.js';
import { readStat } from '../os/proc.js';
import { startBusyLoop } from './busy-loop.js';
import type { Fault, RestoredBy } from './report.js';
import { sleep } from './wait.js';

/** Budget for opening a worker's inspector and starting the busy loop (normally ~100 ms). */
const BUSY_LOOP_TIMEOUT_MS = 3_000;

export interface FrozenProcess {
  pid: number;
  /** /proc start time, telling the frozen process from a later one that reuses its pid; null without /proc. */
  startTime: number | null;
}

export function freeze(pid: number): FrozenProcess {
  const stat = readStat(pid);
  if (stat?.state === 'T') {
    throw new WardenError('WARDEN_CHECK', `worker ${pid} is already stopped`, {
      hint: `resume it with \`kill -CONT ${pid}\`, then run the check again`,
    });
  }
  try {
    process.kill(pid, 'SIGSTOP');
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'EPERM') {
      throw new WardenError('WARDEN_CHECK', `not allowed to send SIGSTOP to worker ${pid}`, {
        hint: 'run the check as the user the server runs as (or as root)',
        cause: error,
      });
    }
    if (code === 'ESRCH') {
      throw new WardenError('WARDEN_CHECK', `worker ${pid} exited before it could be frozen`, {
        hint: 'run the check again; if workers keep exiting, the server has a problem of its own',
        cause: error,
      });
    }
    throw error;
  }
  return { pid, startTime: stat?.startTime ?? null };
}

const STOP_WAIT_MS = 1_000;

/** Polls /proc until the process shows as stopped ('T'), for up to STOP_WAIT_MS; answers the last state seen. */
export async function waitUntilStopped(frozen: FrozenProcess, signal: AbortSignal): Promise<string> {
  if (frozen.startTime === null) return 'T'; // no /proc to look at: the signal was delivered, trust it
  const deadline = performance.now() + STOP_WAIT_MS;
  let state = readStat(frozen.pid)?.state ?? 'gone';
  while (state !== 'T' && state !== 'gone' && performance.now() < deadline && !signal.aborted) {
    await sleep(5, signal);
    state = readStat(frozen.pid)?.state ?? 'gone';
  }
  return state;
}

export function isAlive(frozen: FrozenProcess): boolean {
  if (frozen.startTime !== null) {
    const stat = readStat(frozen.pid);
    // A zombie was killed and only waits for its parent to reap it.
    return stat !== null && stat.startTime === frozen.startTime && stat.state !== 'Z';
  }
  return isProcessHere(frozen.pid);
}

export function isProcessHere(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ESRCH') return false;
    if (code === 'EPERM') return true; // exists, owned by someone else
    throw error;
  }
}

/**
 * Starts the busy loop in the planned worker. When the expression was sent but its answer did not
 * come, the loop may be running: the worker is killed before throwing, so none is left spinning.
 */
export async function spin(worker: { pid: number; inspectPort: number | null }, signal: AbortSignal): Promise<FrozenProcess> {
  const { pid, inspectPort } = worker;
  if (inspectPort === null) throw new Error('spin needs an inspector port; planWarden checks for one');
  const frozen: FrozenProcess = { pid, startTime: readStat(pid)?.startTime ?? null };
  const killOnExit = (): void => undoQuietly(frozen, 'spin');
  process.once('exit', killOnExit);
  let start;
  try {
    start = await startBusyLoop(pid, inspectPort, { timeoutMs: BUSY_LOOP_TIMEOUT_MS, signal });
  } finally {
    process.removeListener('exit', killOnExit);
  }
  if (start.ok) return frozen;
  const killed = !start.isSent
    ? ''
    : stopBusyLoop(frozen) === 'SIGKILL'
      ? '; the loop may have started, so the worker was killed with SIGKILL (warden replaces it)'
      : '; the worker has exited';
  if (signal.aborted) throw new WardenError('WARDEN_CHECK', `check aborted while starting a busy loop in worker ${pid}${killed}`, { cause: signal.reason });
  throw new WardenError('WARDEN_CHECK', `could not start a busy loop in worker ${pid} (inspector port ${inspectPort}): ${start.reason}${killed}`, {
    hint: 'run the check where warden runs (the inspector listens on 127.0.0.1), or use --fault stop',
  });
}

export function restore(frozen: FrozenProcess, fault: Fault): RestoredBy {
  return fault === 'stop' ? resume(frozen) : stopBusyLoop(frozen);
}

function resume(frozen: FrozenProcess): RestoredBy {
  if (!isAlive(frozen)) return 'already-exited';
  if (frozen.startTime !== null && readStat(frozen.pid)?.state !== 'T') return 'not-stopped';
  try {
    process.kill(frozen.pid, 'SIGCONT');
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return 'already-exited';
    throw new WardenError('WARDEN_CHECK', `could not resume worker ${frozen.pid}: ${(error as Error).message}`, {
      hint: `resume it by hand: kill -CONT ${frozen.pid}`,
      cause: error,
    });
  }
  return 'SIGCONT';
}

/**
 * A busy loop never ends by itself: a worker still alive at the end is one warden did not replace
 * in the window, and it is killed so the check leaves no process spinning (warden then replaces it).
 */
function stopBusyLoop(frozen: FrozenProcess): RestoredBy {
  if (!isAlive(frozen)) return 'already-exited';
  try {
    process.kill(frozen.pid, 'SIGKILL');
  } catch (error) {
    if (errnoCode(error) === 'ESRCH') return 'already-exited';
    throw new WardenError('WARDEN_CHECK', `could not kill worker ${frozen.pid}, which is busy-looping: ${(error as Error).message}`, {
      hint: `kill it by hand: kill -KILL ${frozen.pid}`,
      cause: error,
    });
  }
  return 'SIGKILL';
}

/** The undo run on process exit, when there is no one left to report to. */
export function undoQuietly(frozen: FrozenProcess, fault: Fault): void {
  // Checked first for spin so that a pid reused since the worker died is never killed.
  if (fault === 'spin' && !isAlive(frozen)) return;
  try {
    process.kill(frozen.pid, fault === 'stop' ? 'SIGCONT' : 'SIGKILL');
  } catch (error) {
    if (errnoCode(error) !== 'ESRCH') throw error;
  }
}
