// THE supervisor state machine: step(state, event, now) -> { state, effects }. It decides when to
// spawn, restart (with backoff), take a worker out of rotation, recycle, kill, give up and exit.
// Pure: no I/O, no timers, no process handles. supervisor.ts carries out the effects and reports
// what happened as new events; a periodic Tick lets deadlines (boot, heartbeat, drain) expire.

import { EXIT_CODES, type WardenErrorCode } from '../errors.js';
import { heartbeatFreshness, hungRequestsReason, stuckReason, type ProgressFacts } from '../health/verdicts.js';
import { LOG_EVENTS, type LogEvent } from '../log/events.js';
import type { HeartbeatStats, SerializedError } from '../protocol/messages.js';
import { backoffMs, describeExit, isCrashLooping, type BackoffConfig } from './policy.js';

export interface MachineConfig {
  /** The app module as the user named it, for messages. */
  appLabel: string;
  workers: number;
  bootTimeoutMs: number;
  /** No heartbeat for this long: stalled, SIGKILL, replace. */
  timeoutMs: number;
  /** No heartbeat for this long: out of rotation until the next heartbeat. */
  lateMs: number;
  gracefulTimeoutMs: number;
  stuckAfterMs: number;
  probeFailures: number;
  maxRestarts: number;
  backoff: BackoffConfig;
  /** How long a halt or a SIGTERM waits before escalating to SIGKILL. */
  killAfterMs: number;
  /** Take the JavaScript stack of a stalled worker before killing it (--capture-stacks). */
  captureStacks: boolean;
  /** How long the kill of a stalled worker waits for its stack. */
  captureTimeoutMs: number;
  /** RSS above which a worker is recycled gracefully (--max-memory); 0: off. */
  maxMemoryBytes: number;
  /** --heap-snapshot-on-recycle: the worker writes a heap snapshot first, so its heartbeats may pause. */
  heapSnapshotOnRecycle: boolean;
}

export type Phase = 'running' | 'stopping' | 'halting' | 'exited';

/**
 * spawning: fork asked for, no pid yet; booting: loading the app; ready: serving;
 * draining: no new connections, finishing in-flight requests; stopping: signalled, waiting for exit.
 */
export type WorkerState = 'spawning' | 'booting' | 'ready' | 'draining' | 'stopping';

/** ok: in rotation; late: missed its heartbeat window; the others are reasons it is being replaced. */
export type Condition = 'ok' | 'late' | 'stalled' | 'stuck' | 'unhealthy' | 'boot-timeout' | 'memory';

export interface WorkerRecord {
  /** Unique per process for the life of the primary; the key of everything (a pid is only for logs). */
  id: number;
  slot: number;
  generation: number;
  state: WorkerState;
  pid: number | undefined;
  since: number;
  spawnedAt: number;
  readyAt: number | undefined;
  lastBeatAt: number | undefined;
  stats: HeartbeatStats | undefined;
  statsAt: number | undefined;
  condition: Condition;
  /** Why the worker is out of rotation or being retired, in words. */
  reason: string | undefined;
  /** Deadline of the current state: boot, drain, or kill escalation. */
  deadline: number | undefined;
  /** True once warden decided to stop this worker: its exit is planned, not a crash. */
  retiring: boolean;
  killSent: boolean;
  probeFailures: number;
  bootError: SerializedError | undefined;
  crashError: SerializedError | undefined;
}

export interface ExitRecord {
  pid: number | undefined;
  code: number | null;
  signal: string | null;
  reason: string;
  at: number;
}

/** Why workers of a slot were replaced, counted per reason (for /workers now, metrics later). */
export type ReplacementReason = 'crashed' | 'stalled' | 'stuck' | 'unhealthy' | 'boot-timeout' | 'memory';

export interface SlotRecord {
  slot: number;
  spawns: number;
  replacements: Record<ReplacementReason, number>;
  consecutiveFailures: number;
  nextSpawnAt: number;
  lastExit: ExitRecord | undefined;
}

export interface HaltInfo {
  code: number;
  errorCode: WardenErrorCode;
  message: string;
  hint?: string;
}

export interface MachineState {
  phase: Phase;
  config: MachineConfig;
  generation: number;
  workers: WorkerRecord[];
  slots: SlotRecord[];
  nextWorkerId: number;
  everReady: boolean;
  startedAt: number;
  stopDeadline: number | undefined;
  stopSignals: number;
  halt: HaltInfo | undefined;
}

export type MachineEvent =
  | { type: 'Tick' }
  | { type: 'WorkerSpawned'; id: number; pid: number }
  | { type: 'WorkerSpawnFailed'; id: number; error: SerializedError }
  | { type: 'WorkerReady'; id: number }
  | { type: 'WorkerBootFailed'; id: number; error: SerializedError }
  | { type: 'WorkerCrashed'; id: number; error: SerializedError }
  | { type: 'WorkerExited'; id: number; code: number | null; signal: string | null }
  | { type: 'HeartbeatReceived'; id: number; stats: HeartbeatStats }
  | { type: 'ProbeSucceeded'; id: number }
  | { type: 'ProbeFailed'; id: number; reason: string }
  | { type: 'SignalReceived'; signal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT' }
  /** The evidence asked for by a CaptureStack effect is in (or could not be had). */
  | { type: 'StackCaptured'; id: number };

export type LogLevel = 'info' | 'warn' | 'error';

export type Effect =
  | { type: 'Spawn'; id: number; slot: number; generation: number }
  | { type: 'Signal'; id: number; pid: number; signal: 'SIGKILL' | 'SIGTERM' }
  | { type: 'Drain'; id: number; reason: string }
  /** Take the stalled worker's JavaScript stack, then report StackCaptured; the kill waits for it. */
  | { type: 'CaptureStack'; id: number; pid: number; slot: number; reason: string }
  /** Ask a stuck or unhealthy worker for its requests in flight, for the incident record. */
  | { type: 'ReportRequests'; id: number; slot: number; reason: string }
  /** Record a memory recycle (RSS trend; heap snapshot if asked) before the worker drains. */
  | { type: 'ReportMemory'; id: number; slot: number; reason: string }
  | { type: 'CloseListener' }
  | { type: 'Log'; level: LogLevel; event: LogEvent; msg: string; fields: Record<string, unknown> }
  | { type: 'Exit'; code: number; halt: HaltInfo | undefined };

export interface StepResult {
  state: MachineState;
  effects: Effect[];
}

export function initialState(config: MachineConfig, now: number): MachineState {
  const slots: SlotRecord[] = [];
  for (let slot = 1; slot <= config.workers; slot++) {
    slots.push({
      slot, spawns: 0, consecutiveFailures: 0, nextSpawnAt: now, lastExit: undefined,
      replacements: { crashed: 0, stalled: 0, stuck: 0, unhealthy: 0, 'boot-timeout': 0, memory: 0 },
    });
  }
  return {
    phase: 'running', config, generation: 1, workers: [], slots, nextWorkerId: 1, everReady: false,
    startedAt: now, stopDeadline: undefined, stopSignals: 0, halt: undefined,
  };
}

/** A worker that holds its slot: not (yet) being replaced. */
export function isActive(worker: WorkerRecord): boolean {
  return !worker.retiring && (worker.state === 'spawning' || worker.state === 'booting' || worker.state === 'ready');
}

/** Only these workers receive new connections. */
export function isInRotation(state: MachineState, worker: WorkerRecord): boolean {
  return state.phase === 'running' && worker.state === 'ready' && !worker.retiring && worker.condition === 'ok';
}

export function step(previous: MachineState, event: MachineEvent, now: number): StepResult {
  const run = new Step(structuredClone(previous), now);
  run.apply(event);
  return { state: run.state, effects: run.effects };
}

class Step {
  readonly effects: Effect[] = [];

  constructor(
    readonly state: MachineState,
    private readonly now: number,
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
      default: {
        const impossible: never = event;
        throw new Error(`machine: unknown event ${JSON.stringify(impossible)}`);
      }
    }
    // Housekeeping after every event, like gunicorn's arbiter loop: fill empty slots, finish a stop.
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
    this.log('info', LOG_EVENTS.workerSpawned, worker, `worker ${worker.slot} started (pid ${pid})`);
    if (this.state.phase !== 'running') this.stopWorker(worker, 'warden is stopping');
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
    if (this.state.phase !== 'running') this.stopWorker(worker, 'warden is stopping');
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
    if (planned) {
      this.log('info', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} (${reason})`, fields);
      return;
    }
    if (this.state.phase !== 'running') {
      this.log('warn', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how} while warden was stopping`, fields);
      return;
    }
    this.log('error', LOG_EVENTS.workerExited, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${how}${worker.readyAt === undefined ? ' before it was ready' : ''}`, fields);
    if (slot !== undefined) slot.replacements.crashed += 1;
    if (!this.state.everReady && worker.readyAt === undefined) {
      this.haltBoot(worker, `${how} before it was ready`);
      return;
    }
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
    if (worker !== undefined) worker.probeFailures = 0;
  }

  private onProbeFailed(id: number, reason: string): void {
    const worker = this.find(id, 'ProbeFailed');
    if (worker === undefined || worker.state !== 'ready' || worker.retiring) return;
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
          this.retire(worker, 'boot-timeout', reason);
          this.kill(worker, 'SIGKILL');
          if (!this.state.everReady) this.haltBoot(worker, reason);
          else this.countFailure(worker, reason);
        }
        return;
      case 'ready':
      case 'draining':
        // A worker writing its heap snapshot is blocked on purpose; the drain deadline still bounds it.
        if (!(worker.condition === 'memory' && config.heapSnapshotOnRecycle)) this.checkLiveness(worker);
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
      this.retire(worker, 'stalled', reason);
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

  /** Request progress: the stuck (poisoned worker) rule and --request-timeout time-outs in a row. */
  private checkProgress(worker: WorkerRecord): void {
    if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return;
    const limit = this.state.config.maxMemoryBytes;
    if (limit > 0 && worker.stats.rssBytes > limit) {
      this.recycleForMemory(worker, `RSS ${mb(worker.stats.rssBytes)} is above --max-memory ${mb(limit)}`);
      return;
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
    const stuck = facts === undefined ? undefined : stuckReason(facts, peers, this.now, this.state.config.stuckAfterMs);
    if (stuck !== undefined) this.recycle(worker, 'stuck', stuck);
  }

  /** Keep one active worker in every slot; retire workers of slots above the target. */
  private reconcile(): void {
    if (this.state.phase !== 'running') return;
    for (const slot of this.state.slots) {
      const active = this.state.workers.some((worker) => worker.slot === slot.slot && isActive(worker));
      if (!active && this.now >= slot.nextSpawnAt) this.spawn(slot);
    }
  }

  private exitWhenDone(): void {
    const phase = this.state.phase;
    if ((phase !== 'stopping' && phase !== 'halting') || this.state.workers.length > 0) return;
    const halt = this.state.halt;
    this.state.phase = 'exited';
    if (halt === undefined) this.log('info', LOG_EVENTS.stopped, undefined, 'all workers stopped; exiting');
    this.effects.push({ type: 'Exit', code: halt?.code ?? EXIT_CODES.ok, halt });
  }

  // ---- actions ----

  private spawn(slot: SlotRecord): void {
    const worker: WorkerRecord = {
      id: this.state.nextWorkerId++, slot: slot.slot, generation: this.state.generation, state: 'spawning', pid: undefined,
      since: this.now, spawnedAt: this.now, readyAt: undefined, lastBeatAt: undefined, stats: undefined, statsAt: undefined,
      condition: 'ok', reason: undefined, deadline: undefined, retiring: false, killSent: false, probeFailures: 0,
      bootError: undefined, crashError: undefined,
    };
    slot.spawns += 1;
    this.state.workers.push(worker);
    this.effects.push({ type: 'Spawn', id: worker.id, slot: worker.slot, generation: worker.generation });
  }

  /** Mark a worker as being replaced: it leaves rotation now and its exit will be a planned one. */
  private retire(worker: WorkerRecord, condition: Condition, reason: string): void {
    const slot = this.slotOf(worker);
    if (slot !== undefined && !worker.retiring && condition !== 'ok' && condition !== 'late') slot.replacements[condition] += 1;
    worker.retiring = true;
    worker.condition = condition;
    worker.reason = reason;
  }

  /** Replace a live but sick worker gracefully: out of rotation now, drain, kill at the graceful timeout. */
  private recycle(worker: WorkerRecord, condition: 'stuck' | 'unhealthy', reason: string): void {
    const event = condition === 'stuck' ? LOG_EVENTS.workerStuck : LOG_EVENTS.workerUnhealthy;
    this.log('error', event, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is ${condition}: ${reason}; replacing it`, { reason });
    this.retire(worker, condition, reason);
    this.effects.push({ type: 'ReportRequests', id: worker.id, slot: worker.slot, reason: `${condition}: ${reason}` });
    this.drain(worker, `${condition}: ${reason}`);
    this.countFailure(worker, `${condition}: ${reason}`);
  }

  /** Memory recycling is upkeep, not a failure: no backoff, and it never counts toward a crash loop. */
  private recycleForMemory(worker: WorkerRecord, reason: string): void {
    this.log('warn', LOG_EVENTS.workerRecycled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is being recycled: ${reason}`, { reason });
    this.retire(worker, 'memory', reason);
    this.effects.push({ type: 'ReportMemory', id: worker.id, slot: worker.slot, reason });
    this.drain(worker, `memory: ${reason}`);
  }

  private drain(worker: WorkerRecord, reason: string): void {
    this.enter(worker, 'draining');
    worker.deadline = this.now + this.state.config.gracefulTimeoutMs;
    this.effects.push({ type: 'Drain', id: worker.id, reason });
  }

  /** Stop a worker because warden is stopping or halting. */
  private stopWorker(worker: WorkerRecord, reason: string): void {
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

  private kill(worker: WorkerRecord, signal: 'SIGKILL'): void {
    if (worker.pid === undefined || worker.killSent) return;
    worker.killSent = true;
    worker.retiring = true;
    this.enter(worker, 'stopping');
    this.effects.push({ type: 'Signal', id: worker.id, pid: worker.pid, signal });
  }

  private countFailure(worker: WorkerRecord, reason: string): void {
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
        : `see the worker output above, or run \`node ${this.state.config.appLabel}\` to see the app start on its own`,
    });
  }

  private haltWith(halt: HaltInfo): void {
    if (this.state.phase === 'halting' || this.state.phase === 'exited') return;
    this.state.phase = 'halting';
    this.state.halt = halt;
    this.state.stopDeadline = this.now + (this.state.everReady ? this.state.config.gracefulTimeoutMs : this.state.config.killAfterMs);
    this.log('error', LOG_EVENTS.halted, undefined, halt.message, { errorCode: halt.errorCode, exitCode: halt.code });
    this.effects.push({ type: 'CloseListener' });
    for (const worker of this.state.workers) this.stopWorker(worker, 'warden is giving up');
  }

  // ---- helpers ----

  private enter(worker: WorkerRecord, state: WorkerState): void {
    worker.state = state;
    worker.since = this.now;
  }

  private find(id: number, eventName: string): WorkerRecord | undefined {
    const worker = this.state.workers.find((candidate) => candidate.id === id);
    // Late messages from a worker that was already reaped are expected (IPC is asynchronous).
    if (worker === undefined && eventName !== 'HeartbeatReceived' && eventName !== 'ProbeSucceeded' && eventName !== 'ProbeFailed' && eventName !== 'WorkerCrashed' && eventName !== 'StackCaptured') {
      this.effects.push({ type: 'Log', level: 'warn', event: LOG_EVENTS.workerExited, msg: `${eventName} for unknown worker id ${id}; ignored`, fields: { id } });
    }
    return worker;
  }

  private slotOf(worker: WorkerRecord): SlotRecord | undefined {
    return this.state.slots.find((slot) => slot.slot === worker.slot);
  }

  private log(level: LogLevel, event: LogEvent, worker: WorkerRecord | undefined, msg: string, extra: Record<string, unknown> = {}): void {
    const fields = worker === undefined ? extra : { slot: worker.slot, generation: worker.generation, pid: worker.pid, ...extra };
    this.effects.push({ type: 'Log', level, event, msg, fields });
  }
}

function progressFacts(worker: WorkerRecord): ProgressFacts | undefined {
  if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return undefined;
  return { stats: worker.stats, statsAt: worker.statsAt, readyAt: worker.readyAt };
}

function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}s` : `${Math.round(value)}ms`;
}
