// The machine's actions: what a decision does to the state (spawn, retire, recycle, drain, stop, kill,
// count a failure, halt) and the effects it asks for (notify, log). Shared by the event handlers
// (worker-events.ts, stopping.ts), the liveness checks (liveness.ts) and the rollouts (rollout.ts),
// which all act through an Actions object. Pure: it changes only the state it holds and pushes
// effects; no I/O, no clocks.

import { EXIT_CODES } from '../../errors.js';
import { LOG_EVENTS, type LogEvent } from '../../log/events.js';
import type { Level } from '../../log/logger.js';
import { backoffMs, isCrashLooping } from './policy.js';
import type { Effect, MachineEvent } from './events.js';
import { jitterFor, newSlot, slotRecord, workerIndex } from './state.js';
import type { Condition, HaltInfo, MachineState, QuarantineOutcome, ReplacementReason, SlotRecord, UpkeepReason, WorkerRecord, WorkerState } from './types.js';

/**
 * Events a worker may still send after it was reaped (IPC is asynchronous): for an unknown worker id
 * they are dropped quietly; any other event for an unknown id is logged.
 */
const LATE_EVENTS: ReadonlySet<MachineEvent['type']> = new Set(['HeartbeatReceived', 'ProbeSucceeded', 'ProbeFailed', 'ComparisonProbed', 'WorkerCrashed', 'StackCaptured']);

export abstract class Actions {
  readonly effects: Effect[] = [];

  constructor(
    readonly state: MachineState,
    readonly now: number,
  ) {}

  /** Records this step copied (or created): only these may be written to. */
  private readonly owned = new Set<WorkerRecord | SlotRecord>();

  /** A stop or a halt ends the running reload or scale (rollout.ts; step.ts wires it). */
  protected abstract abortRollouts(reason: string): void;


  /** Start a worker in `slot`; with `surgeFor`, an extra one that takes over from that worker when ready. */
  spawn(slotRecord: SlotRecord, surgeFor: number | undefined): WorkerRecord {
    let slot = slotRecord;
    const config = this.state.config;
    const id = this.state.nextWorkerId++;
    const worker: WorkerRecord = {
      id, slot: slot.slot, generation: this.state.generation, state: 'spawning', pid: undefined,
      since: this.now, spawnedAt: this.now, readyAt: undefined, lastBeatAt: undefined, stats: undefined, busySince: undefined, statsAt: undefined,
      condition: 'ok', reason: undefined, deadline: undefined, retiring: false, killSent: false, probeFailures: 0,
      bootError: undefined, crashError: undefined, surgeFor, awaitingProbe: false, upkeep: undefined, suspicion: undefined, servedMarks: [], comparison: undefined,
      maxRequests: config.maxRequests > 0 ? config.maxRequests + jitterFor(id, config.maxRequestsJitter) : 0,
    };
    slot = this.ownSlot(slot);
    slot.spawns += 1;
    this.owned.add(worker);
    this.ownWorkerList().push(worker);
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
    this.endQuarantine(worker, condition === 'stuck' || condition === 'unhealthy' ? 'recycled' : 'exited');
    worker.retiring = true;
    worker.condition = condition;
    worker.reason = reason;
  }

  /** Count how a quarantine ended, once: only while the worker's condition still says quarantined. */
  endQuarantine(worker: WorkerRecord, outcome: QuarantineOutcome): void {
    if (worker.condition === 'quarantined') this.state.quarantines.ended[outcome] += 1;
  }

  /** Replace a live but sick worker gracefully: out of rotation now, drain, kill at the graceful timeout. */
  recycle(worker: WorkerRecord, condition: 'stuck' | 'unhealthy', reason: string): void {
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

  drain(worker: WorkerRecord, reason: string): void {
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

  kill(worker: WorkerRecord): void {
    if (worker.pid === undefined || worker.killSent) return;
    worker.killSent = true;
    worker.retiring = true;
    this.enter(worker, 'stopping');
    this.effects.push({ type: 'Signal', id: worker.id, pid: worker.pid, signal: 'SIGKILL' });
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
  haltBoot(worker: WorkerRecord, what: string): void {
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

  haltWith(halt: HaltInfo): void {
    if (this.state.phase === 'halting' || this.state.phase === 'exited') return;
    this.state.phase = 'halting';
    this.state.halt = halt;
    this.state.stopDeadline = this.now + (this.state.everReady ? this.state.config.gracefulTimeoutMs : this.state.config.killAfterMs);
    this.log('error', LOG_EVENTS.halted, undefined, halt.message, { errorCode: halt.errorCode, exitCode: halt.code });
    this.abortRollouts(`warden is giving up: ${halt.message}`);
    this.effects.push({ type: 'CloseListener' });
    for (const worker of this.state.workers) this.stopWorker(this.own(worker), 'warden is giving up');
  }

  // ---- helpers ----

  enter(worker: WorkerRecord, state: WorkerState): void {
    worker.state = state;
    worker.since = this.now;
  }

  find(id: number, eventName: MachineEvent['type']): WorkerRecord | undefined {
    const index = workerIndex(this.state, id);
    if (index >= 0) return this.ownAt(index);
    if (!LATE_EVENTS.has(eventName)) {
      this.effects.push({ type: 'Log', level: 'warn', event: LOG_EVENTS.workerExited, msg: `${eventName} for unknown worker id ${id}; ignored`, fields: { id } });
    }
    return undefined;
  }

  slotOf(worker: WorkerRecord): SlotRecord | undefined {
    const slot = slotRecord(this.state, worker.slot);
    return slot === undefined ? undefined : this.ownSlot(slot);
  }

  /** This step's own copy of a worker record, made the first time it is written to (copy-on-write). */
  own(worker: WorkerRecord): WorkerRecord {
    if (this.owned.has(worker)) return worker;
    const index = workerIndex(this.state, worker.id);
    if (index < 0) throw new Error(`machine: worker ${worker.slot} (id ${worker.id}) is not in the state; it cannot be changed`);
    return this.ownAt(index);
  }

  private ownAt(index: number): WorkerRecord {
    const current = this.state.workers[index] as WorkerRecord;
    if (this.owned.has(current)) return current;
    const copy = { ...current };
    this.ownWorkerList()[index] = copy;
    this.owned.add(copy);
    return copy;
  }

  /**
   * The worker list is shared with the previous state (copyState) until this step first changes it;
   * step.ts takes it at once for every event but the quiet ones, so that a handler looping over the
   * list sees the records it changed.
   */
  ownWorkerList(): WorkerRecord[] {
    return this.ownList('workers');
  }

  ownSlot(slot: SlotRecord): SlotRecord {
    if (this.owned.has(slot)) return slot;
    const slots = this.ownSlotList();
    const index = slots[slot.slot - 1]?.slot === slot.slot ? slot.slot - 1 : slots.findIndex((candidate) => candidate.slot === slot.slot);
    if (index < 0) throw new Error(`machine: slot ${slot.slot} is not in the state; it cannot be changed`);
    const current = slots[index] as SlotRecord;
    if (this.owned.has(current)) return current;
    const copy = { ...current, replacements: { ...current.replacements } };
    slots[index] = copy;
    this.owned.add(copy);
    return copy;
  }

  /** The slot list is shared with the previous state (copyState) until a step first changes it. */
  private ownSlotList(): SlotRecord[] {
    return this.ownList('slots');
  }

  /** A list shared with the previous state is copied the first time this step changes it, then owned. */
  private ownList<K extends 'workers' | 'slots'>(key: K): MachineState[K] {
    if (!this.ownedLists.has(key)) {
      this.state[key] = [...this.state[key]] as MachineState[K];
      this.ownedLists.add(key);
    }
    return this.state[key];
  }

  private readonly ownedLists = new Set<'workers' | 'slots'>();

  ensureSlot(number: number): SlotRecord {
    const found = this.state.slots.find((candidate) => candidate.slot === number);
    if (found !== undefined) return this.ownSlot(found);
    const slot = newSlot(number, this.now);
    this.owned.add(slot);
    const slots = this.ownSlotList();
    slots.push(slot);
    slots.sort((a, b) => a.slot - b.slot);
    return slot;
  }

  notify(requestIds: number[], message: string, done?: { ok: boolean }): void {
    const waiting = requestIds.filter((id) => id > 0);
    if (waiting.length > 0) this.effects.push({ type: 'Notify', requestIds: waiting, message, ...(done === undefined ? {} : { done }) });
  }

  log(level: Level, event: LogEvent, worker: WorkerRecord | undefined, msg: string, extra: Record<string, unknown> = {}): void {
    const fields = worker === undefined ? extra : { slot: worker.slot, generation: worker.generation, pid: worker.pid, ...extra };
    this.effects.push({ type: 'Log', level, event, msg, fields });
  }
}

export function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)}s` : `${Math.round(value)}ms`;
}
