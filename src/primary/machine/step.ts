// THE supervisor state machine: step(state, event, now) -> { state, effects }. It decides when to
// spawn, restart (with backoff), take a worker out of rotation, recycle, kill, give up and exit.
// This file maps each event to its handler and runs the housekeeping pass after every event;
// worker-events.ts answers what workers report, stopping.ts the stop, actions.ts what a decision
// does, liveness.ts the per-worker checks, rollout.ts reloads, scaling and upkeep recycling.
// Pure: no I/O, no timers, no process handles. supervisor.ts carries out the effects and reports
// what happened as new events; a periodic Tick lets deadlines (boot, heartbeat, drain) expire.
// The common events cost the same at any fleet size: a heartbeat touches only its worker, a Tick
// copies only the workers whose check is due, and a settled fleet skips the housekeeping pass.

import type { EventOf, MachineEvent, StepResult } from './events.js';
import { Actions } from './actions.js';
import { checkWorker, isCheckDue } from './liveness.js';
import { onComparisonProbed } from './quarantine.js';
import { abortRollouts, onReloadRequested, reconcileRollouts } from './rollout.js';
import { onLoadSampled, onScaleRequested } from './scaling.js';
import { copyState, isActive, workerIndex } from './state.js';
import { carrySettled, isSettled } from './state-facts.js';
import { exitWhenDone, killPastGracefulTimeout, onStopSignal } from './stopping.js';
import type { MachineState } from './types.js';
import {
  onHeartbeat, onProbeFailed, onProbeSucceeded, onStackCaptured, onWorkerBootFailed, onWorkerCrashed, onWorkerExited, onWorkerReady,
  onWorkerSigterm, onWorkerSpawned, onWorkerSpawnFailed,
} from './worker-events.js';

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

/** Each event's handler; a mapped type, so an event type without one does not compile. */
const HANDLERS: { [T in MachineEvent['type']]: (run: Step, event: EventOf<T>) => void } = {
  Tick: (run) => run.onTick(),
  WorkerSpawned: onWorkerSpawned,
  WorkerSigtermReceived: onWorkerSigterm,
  WorkerSpawnFailed: onWorkerSpawnFailed,
  WorkerReady: onWorkerReady,
  WorkerBootFailed: onWorkerBootFailed,
  WorkerCrashed: onWorkerCrashed,
  WorkerExited: onWorkerExited,
  HeartbeatReceived: onHeartbeat,
  ProbeSucceeded: onProbeSucceeded,
  ProbeFailed: onProbeFailed,
  ComparisonProbed: onComparisonProbed,
  SignalReceived: onStopSignal,
  StackCaptured: onStackCaptured,
  ReloadRequested: (run, event) => onReloadRequested(run, event.requestId, event.source),
  ScaleRequested: onScaleRequested,
  LoadSampled: onLoadSampled,
};

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
    const handler = HANDLERS[event.type] as ((run: Step, event: MachineEvent) => void) | undefined;
    if (handler === undefined) throw new Error(`machine: unknown event ${JSON.stringify(event)}`);
    this.ownWorkerList();
    handler(this, event);
    // Housekeeping after every event, like gunicorn's arbiter loop: fill empty slots, move reloads and
    // scaling toward their targets, finish a stop.
    this.reconcile();
    exitWhenDone(this);
  }

  /**
   * On a settled state, the common events that change one worker's liveness facts and nothing else
   * (a fresh heartbeat, a Tick with no check due): applied without the housekeeping pass, which
   * would find nothing to do. False when the event needs the full path.
   */
  private applyQuietly(event: MachineEvent): boolean {
    if (event.type === 'HeartbeatReceived') {
      const found = this.state.workers[workerIndex(this.state, event.id)];
      if (found === undefined || found.condition === 'late') return false;
      onHeartbeat(this, event);
      return true;
    }
    if (event.type === 'Tick') {
      return this.state.workers.every((worker) => !isCheckDue(this.state, worker, this.now));
    }
    return false;
  }

  onTick(): void {
    // Checks do not add or remove workers, so the index walks the records as each check left them.
    const workers = this.state.workers;
    for (let index = 0; index < workers.length; index++) {
      const worker = workers[index];
      if (worker !== undefined && (this.pass === 'full' || isCheckDue(this.state, worker, this.now))) checkWorker(this, this.own(worker));
    }
    killPastGracefulTimeout(this);
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
}
