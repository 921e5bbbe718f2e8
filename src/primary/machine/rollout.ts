// Reconcile toward targets, as gunicorn's arbiter does: a reload raises the target generation, a
// scale (scaling.ts: `warden scale` or the autoscaling rule) moves the target worker count, and upkeep (--max-requests, --max-memory) marks a worker as
// due. The same pass then starts surge workers in the slots concerned, and retires each old worker
// only once its replacement is ready, so capacity never drops below the target. A reload rolls
// `reloadWidth` slots at once: the workers above --min-ready are the room it may spend on booting
// replacements (one at a time with the default --min-ready all); upkeep recycles one at a time.
// Pure, like step.ts: it acts through an Actions object (actions.ts) and pushes effects.

import { LOG_EVENTS } from '../../log/events.js';
import type { Actions } from './actions.js';
import { backoffMs } from './policy.js';
import { checkScaleDone, retireSurplus } from './scaling.js';
import { isActive } from './state.js';
import type { MachineState, ReloadOutcome, WorkerRecord } from './types.js';
import { requiredReadyOf } from '../../protocol/admin.js';
import { seconds } from '../../units.js';

/**
 * How many slots a reload replaces at once, which is also the surge bound (workers above the
 * target while it runs): the target less the workers --min-ready requires, at least 1. Each old
 * worker serves until its replacement is ready, so the ready count never drops; the room bounds the
 * CPU and memory spent on booting replacements beside the serving workers.
 */
export function reloadWidth(state: Pick<MachineState, 'config' | 'targetWorkers'>): number {
  const target = state.targetWorkers;
  return Math.max(1, target - requiredReadyOf(state.config.minReady ?? { kind: 'all' }, target));
}

// ---- reload ----

export function onReloadRequested(run: Actions, requestId: number, source: string): void {
  const state = run.state;
  if (state.phase !== 'running') {
    run.notify([requestId], 'warden is stopping; nothing to reload', { ok: false });
    return;
  }
  if (state.reload !== undefined) {
    const alreadyQueued = state.reloadQueued !== undefined;
    state.reloadQueued = [...(state.reloadQueued ?? []), requestId];
    const message = alreadyQueued
      ? `a reload to generation ${state.reload.generation} is running and another is already queued; this request waits for the queued one`
      : `a reload to generation ${state.reload.generation} is running; this one is queued and starts when it ends`;
    run.log('info', LOG_EVENTS.reloadQueued, undefined, `${message} (asked by ${source})`, { source, generation: state.reload.generation });
    run.notify([requestId], message);
    return;
  }
  startReload(run, [requestId], source);
}

function startReload(run: Actions, requestIds: number[], source: string): void {
  const state = run.state;
  const generation = state.highestGeneration + 1;
  state.highestGeneration = generation;
  state.reload = { generation, requestIds, startedAt: run.now, slotsDone: 0 };
  state.generation = generation;
  const width = reloadWidth(state);
  const message = `reloading (asked by ${source}): ${state.targetWorkers} worker${state.targetWorkers === 1 ? '' : 's'} to generation ${generation}, ${width === 1 ? 'one slot' : `${width} slots`} at a time, each new worker ready before the old one drains`;
  run.log('info', LOG_EVENTS.reloadStarted, undefined, message, { source, generation });
  run.notify(requestIds, message);
}

function finishReload(run: Actions, outcome: ReloadOutcome, detail: { slot?: number; error?: string; reason?: string } = {}): void {
  const state = run.state;
  const reload = state.reload;
  if (reload === undefined) return;
  state.reload = undefined;
  state.lastReload = {
    generation: reload.generation, outcome, startedAt: reload.startedAt, endedAt: run.now,
    ...(detail.slot === undefined ? {} : { slot: detail.slot }), ...(detail.error === undefined ? {} : { error: detail.error }),
  };
  state.reloads[outcome] += 1;
  const took = seconds(run.now - reload.startedAt);
  const fields = { generation: reload.generation, outcome, durationMs: run.now - reload.startedAt, ...detail };
  if (outcome === 'completed') {
    const message = `reload to generation ${reload.generation} completed in ${took}: ${reload.slotsDone} worker${reload.slotsDone === 1 ? '' : 's'} replaced`;
    run.log('info', LOG_EVENTS.reloadCompleted, undefined, message, fields);
    run.notify(reload.requestIds, message, { ok: true });
  } else if (outcome === 'failed') {
    const message = `reload to generation ${reload.generation} failed at slot ${detail.slot ?? '?'}: ${detail.error ?? 'the new worker did not start'}; the old workers keep serving`;
    run.log('error', LOG_EVENTS.reloadFailed, undefined, message, fields);
    run.notify(reload.requestIds, message, { ok: false });
  } else {
    const message = `reload to generation ${reload.generation} stopped: ${detail.reason ?? 'aborted'}`;
    run.log('warn', LOG_EVENTS.reloadAborted, undefined, message, fields);
    run.notify(reload.requestIds, message, { ok: false });
    return;
  }
  const queued = state.reloadQueued;
  if (queued !== undefined) {
    state.reloadQueued = undefined;
    startReload(run, queued, 'a queued request');
  }
}

/**
 * The slots to move to the reload's generation next, in slot order, skipping those whose surge is
 * under way; the list stops at a slot whose old worker still boots (it is waited for). 'done' when no
 * old worker is left.
 */
function nextSlotsToReload(state: MachineState, generation: number): number[] | 'done' {
  const slots: number[] = [];
  let isDone = true;
  for (let slot = 1; slot <= state.targetWorkers; slot++) {
    const old = state.workers.filter((worker) => worker.slot === slot && isActive(worker) && worker.generation < generation);
    if (old.length === 0) continue;
    isDone = false;
    if (state.workers.some((worker) => worker.slot === slot && worker.surgeFor !== undefined && !worker.retiring)) continue;
    if (!old.some((worker) => worker.state === 'ready')) break;
    slots.push(slot);
  }
  return isDone ? 'done' : slots;
}

// ---- surge workers ----

/** A surge worker is ready (and passed its probe, when one is asked): the worker it replaces drains. */
export function surgeReady(run: Actions, worker: WorkerRecord): void {
  const state = run.state;
  const found = state.workers.find((candidate) => candidate.id === worker.surgeFor);
  const old = found === undefined ? undefined : run.own(found);
  worker.surgeFor = undefined;
  const reload = state.reload;
  if (reload !== undefined && worker.generation === reload.generation) {
    reload.slotsDone += 1;
    const message = `reload: slot ${worker.slot} now runs generation ${worker.generation} (pid ${worker.pid ?? '?'})${old === undefined ? '' : `; draining pid ${old.pid ?? '?'}`} (${reload.slotsDone} of ${state.targetWorkers})`;
    run.log('info', LOG_EVENTS.reloadSlot, worker, message);
    run.notify(reload.requestIds, message);
    if (old !== undefined && !old.retiring) run.retireGracefully(old, 'reload', `replaced by generation ${worker.generation}, pid ${worker.pid ?? '?'}`);
    return;
  }
  if (old === undefined || old.retiring) return;
  const upkeep = old.upkeep ?? 'max-requests';
  run.log('info', LOG_EVENTS.workerRecycled, old, `worker ${old.slot} (pid ${old.pid ?? '?'}) drains: its replacement (pid ${worker.pid ?? '?'}) is ready`, { replacement: worker.pid });
  run.retireGracefully(old, upkeep, old.reason ?? upkeep);
}

/** A surge worker could not start or failed its first probe: the worker it was to replace keeps serving. */
export function surgeFailed(run: Actions, worker: WorkerRecord, error: string): void {
  worker.surgeFor = undefined;
  const state = run.state;
  const slot = run.slotOf(worker);
  if (state.reload !== undefined && worker.generation === state.reload.generation) {
    const generation = state.reload.generation;
    finishReload(run, 'failed', { slot: worker.slot, error });
    // The replacements still booting in other slots are stopped: the old workers keep serving.
    for (const other of state.workers) {
      if (other.id === worker.id || other.surgeFor === undefined || other.generation !== generation || other.retiring) continue;
      const surge = run.own(other);
      surge.surgeFor = undefined;
      run.stopWorker(surge, `the reload to generation ${generation} failed at slot ${worker.slot}`);
    }
    return;
  }
  // Upkeep could not start a replacement (the code on disk no longer starts): keep the old worker,
  // retry later with the slot's backoff, but never give up the whole service for upkeep.
  if (slot === undefined) return;
  slot.consecutiveFailures += 1;
  const delay = backoffMs(slot.consecutiveFailures, state.config.backoff);
  slot.nextSpawnAt = run.now + delay;
  run.log('error', LOG_EVENTS.workerBackoff, worker, `replacement for worker ${worker.slot} could not start (${error}); the current worker keeps serving, next try in ${seconds(delay)}`, { error, delayMs: delay });
}

/** Stop or halt: a running reload or scale ends, and whoever waits on it is told. */
export function abortRollouts(run: Actions, reason: string): void {
  const state = run.state;
  finishReload(run, 'aborted', { reason });
  if (state.reloadQueued !== undefined) {
    run.notify(state.reloadQueued, `queued reload dropped: ${reason}`, { ok: false });
    state.reloadQueued = undefined;
  }
  if (state.scale !== undefined) {
    run.notify(state.scale.requestIds, `scale stopped: ${reason}`, { ok: false });
    state.scale = undefined;
  }
}

/** After every event: drain surplus slots, move a reload or an upkeep recycle one surge further. */
export function reconcileRollouts(run: Actions): void {
  const state = run.state;
  if (state.phase !== 'running') return;
  retireSurplus(run);
  startNextSurges(run);
  checkScaleDone(run);
}

function startNextSurges(run: Actions): void {
  const state = run.state;
  const surging = state.workers.filter((worker) => worker.surgeFor !== undefined && !worker.retiring).length;
  const reload = state.reload;
  if (reload !== undefined) {
    const next = nextSlotsToReload(state, reload.generation);
    if (next === 'done') {
      finishReload(run, 'completed');
      // A queued reload starts right away, in this same pass.
      if (state.reload !== undefined) startNextSurges(run);
      return;
    }
    for (const slot of next.slice(0, Math.max(0, reloadWidth(state) - surging))) surge(run, slot, (worker) => worker.generation < reload.generation);
    return;
  }
  if (surging > 0) return;
  const due = state.workers
    .filter((worker) => worker.upkeep !== undefined && isActive(worker) && worker.state === 'ready' && worker.slot <= state.targetWorkers)
    .sort((a, b) => a.slot - b.slot)[0];
  if (due !== undefined) surge(run, due.slot, (worker) => worker.id === due.id);
}

function surge(run: Actions, slotNumber: number, isOld: (worker: WorkerRecord) => boolean): void {
  const slot = run.ensureSlot(slotNumber);
  if (run.now < slot.nextSpawnAt) return;
  const old = run.state.workers.find((worker) => worker.slot === slotNumber && isActive(worker) && worker.state === 'ready' && isOld(worker));
  if (old === undefined) return;
  run.spawn(slot, old.id);
}
