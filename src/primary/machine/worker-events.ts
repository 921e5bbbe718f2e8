// The machine's answers to what a worker reports about itself: spawned, ready, SIGTERM received, boot
// failed, crashed, exited, heartbeat, stack captured, and its probes' results. Each handler acts
// through an Actions object (actions.ts) and leaves the housekeeping pass to step.ts.
// Pure: no I/O, no timers, no process handles.

import { LOG_EVENTS } from '../../log/events.js';
import { ms, type Actions } from './actions.js';
import type { EventOf } from './events.js';
import { markForUpkeep } from './liveness.js';
import { describeExit } from './policy.js';
import { probeFailedWhileSuspect } from './quarantine.js';
import { surgeFailed, surgeReady } from './rollout.js';
import { scaleWorkerFailed } from './scaling.js';
import { busySinceAfter } from './saturation.js';
import { withServedMark } from './verdicts.js';

export function onWorkerSpawned(run: Actions, { id, pid }: EventOf<'WorkerSpawned'>): void {
  const worker = run.find(id, 'WorkerSpawned');
  if (worker === undefined) return;
  worker.pid = pid;
  if (worker.state !== 'spawning') return;
  run.enter(worker, 'booting');
  worker.deadline = run.now + run.state.config.bootTimeoutMs;
  run.log('info', LOG_EVENTS.workerSpawned, worker, `worker ${worker.slot} started (pid ${pid}${worker.generation > 1 ? `, generation ${worker.generation}` : ''})`);
  if (run.state.phase !== 'running') run.stopWorker(worker, 'warden is stopping');
  else if (worker.retiring) run.stopWorker(worker, worker.reason ?? 'no longer needed');
}

export function onWorkerSpawnFailed(run: Actions, { id, error }: EventOf<'WorkerSpawnFailed'>): void {
  const worker = run.find(id, 'WorkerSpawnFailed');
  if (worker === undefined) return;
  worker.bootError = error;
  onWorkerExited(run, { type: 'WorkerExited', id, code: null, signal: null });
}

export function onWorkerReady(run: Actions, { id }: EventOf<'WorkerReady'>): void {
  const worker = run.find(id, 'WorkerReady');
  if (worker === undefined || worker.state !== 'booting') return;
  run.enter(worker, 'ready');
  worker.readyAt = run.now;
  worker.lastBeatAt = run.now;
  worker.deadline = undefined;
  run.state.everReady = true;
  run.log('info', LOG_EVENTS.workerReady, worker, `worker ${worker.slot} ready (pid ${worker.pid ?? '?'}) after ${ms(run.now - worker.spawnedAt)}`);
  if (run.state.phase !== 'running') {
    run.stopWorker(worker, 'warden is stopping');
    return;
  }
  if (worker.surgeFor === undefined) return;
  if (run.state.config.probeEnabled && run.state.reload?.generation === worker.generation) {
    // A reload puts the new code in front of users only after it answered a probe.
    worker.awaitingProbe = true;
    run.effects.push({ type: 'Probe', id: worker.id });
    return;
  }
  surgeReady(run, worker);
}

/** An operator's SIGTERM to one worker is upkeep, not a failure: replacement first, then a drain. */
export function onWorkerSigterm(run: Actions, { id }: EventOf<'WorkerSigtermReceived'>): void {
  const worker = run.find(id, 'WorkerSigtermReceived');
  if (worker === undefined || worker.retiring || run.state.phase !== 'running') return;
  if (worker.state !== 'ready') {
    run.stopWorker(worker, 'received SIGTERM');
    return;
  }
  if (worker.upkeep === 'sigterm') return;
  markForUpkeep(run, worker, 'sigterm', 'received SIGTERM (kill -TERM), a request to replace it');
}

export function onWorkerBootFailed(run: Actions, { id, error }: EventOf<'WorkerBootFailed'>): void {
  const worker = run.find(id, 'WorkerBootFailed');
  if (worker === undefined) return;
  // The worker exits right after reporting; the exit decides (halt, or count a failure).
  worker.bootError = error;
  run.log('error', LOG_EVENTS.workerBootFailed, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) failed to boot: ${error.message}`, { error });
}

export function onWorkerCrashed(run: Actions, { id, error }: EventOf<'WorkerCrashed'>): void {
  const worker = run.find(id, 'WorkerCrashed');
  if (worker === undefined) return;
  worker.crashError = error;
  run.log('error', LOG_EVENTS.workerCrashed, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) crashed: ${error.stack ?? error.message}`, { error });
}

export function onWorkerExited(run: Actions, { id, code, signal }: EventOf<'WorkerExited'>): void {
  const worker = run.find(id, 'WorkerExited');
  if (worker === undefined) return;
  run.endQuarantine(worker, 'exited');
  run.state.workers = run.state.workers.filter((other) => other.id !== id);
  const slot = run.slotOf(worker);
  const planned = worker.retiring;
  const how = describeExit(code, signal, worker.killSent);
  const reason = worker.reason ?? (worker.crashError ? `crashed: ${worker.crashError.message}` : how);
  if (slot !== undefined) slot.lastExit = { pid: worker.pid, code, signal, reason, at: run.now };
  const fields = { code, signal, reason, planned };
  if (planned && run.state.phase === 'stopping' && worker.state === 'draining' && (code !== 0 || signal !== null)) {
    // warden asked for a drain, which ends in exit code 0; anything else is the app's own exit. A
    // worker warden itself signalled (one still booting gets SIGTERM, a late one SIGKILL) is not draining.
    run.state.stopWasUnclean = true;
    run.log('warn', LOG_EVENTS.workerExited, worker,
      `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} on its own while warden was draining it (the app's own signal handler, ` +
      'process.exit(), or a failed close hook); requests in flight may have been cut', fields);
    return;
  }
  if (planned) {
    run.log('info', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} (${reason})`, fields);
    return;
  }
  if (run.state.phase !== 'running') {
    run.log('warn', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} while warden was stopping`, fields);
    return;
  }
  run.log('error', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how}${worker.readyAt === undefined ? ' before it was ready' : ''}`, fields);
  if (worker.readyAt === undefined && worker.surgeFor !== undefined) {
    // New code that cannot start: the worker it was to replace keeps serving.
    surgeFailed(run, worker, worker.bootError ? worker.bootError.message : how);
    return;
  }
  if (slot !== undefined) slot.replacements.crashed += 1;
  if (!run.state.everReady && worker.readyAt === undefined) {
    run.haltBoot(worker, `${how} before it was ready`);
    return;
  }
  if (worker.readyAt === undefined) scaleWorkerFailed(run, worker, worker.bootError ? worker.bootError.message : how);
  run.countFailure(worker, worker.bootError ? `failed to boot: ${worker.bootError.message}` : reason);
}

export function onHeartbeat(run: Actions, { id, stats }: EventOf<'HeartbeatReceived'>): void {
  const worker = run.find(id, 'HeartbeatReceived');
  if (worker === undefined) return;
  worker.lastBeatAt = run.now;
  worker.stats = stats;
  worker.statsAt = run.now;
  worker.servedMarks = withServedMark(worker.servedMarks, run.now, stats.served);
  worker.busySince = busySinceAfter(worker.busySince, stats.eventLoopUtilization, run.now);
  if (worker.condition === 'late') {
    worker.condition = 'ok';
    worker.reason = undefined;
    run.log('info', LOG_EVENTS.workerRecovered, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) answers heartbeats again; back in rotation`);
  }
}

export function onStackCaptured(run: Actions, { id }: EventOf<'StackCaptured'>): void {
  const worker = run.find(id, 'StackCaptured');
  if (worker !== undefined && worker.state === 'stopping' && !worker.killSent) run.kill(worker);
}

export function onProbeSucceeded(run: Actions, { id }: EventOf<'ProbeSucceeded'>): void {
  const worker = run.find(id, 'ProbeSucceeded');
  if (worker === undefined) return;
  worker.probeFailures = 0;
  if (worker.awaitingProbe && worker.state === 'ready' && !worker.retiring) {
    worker.awaitingProbe = false;
    surgeReady(run, worker);
  }
}

export function onProbeFailed(run: Actions, { id, reason }: EventOf<'ProbeFailed'>): void {
  const worker = run.find(id, 'ProbeFailed');
  if (worker === undefined || worker.state !== 'ready' || worker.retiring) return;
  if (worker.awaitingProbe) {
    // The new code started but does not answer its probe: it never takes over.
    run.log('error', LOG_EVENTS.probeFailed, worker, `probe of new worker ${worker.slot} (pid ${worker.pid ?? '?'}) failed: ${reason}`, { reason });
    run.retire(worker, 'unhealthy', `its first probe failed: ${reason}`, undefined);
    run.stopWorker(worker, 'its first probe failed');
    surgeFailed(run, worker, `its probe failed: ${reason}`);
    return;
  }
  if (worker.suspicion !== undefined) {
    probeFailedWhileSuspect(run, worker, reason);
    return;
  }
  worker.probeFailures += 1;
  run.log('warn', LOG_EVENTS.probeFailed, worker, `probe of worker ${worker.slot} failed (${worker.probeFailures}/${run.state.config.probeFailures}): ${reason}`, { reason });
  if (worker.probeFailures >= run.state.config.probeFailures) {
    run.recycle(worker, 'unhealthy', `${worker.probeFailures} probes failed in a row, the last: ${reason}`);
  }
}
