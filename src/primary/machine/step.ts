// THE supervisor state machine: step(state, event, now) -> { state, effects }. It decides when to
// spawn, restart (with backoff), take a worker out of rotation, recycle, kill, give up and exit.
// This file holds the event handlers and the housekeeping pass after every event; actions.ts what a
// decision does, liveness.ts the per-worker checks, rollout.ts reloads, scaling and upkeep recycling.
// Pure: no I/O, no timers, no process handles. supervisor.ts carries out the effects and reports
// what happened as new events; a periodic Tick lets deadlines (boot, heartbeat, drain) expire.
// The common events cost the same at any fleet size: a heartbeat touches only its worker, a Tick
// copies only the workers whose check is due, and a settled fleet skips the housekeeping pass.

import { busySinceAfter } from './saturation.js';
import { EXIT_CODES } from '../../errors.js';
import { LOG_EVENTS } from '../../log/events.js';
import type { HeartbeatStats, SerializedError } from '../../protocol/messages.js';
import { Actions, ms } from './actions.js';
import { withServedMark } from './verdicts.js';
import { checkWorker, isCheckDue, markForUpkeep } from './liveness.js';
import { onComparisonProbed, probeFailedWhileSuspect } from './quarantine.js';
import { describeExit } from './policy.js';
import { abortRollouts, onReloadRequested, onScaleRequested, reconcileRollouts, scaleWorkerFailed, surgeFailed, surgeReady } from './rollout.js';
import { carrySettled, isSettled } from './state-facts.js';
import { copyState, isActive, type MachineEvent, type MachineState, type StepResult } from './types.js';

export function step(previous: MachineState, event: MachineEvent, now: number): StepResult {
  const run = new Step(copyState(previous), now, isSettled(previous) ? 'incremental' : 'checks-due');
  run.apply(event);
  // Nothing the housekeeping pass or the rotation reads has changed: both carry over.
  if (run.isHousekeepingSkipped) carrySettled(previous, run.state);
  return { state: run.state, effects: run.effects };
}

/**
 * The same decisions by the full pass: every worker checked on every Tick, the housekeeping pass
 * after every event. The reference the incremental paths are held to (machine.property.test.ts).
 */
export function stepFully(previous: MachineState, event: MachineEvent, now: number): StepResult {
  const run = new Step(copyState(previous), now, 'full');
  run.apply(event);
  return { state: run.state, effects: run.effects };
}

class Step extends Actions {
  /** Set by the events that, on a settled state, change nothing the housekeeping pass reads. */
  isHousekeepingSkipped = false;

  /** incremental: the state was settled, quiet events skip housekeeping; full: no shortcut at all. */
  constructor(state: MachineState, now: number, private readonly pass: 'incremental' | 'checks-due' | 'full') {
    super(state, now);
  }

  protected abortRollouts(reason: string): void {
    abortRollouts(this, reason);
  }

  apply(event: MachineEvent): void {
    if (this.state.phase === 'exited') return;
    if (this.pass === 'incremental' && this.applyQuietly(event)) {
      this.isHousekeepingSkipped = true;
      return;
    }
    switch (event.type) {
      case 'Tick':
        this.onTick();
        break;
      case 'WorkerSpawned':
        this.onWorkerSpawned(event.id, event.pid);
        break;
      case 'WorkerSigtermReceived':
        this.onWorkerSigterm(event.id);
        break;
      case 'WorkerSpawnFailed':
        this.onWorkerSpawnFailed(event.id, event.error);
        break;
      case 'WorkerReady':
        this.onWorkerReady(event.id);
        break;
      case 'WorkerBootFailed':
        this.onWorkerBootFailed(event.id, event.error);
        break;
      case 'WorkerCrashed':
        this.onWorkerCrashed(event.id, event.error);
        break;
      case 'WorkerExited':
        this.onWorkerExited(event.id, event.code, event.signal);
        break;
      case 'HeartbeatReceived':
        this.onHeartbeat(event.id, event.stats);
        break;
      case 'ProbeSucceeded':
        this.onProbeSucceeded(event.id);
        break;
      case 'ProbeFailed':
        this.onProbeFailed(event.id, event.reason);
        break;
      case 'ComparisonProbed':
        onComparisonProbed(this, event);
        break;
      case 'SignalReceived':
        this.onStopSignal(event.signal);
        break;
      case 'StackCaptured':
        this.onStackCaptured(event.id);
        break;
      case 'ReloadRequested':
        onReloadRequested(this, event.requestId, event.source);
        break;
      case 'ScaleRequested':
        onScaleRequested(this, event);
        break;
      default: {
        const impossible: never = event;
        throw new Error(`machine: unknown event ${JSON.stringify(impossible)}`);
      }
    }
    // Housekeeping after every event, like gunicorn's arbiter loop: fill empty slots, move reloads and
    // scaling toward their targets, finish a stop.
    this.reconcile();
    this.exitWhenDone();
  }

  /**
   * On a settled state, the common events that change one worker's liveness facts and nothing else
   * (a fresh heartbeat, a Tick with no check due): applied without the housekeeping pass, which
   * would find nothing to do. False when the event needs the full path.
   */
  private applyQuietly(event: MachineEvent): boolean {
    if (event.type === 'HeartbeatReceived') {
      const found = this.state.workers.find((candidate) => candidate.id === event.id);
      if (found === undefined || found.condition === 'late') return false;
      this.onHeartbeat(event.id, event.stats);
      return true;
    }
    if (event.type === 'Tick') {
      return this.state.workers.every((worker) => !isCheckDue(this.state, worker, this.now));
    }
    return false;
  }

  // ---- events ----

  private onTick(): void {
    // Checks do not add or remove workers, so the index walks the records as each check left them.
    const workers = this.state.workers;
    for (let index = 0; index < workers.length; index++) {
      const worker = workers[index];
      if (worker !== undefined && (this.pass === 'full' || isCheckDue(this.state, worker, this.now))) checkWorker(this, this.own(worker));
    }
    if (this.state.phase !== 'running' && this.state.stopDeadline !== undefined && this.now >= this.state.stopDeadline) {
      this.state.stopDeadline = undefined;
      for (const record of this.state.workers) {
        const worker = this.own(record);
        if (worker.pid !== undefined && !worker.killSent) {
          this.log('warn', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid}) still busy after the graceful timeout; killing it`);
          this.kill(worker);
        }
      }
    }
  }

  private onWorkerSpawned(id: number, pid: number): void {
    const worker = this.find(id, 'WorkerSpawned');
    if (worker === undefined) return;
    worker.pid = pid;
    if (worker.state !== 'spawning') return;
    this.enter(worker, 'booting');
    worker.deadline = this.now + this.state.config.bootTimeoutMs;
    this.log('info', LOG_EVENTS.workerSpawned, worker, `worker ${worker.slot} started (pid ${pid}${worker.generation > 1 ? `, generation ${worker.generation}` : ''})`);
    if (this.state.phase !== 'running') this.stopWorker(worker, 'warden is stopping');
    else if (worker.retiring) this.stopWorker(worker, worker.reason ?? 'no longer needed');
  }

  private onWorkerSpawnFailed(id: number, error: SerializedError): void {
    const worker = this.find(id, 'WorkerSpawnFailed');
    if (worker === undefined) return;
    worker.bootError = error;
    this.onWorkerExited(id, null, null);
  }

  private onWorkerReady(id: number): void {
    const worker = this.find(id, 'WorkerReady');
    if (worker === undefined || worker.state !== 'booting') return;
    this.enter(worker, 'ready');
    worker.readyAt = this.now;
    worker.lastBeatAt = this.now;
    worker.deadline = undefined;
    this.state.everReady = true;
    this.log('info', LOG_EVENTS.workerReady, worker, `worker ${worker.slot} ready (pid ${worker.pid ?? '?'}) after ${ms(this.now - worker.spawnedAt)}`);
    if (this.state.phase !== 'running') {
      this.stopWorker(worker, 'warden is stopping');
      return;
    }
    if (worker.surgeFor === undefined) return;
    if (this.state.config.probeEnabled && this.state.reload?.generation === worker.generation) {
      // A reload puts the new code in front of users only after it answered a probe.
      worker.awaitingProbe = true;
      this.effects.push({ type: 'Probe', id: worker.id });
      return;
    }
    surgeReady(this, worker);
  }

  /** An operator's SIGTERM to one worker is upkeep, not a failure: replacement first, then a drain. */
  private onWorkerSigterm(id: number): void {
    const worker = this.find(id, 'WorkerSigtermReceived');
    if (worker === undefined || worker.retiring || this.state.phase !== 'running') return;
    if (worker.state !== 'ready') {
      this.stopWorker(worker, 'received SIGTERM');
      return;
    }
    if (worker.upkeep === 'sigterm') return;
    markForUpkeep(this, worker, 'sigterm', 'received SIGTERM (kill -TERM), a request to replace it');
  }

  private onWorkerBootFailed(id: number, error: SerializedError): void {
    const worker = this.find(id, 'WorkerBootFailed');
    if (worker === undefined) return;
    // The worker exits right after reporting; the exit decides (halt, or count a failure).
    worker.bootError = error;
    this.log('error', LOG_EVENTS.workerBootFailed, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) failed to boot: ${error.message}`, { error });
  }

  private onWorkerCrashed(id: number, error: SerializedError): void {
    const worker = this.find(id, 'WorkerCrashed');
    if (worker === undefined) return;
    worker.crashError = error;
    this.log('error', LOG_EVENTS.workerCrashed, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) crashed: ${error.stack ?? error.message}`, { error });
  }

  private onWorkerExited(id: number, code: number | null, signal: string | null): void {
    const worker = this.find(id, 'WorkerExited');
    if (worker === undefined) return;
    this.endQuarantine(worker, 'exited');
    this.state.workers = this.state.workers.filter((other) => other.id !== id);
    const slot = this.slotOf(worker);
    const planned = worker.retiring;
    const how = describeExit(code, signal, worker.killSent);
    const reason = worker.reason ?? (worker.crashError ? `crashed: ${worker.crashError.message}` : how);
    if (slot !== undefined) slot.lastExit = { pid: worker.pid, code, signal, reason, at: this.now };
    const fields = { code, signal, reason, planned };
    if (planned && this.state.phase === 'stopping' && worker.state === 'draining' && (code !== 0 || signal !== null)) {
      // warden asked for a drain, which ends in exit code 0; anything else is the app's own exit. A
      // worker warden itself signalled (one still booting gets SIGTERM, a late one SIGKILL) is not draining.
      this.state.stopWasUnclean = true;
      this.log('warn', LOG_EVENTS.workerExited, worker,
        `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} on its own while warden was draining it (the app's own signal handler, ` +
        'process.exit(), or a failed close hook); requests in flight may have been cut', fields);
      return;
    }
    if (planned) {
      this.log('info', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} (${reason})`, fields);
      return;
    }
    if (this.state.phase !== 'running') {
      this.log('warn', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} while warden was stopping`, fields);
      return;
    }
    this.log('error', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how}${worker.readyAt === undefined ? ' before it was ready' : ''}`, fields);
    if (worker.readyAt === undefined && worker.surgeFor !== undefined) {
      // New code that cannot start: the worker it was to replace keeps serving.
      surgeFailed(this, worker, worker.bootError ? worker.bootError.message : how);
      return;
    }
    if (slot !== undefined) slot.replacements.crashed += 1;
    if (!this.state.everReady && worker.readyAt === undefined) {
      this.haltBoot(worker, `${how} before it was ready`);
      return;
    }
    if (worker.readyAt === undefined) scaleWorkerFailed(this, worker, worker.bootError ? worker.bootError.message : how);
    this.countFailure(worker, worker.bootError ? `failed to boot: ${worker.bootError.message}` : reason);
  }

  private onHeartbeat(id: number, stats: HeartbeatStats): void {
    const worker = this.find(id, 'HeartbeatReceived');
    if (worker === undefined) return;
    worker.lastBeatAt = this.now;
    worker.stats = stats;
    worker.statsAt = this.now;
    worker.servedMarks = withServedMark(worker.servedMarks, this.now, stats.served);
    worker.busySince = busySinceAfter(worker.busySince, stats.eventLoopUtilization, this.now);
    if (worker.condition === 'late') {
      worker.condition = 'ok';
      worker.reason = undefined;
      this.log('info', LOG_EVENTS.workerRecovered, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) answers heartbeats again; back in rotation`);
    }
  }

  private onStackCaptured(id: number): void {
    const worker = this.find(id, 'StackCaptured');
    if (worker !== undefined && worker.state === 'stopping' && !worker.killSent) this.kill(worker);
  }

  private onProbeSucceeded(id: number): void {
    const worker = this.find(id, 'ProbeSucceeded');
    if (worker === undefined) return;
    worker.probeFailures = 0;
    if (worker.awaitingProbe && worker.state === 'ready' && !worker.retiring) {
      worker.awaitingProbe = false;
      surgeReady(this, worker);
    }
  }

  private onProbeFailed(id: number, reason: string): void {
    const worker = this.find(id, 'ProbeFailed');
    if (worker === undefined || worker.state !== 'ready' || worker.retiring) return;
    if (worker.awaitingProbe) {
      // The new code started but does not answer its probe: it never takes over.
      this.log('error', LOG_EVENTS.probeFailed, worker, `probe of new worker ${worker.slot} (pid ${worker.pid ?? '?'}) failed: ${reason}`, { reason });
      this.retire(worker, 'unhealthy', `its first probe failed: ${reason}`, undefined);
      this.stopWorker(worker, 'its first probe failed');
      surgeFailed(this, worker, `its probe failed: ${reason}`);
      return;
    }
    if (worker.suspicion !== undefined) {
      probeFailedWhileSuspect(this, worker, reason);
      return;
    }
    worker.probeFailures += 1;
    this.log('warn', LOG_EVENTS.probeFailed, worker, `probe of worker ${worker.slot} failed (${worker.probeFailures}/${this.state.config.probeFailures}): ${reason}`, { reason });
    if (worker.probeFailures >= this.state.config.probeFailures) {
      this.recycle(worker, 'unhealthy', `${worker.probeFailures} probes failed in a row, the last: ${reason}`);
    }
  }

  private onStopSignal(signal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT'): void {
    this.state.stopSignals += 1;
    const force = signal === 'SIGQUIT' || this.state.stopSignals > 1;
    if (force) {
      this.log('warn', LOG_EVENTS.forced, undefined, `received ${signal}${signal === 'SIGQUIT' ? '' : ' again'}; killing workers without waiting`, { signal });
      this.abortRollouts(`warden received ${signal} and is stopping`);
      for (const worker of this.state.workers) if (worker.pid !== undefined) this.kill(this.own(worker));
      this.state.phase = 'exited';
      this.effects.push({ type: 'Exit', code: EXIT_CODES.forced, halt: this.state.halt });
      return;
    }
    if (this.state.phase !== 'running') return;
    this.state.phase = 'stopping';
    this.state.stopDeadline = this.now + this.state.config.gracefulTimeoutMs;
    this.log('info', LOG_EVENTS.stopping, undefined,
      `received ${signal}; finishing in-flight requests (up to ${ms(this.state.config.gracefulTimeoutMs)}), ${signal === 'SIGINT' ? 'press Ctrl-C again to force' : 'send it again to force'}`,
      { signal });
    this.abortRollouts(`warden received ${signal} and is stopping`);
    this.effects.push({ type: 'CloseListener' });
    for (const worker of this.state.workers) this.stopWorker(this.own(worker), 'warden is stopping');
  }

  // ---- housekeeping ----

  /** Keep one active worker in every slot up to the target, then let rollouts move toward theirs. */
  private reconcile(): void {
    if (this.state.phase !== 'running') return;
    const held = new Set<number>();
    for (const worker of this.state.workers) if (isActive(worker)) held.add(worker.slot);
    for (const slot of this.state.slots) {
      if (slot.slot <= this.state.targetWorkers && !held.has(slot.slot) && this.now >= slot.nextSpawnAt) this.spawn(slot, undefined);
    }
    reconcileRollouts(this);
  }

  private exitWhenDone(): void {
    const phase = this.state.phase;
    if ((phase !== 'stopping' && phase !== 'halting') || this.state.workers.length > 0) return;
    const halt = this.state.halt;
    this.state.phase = 'exited';
    const code = halt?.code ?? (this.state.stopWasUnclean ? EXIT_CODES.uncleanStop : EXIT_CODES.ok);
    if (halt === undefined && code === EXIT_CODES.ok) this.log('info', LOG_EVENTS.stopped, undefined, 'all workers stopped; exiting');
    if (halt === undefined && code !== EXIT_CODES.ok) {
      this.log('warn', LOG_EVENTS.stopped, undefined, `all workers stopped, but not all by warden's drain; exiting with code ${code}`, { exitCode: code });
    }
    this.effects.push({ type: 'Exit', code, halt });
  }
}
