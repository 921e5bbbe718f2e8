// `warden check`'s plan: the options checked, then the worker to freeze, the health and service URLs,
// and how to find its replacement and its incident, from warden's admin server or from a pid's
// children; then the preflight that the server is healthy to start with.

import { WardenError } from '../errors.js';
import { describeOutcome, httpGet } from '../net/http-get.js';
import { hasProcFs, listChildren, readStat } from '../os/proc.js';
import { isAlive, isProcessHere, type FrozenProcess } from './faults.js';
import { FAULTS, type CheckOptions, type CheckReport } from './report.js';
import { isGreenStatus, isServedStatus } from './verdict.js';
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
import { throwIfAborted } from './wait.js';

/** `/incidents` only adds to the report: a slow answer is not worth a long wait. */
const INCIDENTS_TIMEOUT_MS = 1_000;
const LIMITS = {
  durationMs: [1_000, 600_000],
  intervalMs: [10, 10_000],
  requestTimeoutMs: [50, 60_000],
} as const;

export interface Plan {
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
export type ReplacementLook = { kind: 'found'; pid: number } | { kind: 'none' } | { kind: 'unknown'; reason: string };

export function validateOptions(options: CheckOptions): void {
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

export async function planWarden(options: CheckOptions, signal: AbortSignal): Promise<Plan> {
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

export function planPid(options: CheckOptions): Plan {
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
export async function preflight(plan: Plan, timeoutMs: number, signal: AbortSignal): Promise<void> {
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
