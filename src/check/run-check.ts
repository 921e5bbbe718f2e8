// `warden check`: the field report's kill -STOP test, automated against a running server. Finds a
// worker, freezes it (fault `stop`: SIGSTOP; fault `spin`, warden only: a busy loop started through
// the worker's inspector), polls health, sends requests and watches for a replacement, all at once;
// then always undoes the fault before returning or throwing, aborted or not: SIGCONT for a stopped
// worker, SIGKILL for a still-spinning one (a busy loop never ends by itself). Against warden it then
// reads the incident warden recorded for the frozen worker. What the observations mean is decided in
// verdict.ts; printing is cli/'s job.
import { performance } from 'node:perf_hooks';

import { errnoCode, WardenError } from '../errors.js';
import { startBusyLoop } from './busy-loop.js';
import { describeFault, describePlace, describeRestore, formatCheckReport } from './format.js';
import { describeOutcome, type GetOutcome, httpGet } from '../net/http-get.js';
import { hasProcFs, listChildren, readStat } from '../os/proc.js';
import {
  type CheckJudgement,
  type CheckTimeline,
  isGreenStatus,
  isServedStatus,
  isSettled,
  judge,
  seconds,
} from './verdict.js';
import {
  adminEndpoint,
  type AdminWorkers,
  fetchIncidents,
  fetchWorkers,
  incidentFor,
  pickWorker,
  replacementInSlot,
  serviceUrlFromListen,
  type WardenIncident,
} from './warden-admin.js';

export { formatCheckReport };

/** stop: SIGSTOP (any target). spin: a busy loop in the worker's main thread (warden target only). */
export type Fault = 'stop' | 'spin';
export const FAULTS: readonly Fault[] = ['stop', 'spin'];

export type CheckTarget =
  | { kind: 'warden'; adminUrl: string }
  | { kind: 'pid'; pid: number; healthUrl: string; serviceUrl: string };

export interface CheckOptions {
  target: CheckTarget;
  /** Overrides `<admin>/readyz` for the warden target. */
  healthUrl?: string;
  /** Overrides `http://<listen host>:<listen port>/` for the warden target. */
  serviceUrl?: string;
  /** How long to watch after the freeze. */
  durationMs: number;
  /** Period of health polls, requests and replacement checks. */
  intervalMs: number;
  /** Deadline of each health poll and request. */
  requestTimeoutMs: number;
  /** warden target: the slot to freeze (default: the ready worker with the lowest slot).
   *  pid target: the n-th child by start time (default: the oldest). */
  slot?: number;
  /** How to freeze the worker; default 'stop'. */
  fault?: Fault;
}

export const CHECK_DEFAULTS = {
  adminUrl: 'http://127.0.0.1:9000',
  fault: 'stop',
  durationMs: 20_000,
  intervalMs: 100,
  requestTimeoutMs: 2_000,
} as const;

/**
 * How the frozen process was left: resumed by us (stop), gone (the server killed it), already
 * running (stop), or killed by us because warden had not replaced the spinning worker (spin).
 */
export type RestoredBy = 'SIGCONT' | 'already-exited' | 'not-stopped' | 'SIGKILL';

export interface CheckReport extends CheckJudgement {
  target: { kind: 'warden'; adminUrl: string; primaryPid: number | null } | { kind: 'pid'; pid: number };
  healthUrl: string;
  serviceUrl: string;
  fault: Fault;
  /** slot: warden's slot, or the position among the primary's children (1 = oldest). */
  frozen: { pid: number; slot: number };
  /** Workers seen before the freeze. */
  workerCount: number;
  windowMs: number;
  elapsedMs: number;
  /** The watch stopped before windowMs: the worker was replaced, the frozen process was gone and health was green again. */
  endedEarly: boolean;
  restoredBy: RestoredBy;
  /** What warden recorded about the frozen worker (warden target); null when it recorded nothing or could not be asked. */
  incident: WardenIncident | null;
}

export interface CheckIo {
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Milliseconds on a monotonic clock; default performance.now. */
  now?: () => number;
}

/** Replaced and green for this long: the rest of the window would only repeat it. */
const SETTLE_MS = 1_000;
/** Budget for opening a worker's inspector and starting the busy loop (normally ~100 ms). */
const BUSY_LOOP_TIMEOUT_MS = 3_000;
/** `/incidents` only adds to the report: a slow answer is not worth a long wait. */
const INCIDENTS_TIMEOUT_MS = 1_000;
const LIMITS = {
  durationMs: [1_000, 600_000],
  intervalMs: [10, 10_000],
  requestTimeoutMs: [50, 60_000],
} as const;

interface Plan {
  target: CheckReport['target'];
  healthUrl: URL;
  serviceUrl: URL;
  /** inspectPort: warden target only, where the worker's inspector opens on SIGUSR1. */
  worker: { pid: number; slot: number; inspectPort: number | null };
  workerCount: number;
  findReplacement: (frozen: FrozenProcess, signal: AbortSignal) => Promise<ReplacementLook>;
  /** warden target: the incident recorded for `pid` since `sinceMs` (epoch ms), or why none could be read. */
  readIncident?: (pid: number, sinceMs: number, signal: AbortSignal) => Promise<{ incident: WardenIncident | null } | { reason: string }>;
}

/** One look for the worker that took the frozen one's place: found, not yet, or could not tell. */
type ReplacementLook = { kind: 'found'; pid: number } | { kind: 'none' } | { kind: 'unknown'; reason: string };

interface FrozenProcess {
  pid: number;
  /** /proc start time, telling the frozen process from a later one that reuses its pid; null without /proc. */
  startTime: number | null;
}

export async function runCheck(options: CheckOptions, io: CheckIo = {}): Promise<CheckReport> {
  validateOptions(options);
  const now = io.now ?? (() => performance.now());
  const log = io.log ?? (() => undefined);
  const signal = io.signal ?? new AbortController().signal;
  throwIfAborted(signal, 'before any worker was frozen');

  const fault = options.fault ?? CHECK_DEFAULTS.fault;
  const plan = options.target.kind === 'warden' ? await planWarden(options, signal) : planPid(options);
  await preflight(plan, options.requestTimeoutMs, signal);
  throwIfAborted(signal, 'before any worker was frozen');

  // Wall-clock time, to tell warden's incident records (ISO times) of this fault from older ones.
  const faultedAtEpochMs = Date.now();
  const frozen = fault === 'stop' ? freeze(plan.worker.pid) : await spin(plan, signal);
  // Last resort if the process exits mid-check (process.exit in a handler): never leave a worker
  // stopped, nor spinning.
  const undoOnExit = (): void => undoQuietly(frozen, fault);
  process.once('exit', undoOnExit);

  let watched: WatchResult;
  let restoredBy: RestoredBy;
  try {
    if (fault === 'stop') {
      // The kernel stops the process once it is next scheduled: start the clock when /proc shows it.
      const state = await waitUntilStopped(frozen, signal);
      if (state !== 'T') log(`worker ${frozen.pid} is not shown as stopped yet (state ${state}); watching anyway`);
    }
    const freezeAt = now();
    log(
      `froze worker ${frozen.pid} (${describePlace(plan.target, plan.worker.slot, plan.workerCount)}) with ${describeFault(fault)}; ` +
        `watching ${plan.healthUrl} and ${plan.serviceUrl} for up to ${seconds(options.durationMs)}`,
    );
    watched = await watch(plan, frozen, options, { signal, log, now, freezeAt });
  } finally {
    process.removeListener('exit', undoOnExit);
    restoredBy = restore(frozen, fault);
    log(describeRestore(frozen.pid, restoredBy));
  }
  if (signal.aborted) {
    throw new WardenError('WARDEN_CHECK', `check aborted after ${seconds(watched.timeline.elapsedMs)}; ${describeRestore(frozen.pid, restoredBy)}`, {
      cause: signal.reason,
    });
  }

  let incident: WardenIncident | null = null;
  if (plan.readIncident !== undefined) {
    const read = await plan.readIncident(frozen.pid, faultedAtEpochMs, signal);
    if ('reason' in read) log(`could not read warden's incidents: ${read.reason}`);
    else incident = read.incident;
  }

  return {
    target: plan.target,
    healthUrl: plan.healthUrl.href,
    serviceUrl: plan.serviceUrl.href,
    fault,
    frozen: { pid: frozen.pid, slot: plan.worker.slot },
    workerCount: plan.workerCount,
    windowMs: options.durationMs,
    elapsedMs: watched.timeline.elapsedMs,
    endedEarly: watched.endedEarly,
    restoredBy,
    incident,
    ...judge(watched.timeline),
  };
}

function validateOptions(options: CheckOptions): void {
  for (const name of ['durationMs', 'intervalMs', 'requestTimeoutMs'] as const) {
    const [min, max] = LIMITS[name];
    const value = options[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new WardenError('WARDEN_USAGE', `${name} must be an integer from ${min} to ${max} (got ${value})`);
    }
  }
  if (options.intervalMs > options.durationMs) {
    throw new WardenError('WARDEN_USAGE', `intervalMs (${options.intervalMs}) must not exceed durationMs (${options.durationMs})`);
  }
  if (options.slot !== undefined && (!Number.isInteger(options.slot) || options.slot < 1)) {
    throw new WardenError('WARDEN_USAGE', `slot must be a positive integer (got ${options.slot})`);
  }
  if (options.fault !== undefined && !FAULTS.includes(options.fault)) {
    throw new WardenError('WARDEN_USAGE', `fault must be one of ${FAULTS.join(', ')} (got ${String(options.fault)})`);
  }
  if (options.target.kind === 'pid') {
    if (options.fault === 'spin') {
      // The busy loop goes in through the inspector port warden gives each worker; another server's
      // workers have none we know of, and killing a spinning worker afterwards is not ours to do there.
      throw new WardenError('WARDEN_USAGE', 'the spin fault needs a warden target (it starts the loop through the inspector port warden gives each worker)', {
        hint: 'with --pid, use --fault stop (the default)',
      });
    }
    if (!Number.isInteger(options.target.pid) || options.target.pid < 1) {
      throw new WardenError('WARDEN_USAGE', `pid must be a positive integer (got ${options.target.pid})`);
    }
    parseHttpUrl('health URL', options.target.healthUrl);
    parseHttpUrl('service URL', options.target.serviceUrl);
  } else {
    parseHttpUrl('admin URL', options.target.adminUrl);
    if (options.healthUrl !== undefined) parseHttpUrl('health URL', options.healthUrl);
    if (options.serviceUrl !== undefined) parseHttpUrl('service URL', options.serviceUrl);
  }
}

function parseHttpUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch (error) {
    throw new WardenError('WARDEN_USAGE', `${name} "${text}" is not a URL`, {
      hint: 'write it in full, e.g. http://127.0.0.1:8000/health',
      cause: error,
    });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WardenError('WARDEN_USAGE', `${name} "${text}" must start with http:// or https://`);
  }
  return url;
}

async function planWarden(options: CheckOptions, signal: AbortSignal): Promise<Plan> {
  if (options.target.kind !== 'warden') throw new Error('planWarden needs a warden target');
  const adminUrl = parseHttpUrl('admin URL', options.target.adminUrl);
  const list = await fetchWorkers(adminUrl, options.requestTimeoutMs, signal);
  const worker = pickWorker(list, options.slot, adminUrl.href);
  if (!isProcessHere(worker.pid)) {
    throw new WardenError('WARDEN_CHECK', `warden lists worker ${worker.pid} (slot ${worker.slot}), but no process ${worker.pid} exists here`, {
      hint: 'run `warden check` where warden runs (same container or pod, e.g. with kubectl exec), so their pids match',
    });
  }
  if (options.fault === 'spin' && worker.inspectPort === null) {
    throw new WardenError('WARDEN_CHECK', `warden lists no inspector port for worker ${worker.pid} (slot ${worker.slot}), so the spin fault cannot start a busy loop in it`, {
      hint: 'start warden with --capture-stacks on (the default), or use --fault stop',
    });
  }
  const slot = worker.slot;
  return {
    target: { kind: 'warden', adminUrl: adminUrl.href, primaryPid: list.primaryPid },
    healthUrl: options.healthUrl === undefined ? adminEndpoint(adminUrl, 'readyz') : parseHttpUrl('health URL', options.healthUrl),
    serviceUrl: options.serviceUrl === undefined ? serviceUrlFromListen(list.listen) : parseHttpUrl('service URL', options.serviceUrl),
    worker: { pid: worker.pid, slot, inspectPort: worker.inspectPort },
    workerCount: new Set(list.workers.map((w) => w.slot)).size,
    findReplacement: async (frozen, pollSignal) => {
      let list: AdminWorkers;
      try {
        list = await fetchWorkers(adminUrl, options.requestTimeoutMs, pollSignal);
      } catch (error) {
        // A slow or failed /workers poll during the watch is a gap in the observations, not a reason to stop.
        if (error instanceof WardenError && error.code === 'WARDEN_CHECK') return { kind: 'unknown', reason: error.message };
        throw error;
      }
      const pid = replacementInSlot(list, slot, frozen.pid);
      return pid === null ? { kind: 'none' } : { kind: 'found', pid };
    },
    readIncident: async (pid, sinceMs, readSignal) => {
      const read = await fetchIncidents(adminUrl, Math.min(options.requestTimeoutMs, INCIDENTS_TIMEOUT_MS), readSignal);
      return 'reason' in read ? read : { incident: incidentFor(read.incidents, pid, sinceMs) };
    },
  };
}

function planPid(options: CheckOptions): Plan {
  if (options.target.kind !== 'pid') throw new Error('planPid needs a pid target');
  const { pid } = options.target;
  if (!hasProcFs()) {
    throw new WardenError('WARDEN_CHECK', `--pid needs Linux's /proc to find the workers of process ${pid} (this is ${process.platform})`, {
      hint: 'run the check on the Linux host or inside the container (kubectl exec) where the server runs',
    });
  }
  if (readStat(pid) === null) {
    throw new WardenError('WARDEN_CHECK', `no process with pid ${pid}`, {
      hint: "pass the pid of the server's primary process (the parent of its workers); `ps -eo pid,ppid,args` lists them",
    });
  }
  const children = listChildren(pid);
  if (children.length === 0) {
    throw new WardenError('WARDEN_CHECK', `process ${pid} has no child processes, so there is no worker to freeze`, {
      hint: "pass the primary's pid, not a worker's: `ps -eo pid,ppid,args` shows which process is the parent",
    });
  }
  const only = children[0];
  if (children.length === 1 && only !== undefined && listChildren(only.pid).length > 0) {
    // A shell or wrapper (`sh -c`, npm start) whose one child is the real primary: freezing it would freeze everything.
    throw new WardenError('WARDEN_CHECK', `process ${pid} has one child, ${only.pid}, which has children of its own`, {
      hint: `${only.pid} looks like the primary: run the check with --pid ${only.pid}`,
    });
  }
  const index = (options.slot ?? 1) - 1;
  const worker = children[index];
  if (worker === undefined) {
    throw new WardenError('WARDEN_CHECK', `process ${pid} has ${children.length} children; there is no child number ${index + 1}`, {
      hint: `pick a number from 1 to ${children.length} (oldest first)`,
    });
  }
  const initialChildren = new Set(children.map((child) => child.pid));
  return {
    target: { kind: 'pid', pid },
    healthUrl: parseHttpUrl('health URL', options.target.healthUrl),
    serviceUrl: parseHttpUrl('service URL', options.target.serviceUrl),
    worker: { pid: worker.pid, slot: index + 1, inspectPort: null },
    workerCount: children.length,
    // Replaced = the frozen process is gone and the primary has a child it did not have before.
    findReplacement: async (frozen) => {
      if (isAlive(frozen)) return { kind: 'none' };
      const newChild = listChildren(pid).find((child) => !initialChildren.has(child.pid));
      return newChild === undefined ? { kind: 'none' } : { kind: 'found', pid: newChild.pid };
    },
  };
}

/** The check needs a healthy server to start from, or its figures would mean nothing. */
async function preflight(plan: Plan, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const [health, service] = await Promise.all([
    httpGet(plan.healthUrl, { timeoutMs, signal, maxBodyBytes: 0 }),
    httpGet(plan.serviceUrl, { timeoutMs, signal, maxBodyBytes: 0 }),
  ]);
  throwIfAborted(signal, 'before any worker was frozen');
  if (!(health.kind === 'response' && isGreenStatus(health.status))) {
    throw new WardenError('WARDEN_CHECK', `health URL ${plan.healthUrl} is not green before any worker was frozen: ${describeOutcome(health)}`, {
      hint: 'the check starts from a healthy server; check the URL and wait until the server is ready',
    });
  }
  if (!(service.kind === 'response' && isServedStatus(service.status))) {
    throw new WardenError('WARDEN_CHECK', `service URL ${plan.serviceUrl} does not answer before any worker was frozen: ${describeOutcome(service)}`, {
      hint: 'pass a URL the server answers with a status below 500',
    });
  }
}

function freeze(pid: number): FrozenProcess {
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
async function waitUntilStopped(frozen: FrozenProcess, signal: AbortSignal): Promise<string> {
  if (frozen.startTime === null) return 'T'; // no /proc to look at: the signal was delivered, trust it
  const deadline = performance.now() + STOP_WAIT_MS;
  let state = readStat(frozen.pid)?.state ?? 'gone';
  while (state !== 'T' && state !== 'gone' && performance.now() < deadline && !signal.aborted) {
    await sleep(5, signal);
    state = readStat(frozen.pid)?.state ?? 'gone';
  }
  return state;
}

function isAlive(frozen: FrozenProcess): boolean {
  if (frozen.startTime !== null) {
    const stat = readStat(frozen.pid);
    // A zombie was killed and only waits for its parent to reap it.
    return stat !== null && stat.startTime === frozen.startTime && stat.state !== 'Z';
  }
  return isProcessHere(frozen.pid);
}

function isProcessHere(pid: number): boolean {
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
async function spin(plan: Plan, signal: AbortSignal): Promise<FrozenProcess> {
  const { pid, inspectPort } = plan.worker;
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

function restore(frozen: FrozenProcess, fault: Fault): RestoredBy {
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
function undoQuietly(frozen: FrozenProcess, fault: Fault): void {
  // Checked first for spin so that a pid reused since the worker died is never killed.
  if (fault === 'spin' && !isAlive(frozen)) return;
  try {
    process.kill(frozen.pid, fault === 'stop' ? 'SIGCONT' : 'SIGKILL');
  } catch (error) {
    if (errnoCode(error) !== 'ESRCH') throw error;
  }
}

function throwIfAborted(signal: AbortSignal, when: string): void {
  if (signal.aborted) throw new WardenError('WARDEN_CHECK', `check aborted ${when}`, { cause: signal.reason });
}

interface WatchResult {
  timeline: CheckTimeline;
  endedEarly: boolean;
}

interface WatchContext {
  signal: AbortSignal;
  log: (line: string) => void;
  now: () => number;
  freezeAt: number;
}

/**
 * Every tick starts one health poll, one request and (if none is running) one replacement check,
 * without waiting for earlier ones: a request hung on the frozen worker must not stop the polling.
 * In-flight work is capped (each ends by its timeout) and ticks are counted, so the watch is
 * bounded in time and in requests even if the clock misbehaves.
 */
async function watch(plan: Plan, frozen: FrozenProcess, options: CheckOptions, context: WatchContext): Promise<WatchResult> {
  const { log, now, freezeAt } = context;
  const at = (): number => Math.round(now() - freezeAt);
  const stamp = (ms: number): string => `+${seconds(ms)}`;
  const timeline: CheckTimeline = {
    frozenPid: frozen.pid,
    windowMs: options.durationMs,
    elapsedMs: 0,
    health: [],
    requests: [],
    frozenExitedAtMs: null,
    replacement: null,
  };
  // Aborted by the caller's signal, or by a task that failed unexpectedly; ends all in-flight requests.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(context.signal.reason);
  context.signal.addEventListener('abort', onAbort, { once: true });
  if (context.signal.aborted) onAbort();
  let failure: { error: unknown } | undefined;
  const pending = new Set<Promise<void>>();
  const launch = (work: () => Promise<void>): void => {
    const task = work().then(
      () => undefined,
      (error: unknown) => {
        failure ??= { error };
        stop.abort(error);
      },
    );
    pending.add(task);
    void task.then(() => pending.delete(task));
  };

  const maxInFlight = Math.ceil(options.requestTimeoutMs / options.intervalMs) + 1;
  const maxTicks = Math.ceil(options.durationMs / options.intervalMs) + 1;
  let healthInFlight = 0;
  let requestsInFlight = 0;
  let isFindingReplacement = false;
  let endedEarly = false;

  const pollHealth = async (): Promise<void> => {
    const atMs = at();
    healthInFlight += 1;
    const outcome = await httpGet(plan.healthUrl, { timeoutMs: options.requestTimeoutMs, signal: stop.signal, maxBodyBytes: 0 });
    healthInFlight -= 1;
    if (outcome.kind === 'aborted') return;
    const status = outcome.kind === 'response' ? outcome.status : null;
    const isGreen = isGreenStatus(status);
    if (!isGreen && timeline.health.every((sample) => sample.isGreen)) {
      log(`${stamp(atMs)} health poll failed: ${describeOutcome(outcome)}`);
    }
    timeline.health.push({ atMs, status, isGreen });
  };

  const sendRequest = async (): Promise<void> => {
    const atMs = at();
    requestsInFlight += 1;
    const outcome: GetOutcome = await httpGet(plan.serviceUrl, { timeoutMs: options.requestTimeoutMs, signal: stop.signal, maxBodyBytes: 0 });
    requestsInFlight -= 1;
    if (outcome.kind === 'aborted') return;
    const result =
      outcome.kind === 'timeout' ? 'timed-out' : outcome.kind === 'response' && isServedStatus(outcome.status) ? 'ok' : 'failed';
    timeline.requests.push({ atMs, result });
  };

  let hasLoggedUnknown = false;
  const findReplacement = async (): Promise<void> => {
    const atMs = at();
    isFindingReplacement = true;
    try {
      const look = await plan.findReplacement(frozen, stop.signal);
      if (stop.signal.aborted) return;
      if (look.kind === 'found' && timeline.replacement === null) {
        timeline.replacement = { atMs, pid: look.pid };
        log(`${stamp(atMs)} worker ${frozen.pid} replaced by ${look.pid}`);
      } else if (look.kind === 'unknown' && !hasLoggedUnknown) {
        hasLoggedUnknown = true;
        log(`${stamp(atMs)} cannot tell whether worker ${frozen.pid} was replaced (will keep looking): ${look.reason}`);
      }
    } finally {
      isFindingReplacement = false;
    }
  };

  try {
    for (let tick = 0; tick < maxTicks; tick += 1) {
      const atMs = at();
      if (stop.signal.aborted || atMs >= options.durationMs) break;
      if (timeline.frozenExitedAtMs === null && !isAlive(frozen)) {
        timeline.frozenExitedAtMs = atMs;
        log(`${stamp(atMs)} worker ${frozen.pid} exited`);
      }
      if (isSettled(timeline, atMs, SETTLE_MS)) {
        endedEarly = true;
        break;
      }
      if (healthInFlight < maxInFlight) launch(pollHealth);
      if (requestsInFlight < maxInFlight) launch(sendRequest);
      if (!isFindingReplacement) launch(findReplacement);
      await sleep((tick + 1) * options.intervalMs - at(), stop.signal);
    }
    timeline.elapsedMs = Math.min(at(), options.durationMs);
    // Let in-flight polls and requests finish (each within its timeout) before the worker is
    // resumed: resumed first, it would answer them late and hide the freeze.
    while (pending.size > 0) await Promise.all([...pending]);
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
  if (failure !== undefined) throw failure.error;
  return { timeline, endedEarly };
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
