// What a state is known to be, computed once per state and remembered (states are never changed
// once step() returned them): the rotation the listener hands connections to, and whether the fleet
// is settled so that a run of heartbeats costs O(1) each. Pure.

import { isActive, isInRotation, slotRecord } from './state.js';
import type { MachineState } from './types.js';

/**
 * The workers in rotation, in slot order: what the listener hands connections to. Computed once
 * per state (states are never changed once step() returned them) and carried over by the steps that
 * cannot change it, so an unchanged rotation is the same array.
 */
export function rotationOf(state: MachineState): readonly number[] {
  let rotation = ROTATIONS.get(state);
  if (rotation === undefined) {
    rotation = state.workers.filter((worker) => isInRotation(state, worker)).sort((a, b) => a.slot - b.slot).map((worker) => worker.id);
    ROTATIONS.set(state, rotation);
  }
  return rotation;
}

const ROTATIONS = new WeakMap<MachineState, readonly number[]>();

/** States known to be settled (isSettled), remembered so that a run of heartbeats costs O(1) each. */
const SETTLED = new WeakSet<MachineState>();

/**
 * Settled: the housekeeping pass has nothing to do now and will have nothing to do at any later
 * time until an event changes a worker's state, the target, or starts a reload or a scale: every slot
 * up to the target is held, nothing is surging or due for upkeep, no slot or worker is surplus.
 */
export function isSettled(state: MachineState): boolean {
  if (SETTLED.has(state)) return true;
  if (state.phase !== 'running' || state.reload !== undefined || state.reloadQueued !== undefined || state.scale !== undefined) return false;
  const target = state.targetWorkers;
  if (state.slots.length !== target) return false;
  const held = new Set<number>();
  for (const worker of state.workers) {
    if (worker.surgeFor !== undefined || worker.upkeep !== undefined) return false;
    if (worker.slot > target && !worker.retiring) return false;
    if (isActive(worker)) held.add(worker.slot);
  }
  for (let slot = 1; slot <= target; slot++) if (!held.has(slot) || slotRecord(state, slot) === undefined) return false;
  SETTLED.add(state);
  return true;
}

/** A step that changed nothing the housekeeping pass or the rotation reads: both carry over. */
export function carrySettled(previous: MachineState, next: MachineState): void {
  SETTLED.add(next);
  const rotation = ROTATIONS.get(previous);
  if (rotation !== undefined) ROTATIONS.set(next, rotation);
}
