// `warden check`: the field report's kill -STOP test, automated against a running server. Finds a
// worker, freezes it (fault `stop`: SIGSTOP; fault `spin`, warden only: a busy loop started through
// the worker's inspector), polls health, sends requests and watches for a replacement, all at once;
// then always undoes the fault before returning or throwing, aborted or not: SIGCONT for a stopped
// worker, SIGKILL for a still-spinning one (a busy loop never ends by itself). Against warden it then
// reads the incident warden recorded for the frozen worker. What the observations mean is decided in
// verdict.ts; printing is cli/'s job.

import { performance } from 'node:perf_hooks';
import { WardenError } from '../errors.js';
import { freeze, restore, spin, undoQuietly, waitUntilStopped } from './faults.js';
import { describeFault, describePlace, describeRestore, formatCheckReport } from './format.js';
import { planPid, planWarden, preflight, validateOptions } from './plan.js';
import { CHECK_DEFAULTS, type CheckIo, type CheckOptions, type CheckReport, type RestoredBy } from './report.js';
import { judge, seconds } from './verdict.js';
import { throwIfAborted } from './wait.js';
import { watch, type WatchResult } from './watch.js';
import type { WardenIncident } from './warden-admin.js';

export { formatCheckReport };
export { CHECK_DEFAULTS, FAULTS, type CheckIo, type CheckOptions, type CheckReport, type CheckTarget, type Fault, type RestoredBy } from './report.js';

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
  const frozen = fault === 'stop' ? freeze(plan.worker.pid) : await spin(plan.worker, signal);
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
