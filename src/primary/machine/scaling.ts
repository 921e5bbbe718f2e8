// The fleet's size: `warden scale` (and SIGTTIN/SIGTTOU) moves the target worker count, and with
// --workers MIN..MAX the autoscaling rule (autoscale.ts) moves it on each LoadSampled. Moving the
// target is all these handlers do: rollout.ts's reconcile pass then spawns into new slots, drains the
// surplus (retireSurplus) and answers the request once every slot serves (checkScaleDone).
// Pure, like step.ts: it acts through an Actions object (actions.ts) and pushes effects.

import { LOG_EVENTS } from '../../log/events.js';
import { seconds } from '../../units.js';
import type { Actions } from './actions.js';
import { fleetUtilization, sampleAutoscale } from './autoscale.js';
import { isInRotation } from './state.js';
import { MAX_WORKERS, REPLACEMENT_REASONS, type WorkerRecord } from './types.js';

// ---- scale ----

export function onScaleRequested(run: Actions, event: { requestId: number; source: string; workers?: number; delta?: number }): void {
  const state = run.state;
  const { requestId, source } = event;
  if (state.phase !== 'running') {
    run.notify([requestId], 'warden is stopping; nothing to scale', { ok: false });
    return;
  }
  const current = state.targetWorkers;
  const target = event.workers ?? current + (event.delta ?? 0);
  let refusal: string | undefined;
  if (!Number.isInteger(target) || target < 1) refusal = `cannot scale to ${target} workers: at least 1 is needed (to stop warden, send it SIGTERM)`;
  else if (target > MAX_WORKERS) refusal = `cannot scale to ${target} workers: at most ${MAX_WORKERS}`;
  else if (state.autoscale !== undefined && (target < state.autoscale.policy.min || target > state.autoscale.policy.max)) {
    const { min, max } = state.autoscale.policy;
    refusal = `cannot scale to ${target} workers: --workers ${min}..${max} keeps the count between ${min} and ${max}; restart warden with another range to go past it`;
  }
  if (refusal !== undefined) {
    run.log('warn', LOG_EVENTS.scaleRefused, undefined, `${refusal} (asked by ${source})`, { source, target, current });
    run.notify([requestId], refusal, { ok: false });
    return;
  }
  if (target === current && state.scale === undefined) {
    run.notify([requestId], `already serving with ${current} worker${current === 1 ? '' : 's'}`, { ok: true });
    return;
  }
  state.targetWorkers = target;
  for (let slot = 1; slot <= target; slot++) run.ensureSlot(slot);
  // Within the range a manual scale moves the count now, and the rule waits its cool-down before it
  // may move it again (it would otherwise undo the operator's step at the next sample).
  if (state.autoscale !== undefined) state.autoscale = { ...state.autoscale, rule: { highSince: undefined, lowSince: undefined, changedAt: run.now } };
  const message = `scaling from ${current} to ${target} worker${target === 1 ? '' : 's'} (asked by ${source})`;
  run.log('info', LOG_EVENTS.scaled, undefined, message, { source, from: current, to: target });
  state.scale = { target, requestIds: [...(state.scale?.requestIds ?? []), requestId], startedAt: state.scale?.startedAt ?? run.now };
  run.notify([requestId], message);
}

// ---- autoscale ----

/**
 * --workers MIN..MAX, about once a second: the rule decides on the fleet ELU of the workers in
 * rotation and the accept queue; a change moves the target like `warden scale +1`/`-1` (reconcile
 * spawns into the new slot; retireSurplus drains the highest one, its requests in flight finishing).
 * No decision while a reload or a `warden scale` runs: they change the fleet under the readings.
 */
export function onLoadSampled(run: Actions, event: { acceptQueue: number | null; memoryAllows?: number }): void {
  const state = run.state;
  const current = state.autoscale;
  if (current === undefined || state.phase !== 'running') return;
  const auto = event.memoryAllows === undefined || event.memoryAllows === current.caps.memoryAllows
    ? current : { ...current, caps: { ...current.caps, memoryAllows: event.memoryAllows } };
  const serving = state.workers.filter((worker) => isInRotation(state, worker));
  const isRollingOut = state.reload !== undefined || state.reloadQueued !== undefined || state.scale !== undefined;
  const sample = sampleAutoscale(auto, {
    now: run.now, workers: state.targetWorkers, utilization: fleetUtilization(serving.map((worker) => worker.stats?.eventLoopUtilization)),
    acceptQueue: event.acceptQueue ?? undefined, isRollingOut,
  });
  state.autoscale = sample.run;
  if (!sample.isLogged) return;
  const { decision } = sample;
  const from = state.targetWorkers;
  run.log('info', LOG_EVENTS.autoscaled, undefined, `autoscale: ${decision.change === 'hold' ? 'holding' : `${decision.change === 'grow' ? 'adding' : 'retiring'} a worker`} (${decision.reason}): ${decision.detail}`,
    { change: decision.change, reason: decision.reason, from, to: decision.workers });
  if (decision.change === 'hold') return;
  state.targetWorkers = decision.workers;
  for (let slot = 1; slot <= decision.workers; slot++) run.ensureSlot(slot);
}

/** A worker of a slot added by scaling died before it was ready: the scale request fails (the slot retries). */
export function scaleWorkerFailed(run: Actions, worker: WorkerRecord, error: string): void {
  const scale = run.state.scale;
  if (scale === undefined) return;
  run.state.scale = undefined;
  run.notify(scale.requestIds, `worker ${worker.slot} could not start: ${error}; warden keeps retrying it with backoff`, { ok: false });
}

export function retireSurplus(run: Actions): void {
  const state = run.state;
  const surplus = state.workers
    .filter((worker) => worker.slot > state.targetWorkers && !worker.retiring)
    .sort((a, b) => b.slot - a.slot);
  for (const worker of surplus) {
    run.log('info', LOG_EVENTS.workerDraining, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is above the target of ${state.targetWorkers}; draining it`);
    run.retireGracefully(run.own(worker), 'scale', `scaled down to ${state.targetWorkers} worker${state.targetWorkers === 1 ? '' : 's'}`);
  }
  state.slots = state.slots.filter((slot) => {
    const isKept = slot.slot <= state.targetWorkers || state.workers.some((worker) => worker.slot === slot.slot);
    if (!isKept) for (const reason of REPLACEMENT_REASONS) state.removedSlotReplacements[reason] += slot.replacements[reason];
    return isKept;
  });
}

export function checkScaleDone(run: Actions): void {
  const state = run.state;
  const scale = state.scale;
  if (scale === undefined) return;
  for (let slot = 1; slot <= state.targetWorkers; slot++) {
    if (!state.workers.some((worker) => worker.slot === slot && isInRotation(state, worker))) return;
  }
  if (state.workers.some((worker) => worker.slot > state.targetWorkers)) return;
  state.scale = undefined;
  const message = `now serving with ${state.targetWorkers} worker${state.targetWorkers === 1 ? '' : 's'} (took ${seconds(run.now - scale.startedAt)})`;
  run.log('info', LOG_EVENTS.scaled, undefined, message, { workers: state.targetWorkers, durationMs: run.now - scale.startedAt });
  run.notify(scale.requestIds, message, { ok: true });
}
