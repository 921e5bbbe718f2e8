// Building, copying and reading a machine state: the first state, the copy each step starts from,
// slot look-up, and the questions every part asks of a worker (does it hold its slot, is it in
// rotation). Pure: no I/O.

import { startAutoscale } from './autoscale.js';
import { REPLACEMENT_REASONS, type MachineConfig, type MachineState, type ReplacementReason, type SlotRecord, type WorkerRecord } from './types.js';

export function emptyReplacements(): Record<ReplacementReason, number> {
  return Object.fromEntries(REPLACEMENT_REASONS.map((reason) => [reason, 0])) as Record<ReplacementReason, number>;
}

export function newSlot(slot: number, now: number): SlotRecord {
  return { slot, spawns: 0, consecutiveFailures: 0, nextSpawnAt: now, lastExit: undefined, replacements: emptyReplacements() };
}

export function initialState(config: MachineConfig, now: number): MachineState {
  const slots: SlotRecord[] = [];
  for (let slot = 1; slot <= config.workers; slot++) slots.push(newSlot(slot, now));
  return {
    phase: 'running', config, generation: 1, highestGeneration: 1, targetWorkers: config.workers, workers: [], slots, removedSlotReplacements: emptyReplacements(),
    nextWorkerId: 1, everReady: false, startedAt: now, stopDeadline: undefined, stopSignals: 0, stopWasUnclean: false, halt: undefined,
    reload: undefined, reloadQueued: undefined, lastReload: undefined, reloads: { completed: 0, failed: 0, aborted: 0 },
    quarantines: { started: 0, ended: { released: 0, recycled: 0, returned: 0, exited: 0 } }, scale: undefined,
    autoscale: config.autoscale === undefined ? undefined : startAutoscale(config.autoscale.policy, config.autoscale.caps),
  };
}

/**
 * The copy step() starts from, so that the state it was given stays as it was: a new worker list and
 * counters (the slot list is copied when first changed), but the same worker and slot records. A step copies a record the first time it writes to
 * it (Actions.own, Actions.ownSlot), so a heartbeat copies one worker, not the fleet; what the machine
 * only ever replaces whole (config, stats, errors, exits, halt, scale, suspicion) is shared. The
 * machine tests freeze every state they get back to hold the machine to this.
 */
export function copyState(state: MachineState): MachineState {
  return {
    ...state,
    workers: [...state.workers],
    // Shared until the step changes it (Actions.ownSlotList): most events touch no slot.
    slots: state.slots,
    removedSlotReplacements: { ...state.removedSlotReplacements },
    reloads: { ...state.reloads },
    quarantines: { started: state.quarantines.started, ended: { ...state.quarantines.ended } },
    reload: state.reload === undefined ? undefined : { ...state.reload },
  };
}

/** The record of slot `number`: slots are kept sorted and usually numbered 1..N, so mostly O(1). */
export function slotRecord(state: MachineState, number: number): SlotRecord | undefined {
  const guess = state.slots[number - 1];
  if (guess !== undefined && guess.slot === number) return guess;
  return state.slots.find((candidate) => candidate.slot === number);
}

/** A worker that holds its slot: not (yet) being replaced. A surge worker holds it too. */
export function isActive(worker: WorkerRecord): boolean {
  return !worker.retiring && (worker.state === 'spawning' || worker.state === 'booting' || worker.state === 'ready');
}

/** Only these workers receive new connections. */
export function isInRotation(state: MachineState, worker: WorkerRecord): boolean {
  return state.phase === 'running' && worker.state === 'ready' && !worker.retiring && !worker.awaitingProbe && worker.condition === 'ok';
}

/** Deterministic per-worker jitter in 0..jitter (gunicorn draws it at random; a hash keeps step() pure). */
export function jitterFor(id: number, jitter: number): number {
  if (jitter <= 0) return 0;
  const mixed = Math.imul(id ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  return ((mixed ^ (mixed >>> 13)) >>> 0) % (jitter + 1);
}
