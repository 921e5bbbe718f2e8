// Liveness and progress, judged on every Tick for each worker whose check is due: its state's
// deadlines, heartbeats (late takes a worker out of rotation, stalled kills it), upkeep limits
// (--max-memory, --max-requests), --request-timeout time-outs in a row, and suspicion (quarantine.ts).
// Pure: decides with verdicts.ts, acts through an Actions object.

import { LOG_EVENTS } from '../../log/events.js';
import { ms, type Actions } from './actions.js';
import { surgeFailed } from './rollout.js';
import { scaleWorkerFailed } from './scaling.js';
import { slotRecord } from './state.js';
import type { MachineState, UpkeepReason, WorkerRecord } from './types.js';
import { checkSuspicion } from './quarantine.js';
import { isSettled } from './state-facts.js';
import { heartbeatFreshness, hungRequestsReason, lateAfterBeatMs, QUARANTINE_RULE, silenceMs } from './verdicts.js';

/**
 * Whether checkWorker could change anything for this worker at `now`: false only when every check
 * it runs would find nothing (no deadline passed, heartbeat fresh, no limit reached, not suspect),
 * so that a Tick reads each worker in O(1) and copies none. It may say true where checkWorker then
 * finds nothing; never the other way (machine.property.test.ts compares both passes).
 */
export function isCheckDue(state: MachineState, worker: WorkerRecord, now: number): boolean {
  const config = state.config;
  switch (worker.state) {
    case 'spawning':
      return false;
    case 'booting':
      return worker.deadline !== undefined && now >= worker.deadline && !worker.retiring;
    case 'stopping':
      return !worker.killSent && worker.deadline !== undefined && now >= worker.deadline && worker.pid !== undefined;
    case 'ready':
    case 'draining':
      break;
    default: {
      const impossible: never = worker.state;
      throw new Error(`machine: worker ${worker.slot} in impossible state ${String(impossible)}`);
    }
  }
  if (worker.lastBeatAt !== undefined && !worker.killSent && heartbeatFreshness(worker.lastBeatAt, now, lateAfterBeatMs(config.lateMs, worker.stats), config.timeoutMs) !== 'fresh') return true;
  if (worker.state === 'draining') return worker.deadline !== undefined && now >= worker.deadline;
  if (worker.retiring) return false;
  if (worker.readyAt !== undefined && now - worker.readyAt >= config.backoff.resetAfterMs && (slotRecord(state, worker.slot)?.consecutiveFailures ?? 0) !== 0) return true;
  const stats = worker.stats;
  if (stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return false;
  if (worker.upkeep === undefined && worker.surgeFor === undefined) {
    if (config.maxMemoryBytes > 0 && stats.rssBytes > config.maxMemoryBytes) return true;
    if (worker.maxRequests > 0 && stats.served >= worker.maxRequests) return true;
  }
  if (hungRequestsReason(stats) !== undefined) return true;
  if (config.stuckAfterMs <= 0 || state.phase !== 'running') return false;
  return worker.suspicion !== undefined || silenceMs({ id: worker.id, stats, statsAt: worker.statsAt }) >= QUARANTINE_RULE.suspectFloorMs;
}

/**
 * Until when a Tick can change nothing, so that the supervisor may tick less often while the fleet is
 * quiet: undefined unless the state is settled and every worker is ready, in rotation, unsuspected,
 * with nothing in flight and no check due now; then the first moment a check may fall due by time
 * alone (a heartbeat turning late, a slot's crash count reset). Any event may end the quiet, so the
 * supervisor asks again after each one. machine.property.test.ts holds it to the full pass.
 */
export function quietUntil(state: MachineState, now: number): number | undefined {
  if (!isSettled(state)) return undefined;
  const config = state.config;
  let until = Number.POSITIVE_INFINITY;
  for (const worker of state.workers) {
    const stats = worker.stats;
    if (worker.state !== 'ready' || worker.condition !== 'ok' || worker.retiring || worker.killSent || worker.awaitingProbe || worker.suspicion !== undefined) return undefined;
    if (worker.lastBeatAt === undefined || stats === undefined || stats.inFlight > 0 || stats.unansweredCount > 0 || isCheckDue(state, worker, now)) return undefined;
    until = Math.min(until, worker.lastBeatAt + lateAfterBeatMs(config.lateMs, stats));
    if (worker.readyAt !== undefined && (slotRecord(state, worker.slot)?.consecutiveFailures ?? 0) !== 0) until = Math.min(until, worker.readyAt + config.backoff.resetAfterMs);
  }
  return until;
}

/** The per-state deadlines of one worker on a Tick (boot, drain, kill escalation), then its liveness and progress. */
export function checkWorker(run: Actions, worker: WorkerRecord): void {
  const config = run.state.config;
  switch (worker.state) {
    case 'spawning':
      return;
    case 'booting':
      if (worker.deadline !== undefined && run.now >= worker.deadline && !worker.retiring) {
        const reason = `did not become ready within ${ms(config.bootTimeoutMs)}`;
        run.log('error', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) ${reason}; killing it`);
        const isSurge = worker.surgeFor !== undefined;
        run.retire(worker, 'boot-timeout', reason, isSurge ? undefined : 'boot-timeout');
        run.kill(worker);
        if (isSurge) surgeFailed(run, worker, reason);
        else if (!run.state.everReady) run.haltBoot(worker, reason);
        else {
          scaleWorkerFailed(run, worker, reason);
          run.countFailure(worker, reason);
        }
      }
      return;
    case 'ready':
    case 'draining':
      // A worker writing its heap snapshot is blocked on purpose; the drain deadline still bounds it.
      if (!(worker.condition === 'memory' && worker.state === 'draining' && config.heapSnapshotOnRecycle)) checkLiveness(run, worker);
      if (worker.state === 'ready' && !worker.retiring) checkProgress(run, worker);
      if (worker.state === 'ready' && worker.readyAt !== undefined && run.now - worker.readyAt >= config.backoff.resetAfterMs) {
        const slot = run.slotOf(worker);
        if (slot !== undefined && !worker.retiring) slot.consecutiveFailures = 0;
      }
      if (worker.state === 'draining' && worker.deadline !== undefined && run.now >= worker.deadline) {
        run.log('warn', LOG_EVENTS.workerKilled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) did not finish draining within ${ms(config.gracefulTimeoutMs)}; killing it`);
        run.kill(worker);
      }
      return;
    case 'stopping':
      if (!worker.killSent && worker.deadline !== undefined && run.now >= worker.deadline && worker.pid !== undefined) {
        run.kill(worker);
      }
      return;
    default: {
      const impossible: never = worker.state;
      throw new Error(`machine: worker ${worker.slot} in impossible state ${String(impossible)}`);
    }
  }
}

/** Heartbeats: late takes a worker out of rotation, stalled kills it. */
function checkLiveness(run: Actions, worker: WorkerRecord): void {
  const config = run.state.config;
  if (worker.lastBeatAt === undefined || worker.killSent) return;
  const freshness = heartbeatFreshness(worker.lastBeatAt, run.now, lateAfterBeatMs(config.lateMs, worker.stats), config.timeoutMs);
  const silentFor = ms(run.now - worker.lastBeatAt);
  if (freshness === 'stalled') {
    if (worker.condition === 'stalled') return; // already waiting for its stack
    run.log('error', LOG_EVENTS.workerStalled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) sent no heartbeat for ${silentFor} (event loop blocked or process stopped); killing it`);
    const wasRetiring = worker.retiring;
    const reason = `no heartbeat for ${silentFor}`;
    run.retire(worker, 'stalled', reason, 'stalled');
    if (config.captureStacks && worker.pid !== undefined) {
      // Evidence first (gunicorn kills a timed-out worker with no chance to dump its stack);
      // the kill follows StackCaptured, or the capture deadline.
      run.enter(worker, 'stopping');
      worker.deadline = run.now + config.captureTimeoutMs;
      run.effects.push({ type: 'CaptureStack', id: worker.id, pid: worker.pid, slot: worker.slot, reason });
    } else {
      run.kill(worker);
    }
    if (!wasRetiring) run.countFailure(worker, `stalled: ${reason}`);
  } else if (freshness === 'late' && worker.condition === 'ok' && worker.state === 'ready') {
    worker.condition = 'late';
    worker.reason = `no heartbeat for ${silentFor}`;
    run.log('warn', LOG_EVENTS.workerLate, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) missed its heartbeats for ${silentFor}; no new connections until it answers`);
  }
}

/** Request progress: upkeep limits, --request-timeout time-outs in a row, then suspicion and quarantine (quarantine.ts). */
function checkProgress(run: Actions, worker: WorkerRecord): void {
  if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return;
  const config = run.state.config;
  if (worker.upkeep === undefined && worker.surgeFor === undefined) {
    if (config.maxMemoryBytes > 0 && worker.stats.rssBytes > config.maxMemoryBytes) {
      markForUpkeep(run, worker, 'memory', `RSS ${mb(worker.stats.rssBytes)} is above --max-memory ${mb(config.maxMemoryBytes)}`);
    } else if (worker.maxRequests > 0 && worker.stats.served >= worker.maxRequests) {
      markForUpkeep(run, worker, 'max-requests', `served ${worker.stats.served} requests (its --max-requests limit is ${worker.maxRequests})`);
    }
  }
  const hung = hungRequestsReason(worker.stats);
  if (hung !== undefined) {
    run.recycle(worker, 'unhealthy', hung);
    return;
  }
  checkSuspicion(run, worker);
}

/**
 * Upkeep is not a failure: the worker lives until a new one is ready in its slot (rollout.ts). One
 * over its memory limit takes no new connections meanwhile (more work would grow it further, or
 * get the kernel's OOM killer to it first); one that served its --max-requests keeps serving.
 */
export function markForUpkeep(run: Actions, worker: WorkerRecord, upkeep: UpkeepReason, reason: string): void {
  worker.upkeep = upkeep;
  worker.reason = reason;
  if (upkeep === 'memory') {
    run.endQuarantine(worker, 'exited');
    worker.condition = 'memory';
  }
  run.log('warn', LOG_EVENTS.workerRecycled, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) will be recycled: ${reason}; starting its replacement first`, { reason, upkeep });
}


function mb(bytes: number): string {
  return `${Math.round(bytes / 1024 / 1024)} MB`;
}
