// THE supervisor state machine: step(state, event, now) -> { state, effects }. It decides when to
// spawn, restart (with backoff), take a worker out of rotation, recycle, kill, give up and exit.
// Pure: no I/O, no timers, no process handles. supervisor.ts carries out the effects and reports
// what happened as new events; a periodic Tick lets deadlines (boot, heartbeat, drain) expire.
// Reload, scale and upkeep recycling only move targets; rollout.ts reconciles toward them.

import { EXIT_CODES } from '../../errors.js';
import { heartbeatFreshness, hungRequestsReason, stuckReason, type ProgressFacts } from '../../health/verdicts.js';
import { LOG_EVENTS, type LogEvent } from '../../log/events.js';
import type { HeartbeatStats, SerializedError } from '../../protocol/messages.js';
import { backoffMs, describeExit, isCrashLooping } from '../policy.js';
import { abortRollouts, onReloadRequested, onScaleRequested, reconcileRollouts, scaleWorkerFailed, surgeFailed, surgeReady } from './rollout.js';
import {
  isActive, jitterFor, newSlot, type Condition, type Effect, type HaltInfo, type LogLevel, type MachineEvent, type MachineState,
  type ReplacementReason, type SlotRecord, type StepResult, type UpkeepReason, type WorkerRecord, type WorkerState,
} from './types.js';

export function step(previous: MachineState, event: MachineEvent, now: number): StepResult {
  const run = new Step(structuredClone(previous), now);
  run.apply(event);
  return { state: run.state, effects: run.effects };
}

export class Step {
  readonly effects: Effect[] = [];

  constructor(
    readonly state: MachineState,
    readonly now: number,
  ) {}

  apply(event: MachineEvent): void {
    if (this.state.phase === 'exited') return;
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

  // ---- events ----

  private onTick(): void {
    for (const worker of [...this.state.workers]) this.checkWorker(worker);
    if (this.state.phase !== 'running' && this.state.stopDeadline !== undefined && this.now >= this.state.stopDeadline) {
      this.state.stopDeadline = undefined;
      for (const worker of this.state.workers) {
        if (worker.pid !== undefined && !worker.killSent) {
          this.log('warn', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid}) still busy after the graceful timeout; killing it`);
          this.kill(worker, 'SIGKILL');
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
    this.markForUpkeep(worker, 'sigterm', 'received SIGTERM (kill -TERM), a request to replace it');
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
    this.state.workers = this.state.workers.filter((other) => other.id !== id);
    const slot = this.slotOf(worker);
    const planned = worker.retiring;
    const how = describeExit(code, signal, worker.killSent);
    const reason = worker.reason ?? (worker.crashError ? `crashed: ${worker.crashError.message}` : how);
    if (slot !== undefined) slot.lastExit = { pid: worker.pid, code, signal, reason, at: this.now };
    const fields = { code, signal, reason, planned };
    if (planned && this.state.phase === 'stopping' && !worker.killSent && (code !== 0 || signal !== null)) {
      // warden asked for a drain, which ends in exit code 0; anything else is the app's own exit.
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
    if (worker.condition === 'late') {
      worker.condition = 'ok';
      worker.reason = undefined;
      this.log('info', LOG_EVENTS.workerRecovered, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) answers heartbeats again; back in rotation`);
    }
  }

  private onStackCaptured(id: number): void {
    const worker = this.find(id, 'StackCaptured');
    if (worker !== undefined && worker.state === 'stopping' && !worker.killSent) this.kill(worker, 'SIGKILL');
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
      abortRollouts(this, `warden received ${signal} and is stopping`);
      for (const worker of this.state.workers) if (worker.pid !== undefined) this.kill(worker, 'SIGKILL');
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
    abortRollouts(this, `warden received ${signal} and is stopping`);
    this.effects.push({ type: 'CloseListener' });
    for (const worker of this.state.workers) this.stopWorker(worker, 'warden is stopping');
  }

  // ---- housekeeping ----

  private checkWorker(worker: WorkerRecord): void {
    const config = this.state.config;
    switch (worker.state) {
      case 'spawning':
        return;
      case 'booting':
        if (worker.deadline !== undefined && this.now >= worker.deadline && !worker.retiring) {
          const reason = `did not become ready within ${ms(config.bootTimeoutMs)}`;
          this.log('error', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${reason}; killing it`);
          const isSurge = worker.surgeFor !== undefined;
          this.retire(worker, 'boot-timeout', reason, isSurge ? undefined : 'boot-timeout');
          this.kill(worker, 'SIGKILL');
          if (isSurge) surgeFailed(this, worker, reason);
          else if (!this.state.everReady) this.haltBoot(worker, reason);
          else {
            scaleWorkerFailed(this, worker, reason);
            this.countFailure(worker, reason);
          }
        }
        return;
      case 'ready':
      case 'draining':
        // A worker writing its heap snapshot is blocked on purpose; the drain deadline still bounds it.
        if (!(worker.condition === 'memory' && worker.state === 'draining' && config.heapSnapshotOnRecycle)) this.checkLiveness(worker);
        if (worker.state === 'ready' && !worker.retiring) this.checkProgress(worker);
        if (worker.state === 'ready' && worker.readyAt !== undefined && this.now - worker.readyAt >= config.backoff.resetAfterMs) {
          const slot = this.slotOf(worker);
          if (slot !== undefined && !worker.retiring) slot.consecutiveFailures = 0;
        }
        if (worker.state === 'draining' && worker.deadline !== undefined && this.now >= worker.deadline) {
          this.log('warn', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) did not finish draining within ${ms(config.gracefulTimeoutMs)}; killing it`);
          this.kill(worker, 'SIGKILL');
        }
        return;
      case 'stopping':
        if (!worker.killSent && worker.deadline !== undefined && this.now >= worker.deadline && worker.pid !== undefined) {
          this.kill(worker, 'SIGKILL');
        }
        return;
      default: {
        const impossible: never = worker.state;
        throw new Error(`machine: worker ${worker.slot} in impossible state ${String(impossible)}`);
      }
    }
  }

  /** Heartbeats: late takes a worker out of rotation, stalled kills it. */
  private checkLiveness(worker: WorkerRecord): void {
    const config = this.state.config;
    if (worker.lastBeatAt === undefined || worker.killSent) return;
    const freshness = heartbeatFreshness(worker.lastBeatAt, this.now, config.lateMs, config.timeoutMs);
    const silentFor = ms(this.now - worker.lastBeatAt);
    if (freshness === 'stalled') {
      if (worker.condition === 'stalled') return; // already waiting for its stack
      this.log('error', LOG_EVENTS.workerStalled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) sent no heartbeat for ${silentFor} (event loop blocked or process stopped); killing it`);
      const wasRetiring = worker.retiring;
      const reason = `no heartbeat for ${silentFor}`;
      this.retire(worker, 'stalled', reason, 'stalled');
      if (config.captureStacks && worker.pid !== undefined) {
        // Evidence first (gunicorn kills a timed-out worker with no chance to dump its stack);
        // the kill follows StackCaptured, or the capture deadline.
        this.enter(worker, 'stopping');
        worker.deadline = this.now + config.captureTimeoutMs;
        this.effects.push({ type: 'CaptureStack', id: worker.id, pid: worker.pid, slot: worker.slot, reason });
      } else {
        this.kill(worker, 'SIGKILL');
      }
      if (!wasRetiring) this.countFailure(worker, `stalled: ${reason}`);
    } else if (freshness === 'late' && worker.condition === 'ok' && worker.state === 'ready') {
      worker.condition = 'late';
      worker.reason = `no heartbeat for ${silentFor}`;
      this.log('warn', LOG_EVENTS.workerLate, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) missed its heartbeats for ${silentFor}; no new connections until it answers`);
    }
  }

  /** Request progress: upkeep limits, the stuck (poisoned worker) rule and --request-timeout time-outs in a row. */
  private checkProgress(worker: WorkerRecord): void {
    if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return;
    const config = this.state.config;
    if (worker.upkeep === undefined && worker.surgeFor === undefined) {
      if (config.maxMemoryBytes > 0 && worker.stats.rssBytes > config.maxMemoryBytes) {
        this.markForUpkeep(worker, 'memory', `RSS ${mb(worker.stats.rssBytes)} is above --max-memory ${mb(config.maxMemoryBytes)}`);
      } else if (worker.maxRequests > 0 && worker.stats.served >= worker.maxRequests) {
        this.markForUpkeep(worker, 'max-requests', `served ${worker.stats.served} requests (its --max-requests limit is ${worker.maxRequests})`);
      }
    }
    const hung = hungRequestsReason(worker.stats);
    if (hung !== undefined) {
      this.recycle(worker, 'unhealthy', hung);
      return;
    }
    const peers = this.state.workers
      .filter((other) => other.id !== worker.id && other.state === 'ready' && !other.retiring)
      .map(progressFacts)
      .filter((facts): facts is ProgressFacts => facts !== undefined);
    const facts = progressFacts(worker);
    const stuck = facts === undefined ? undefined : stuckReason(facts, peers, this.state.config.stuckAfterMs);
    if (stuck !== undefined) this.recycle(worker, 'stuck', stuck);
  }

  /**
   * Upkeep is not a failure: the worker lives until a new one is ready in its slot (rollout.ts). One
   * over its memory limit takes no new connections meanwhile (more work would grow it further, or
   * get the kernel's OOM killer to it first); one that served its --max-requests keeps serving.
   */
  private markForUpkeep(worker: WorkerRecord, upkeep: UpkeepReason, reason: string): void {
    worker.upkeep = upkeep;
    worker.reason = reason;
    if (upkeep === 'memory') worker.condition = 'memory';
    this.log('warn', LOG_EVENTS.workerRecycled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) will be recycled: ${reason}; starting its replacement first`, { reason, upkeep });
  }

  /** Keep one active worker in every slot up to the target, then let rollouts move toward theirs. */
  private reconcile(): void {
    if (this.state.phase !== 'running') return;
    for (const slot of this.state.slots) {
      if (slot.slot > this.state.targetWorkers) continue;
      const active = this.state.workers.some((worker) => worker.slot === slot.slot && isActive(worker));
      if (!active && this.now >= slot.nextSpawnAt) this.spawn(slot, undefined);
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

  // ---- actions (also used by rollout.ts) ----

  /** Start a worker in `slot`; with `surgeFor`, an extra one that takes over from that worker when ready. */
  spawn(slot: SlotRecord, surgeFor: number | undefined): WorkerRecord {
    const config = this.state.config;
    const id = this.state.nextWorkerId++;
    const worker: WorkerRecord = {
      id, slot: slot.slot, generation: this.state.generation, state: 'spawning', pid: undefined,
      since: this.now, spawnedAt: this.now, readyAt: undefined, lastBeatAt: undefined, stats: undefined, statsAt: undefined,
      condition: 'ok', reason: undefined, deadline: undefined, retiring: false, killSent: false, probeFailures: 0,
      bootError: undefined, crashError: undefined, surgeFor, awaitingProbe: false, upkeep: undefined,
      maxRequests: config.maxRequests > 0 ? config.maxRequests + jitterFor(id, config.maxRequestsJitter) : 0,
    };
    slot.spawns += 1;
    this.state.workers.push(worker);
    this.effects.push({ type: 'Spawn', id: worker.id, slot: worker.slot, generation: worker.generation, workerCount: this.state.targetWorkers });
    return worker;
  }

  /**
   * Mark a worker as being replaced: it leaves rotation now and its exit will be a planned one.
   * `counted` names the replacement reason to count for its slot (none for a new worker that never served).
   */
  retire(worker: WorkerRecord, condition: Condition, reason: string, counted: ReplacementReason | undefined): void {
    const slot = this.slotOf(worker);
    if (slot !== undefined && !worker.retiring && counted !== undefined) slot.replacements[counted] += 1;
    worker.retiring = true;
    worker.condition = condition;
    worker.reason = reason;
  }

  /** Replace a live but sick worker gracefully: out of rotation now, drain, kill at the graceful timeout. */
  private recycle(worker: WorkerRecord, condition: 'stuck' | 'unhealthy', reason: string): void {
    const event = condition === 'stuck' ? LOG_EVENTS.workerStuck : LOG_EVENTS.workerUnhealthy;
    this.log('error', event, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is ${condition}: ${reason}; replacing it`, { reason });
    this.retire(worker, condition, reason, condition);
    this.effects.push({ type: 'ReportRequests', id: worker.id, slot: worker.slot, reason: `${condition}: ${reason}` });
    this.drain(worker, `${condition}: ${reason}`);
    this.countFailure(worker, `${condition}: ${reason}`);
  }

  /** Drain a worker whose replacement is ready (reload, upkeep) or whose slot is gone (scale). */
  retireGracefully(worker: WorkerRecord, condition: UpkeepReason | 'reload' | 'scale', reason: string): void {
    this.retire(worker, condition, reason, condition);
    if (worker.state === 'ready') {
      if (condition === 'memory') this.effects.push({ type: 'ReportMemory', id: worker.id, slot: worker.slot, reason });
      this.drain(worker, `${condition}: ${reason}`);
    } else {
      this.stopWorker(worker, reason);
    }
  }

  private drain(worker: WorkerRecord, reason: string): void {
    this.enter(worker, 'draining');
    worker.deadline = this.now + this.state.config.gracefulTimeoutMs;
    this.effects.push({ type: 'Drain', id: worker.id, reason });
  }

  /** Stop a worker because warden is stopping or halting, or because it is no longer wanted. */
  stopWorker(worker: WorkerRecord, reason: string): void {
    if (worker.killSent || worker.state === 'draining' || worker.state === 'stopping') return;
    worker.retiring = true;
    worker.reason ??= reason;
    if (worker.state === 'ready') {
      this.drain(worker, reason);
      if (this.state.stopDeadline !== undefined) worker.deadline = this.state.stopDeadline;
      return;
    }
    if (worker.pid === undefined) return; // spawning: stopped as soon as its pid is known
    // A booting worker has no connections: ask it to exit, escalate if it does not.
    this.enter(worker, 'stopping');
    worker.deadline = this.now + this.state.config.killAfterMs;
    this.effects.push({ type: 'Signal', id: worker.id, pid: worker.pid, signal: 'SIGTERM' });
  }

  kill(worker: WorkerRecord, signal: 'SIGKILL'): void {
    if (worker.pid === undefined || worker.killSent) return;
    worker.killSent = true;
    worker.retiring = true;
    this.enter(worker, 'stopping');
    this.effects.push({ type: 'Signal', id: worker.id, pid: worker.pid, signal });
  }

  countFailure(worker: WorkerRecord, reason: string): void {
    const slot = this.slotOf(worker);
    if (slot === undefined || this.state.phase !== 'running') return;
    slot.consecutiveFailures += 1;
    const config = this.state.config;
    if (isCrashLooping(slot.consecutiveFailures, config.maxRestarts)) {
      this.haltWith({
        code: EXIT_CODES.crashLoop,
        errorCode: 'WARDEN_CRASH_LOOP',
        message: `worker ${worker.slot} failed ${slot.consecutiveFailures} times in a row (last: ${reason}); giving up`,
        hint: 'see the worker log lines above; raise --max-restarts to retry longer',
      });
      return;
    }
    const delay = backoffMs(slot.consecutiveFailures, config.backoff);
    slot.nextSpawnAt = this.now + delay;
    this.log('warn', LOG_EVENTS.workerBackoff, worker, `restarting worker ${worker.slot} in ${ms(delay)} (failure ${slot.consecutiveFailures} of at most ${config.maxRestarts + 1} in a row)`, {
      delayMs: delay, consecutiveFailures: slot.consecutiveFailures,
    });
  }

  /** `what` ends the sentence "worker N ...": how it exited before it was ready, or why it was killed. */
  private haltBoot(worker: WorkerRecord, what: string): void {
    const error = worker.bootError;
    const app = `app "${this.state.config.appLabel}"`;
    if (error?.code === 'WARDEN_APP_LOAD') {
      this.haltWith({ code: EXIT_CODES.boot, errorCode: 'WARDEN_APP_LOAD', message: error.message, ...(error.hint ? { hint: error.hint } : {}) });
      return;
    }
    // An error the app raised while starting (after it was imported), or a worker that just died.
    const portClash = error?.code === 'EADDRINUSE';
    this.haltWith({
      code: EXIT_CODES.boot,
      errorCode: 'WARDEN_BOOT',
      message: error ? `cannot start ${app}: ${error.name}: ${error.message}` : `cannot start ${app}: worker ${worker.slot} ${what}`,
      hint: portClash
        ? 'the app binds a port of its own; make it listen on process.env.PORT, which warden serves on its shared port'
        : `see the worker output above, or run \`${this.state.config.appCommand ?? `node ${this.state.config.appLabel}`}\` to see the app start on its own`,
    });
  }

  private haltWith(halt: HaltInfo): void {
    if (this.state.phase === 'halting' || this.state.phase === 'exited') return;
    this.state.phase = 'halting';
    this.state.halt = halt;
    this.state.stopDeadline = this.now + (this.state.everReady ? this.state.config.gracefulTimeoutMs : this.state.config.killAfterMs);
    this.log('error', LOG_EVENTS.halted, undefined, halt.message, { errorCode: halt.errorCode, exitCode: halt.code });
    abortRollouts(this, `warden is giving up: ${halt.message}`);
    this.effects.push({ type: 'CloseListener' });
    for (const worker of this.state.workers) this.stopWorker(worker, 'warden is giving up');
  }

  // ---- helpers ----

  enter(worker: WorkerRecord, state: WorkerState): void {
    worker.state = state;
    worker.since = this.now;
  }

  find(id: number, eventName: string): WorkerRecord | undefined {
    const worker = this.state.workers.find((candidate) => candidate.id === id);
    // Late messages from a worker that was already reaped are expected (IPC is asynchronous).
    if (worker === undefined && eventName !== 'HeartbeatReceived' && eventName !== 'ProbeSucceeded' && eventName !== 'ProbeFailed' && eventName !== 'WorkerCrashed' && eventName !== 'StackCaptured') {
      this.effects.push({ type: 'Log', level: 'warn', event: LOG_EVENTS.workerExited, msg: `${eventName} for unknown worker id ${id}; ignored`, fields: { id } });
    }
    return worker;
  }

  slotOf(worker: WorkerRecord): SlotRecord | undefined {
    return this.state.slots.find((slot) => slot.slot === worker.slot);
  }

  ensureSlot(number: number): SlotRecord {
    let slot = this.state.slots.find((candidate) => candidate.slot === number);
    if (slot === undefined) {
      slot = newSlot(number, this.now);
      this.state.slots.push(slot);
      this.state.slots.sort((a, b) => a.slot - b.slot);
    }
    return slot;
  }

  notify(requestIds: number[], message: string, done?: { ok: boolean }): void {
    const waiting = requestIds.filter((id) => id > 0);
    if (waiting.length > 0) this.effects.push({ type: 'Notify', requestIds: waiting, message, ...(done === undefined ? {} : { done }) });
  }

  log(level: LogLevel, event: LogEvent, worker: WorkerRecord | undefined, msg: string, extra: Record<string, unknown> = {}): void {
    const fields = worker === undefined ? extra : { slot: worker.slot, generation: worker.generation, pid: worker.pid, ...extra };
    this.effects.push({ type: 'Log', level, event, msg, fields });
  }
}

function progressFacts(worker: WorkerRecord): ProgressFacts | undefined {
  if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return undefined;
  return { stats: worker.stats, statsAt: worker.statsAt };
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}s` : `${Math.round(value)}ms`;
}
