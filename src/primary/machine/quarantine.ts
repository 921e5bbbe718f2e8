// Suspicion, quarantine, then a verdict on evidence, for each ready worker on every Tick: a worker
// that answers none of its requests leaves rotation at once (it keeps serving what it holds), and is
// recycled only when the evidence says the cause is its own; otherwise it comes back. Pure: the rules
// are verdicts.ts's, this file only applies them to the records and logs each transition once.

import { LOG_EVENTS } from '../../log/events.js';
import type { Actions } from './actions.js';
import type { EventOf } from './events.js';
import { isInRotation } from './state.js';
import type { Suspicion, WorkerRecord } from './types.js';
import {
  comparisonBackoffMs, comparisonPeer, comparisonTimeoutMs, fleetPace, isComparisonDue, judgeComparison, judgeQuarantined, QUARANTINE_RULE,
  servedAtOrAfter, silenceMs, suspectReason, type FleetPace, type ProgressFacts, type QuarantineStart,
} from './verdicts.js';

export function checkSuspicion(run: Actions, worker: WorkerRecord): void {
  const state = run.state;
  const facts = progressFacts(worker);
  if (facts === undefined || state.config.stuckAfterMs <= 0 || state.phase !== 'running') return;
  // The common case, answered in O(1) so that a tick costs the same per worker at any fleet size.
  if (worker.suspicion === undefined && silenceMs(facts) < QUARANTINE_RULE.suspectFloorMs) return;
  const fleet: ProgressFacts[] = [];
  const peers: ProgressFacts[] = [];
  for (const other of state.workers) {
    const otherFacts = other.state === 'ready' && !other.retiring ? progressFacts(other) : undefined;
    if (otherFacts === undefined) continue;
    fleet.push(otherFacts);
    if (other.id !== worker.id && isInRotation(state, other)) peers.push(otherFacts);
  }
  const pace = fleetPace(fleet);
  const suspicion = worker.suspicion;
  if (suspicion === undefined) {
    if (!isInRotation(state, worker)) return;
    const reason = suspectReason(facts, peers, pace, state.config.stuckAfterMs);
    if (reason === undefined) return;
    suspect(run, worker, facts, peers, reason);
    compareIfDue(run, worker, facts, peers, pace);
    return;
  }
  if (suspicion.quarantinedAt !== undefined && peers.length === 0) {
    // Every other worker left rotation meanwhile: a suspect serving is better than none serving.
    run.endQuarantine(worker, 'returned');
    worker.condition = 'ok';
    worker.reason = undefined;
    worker.suspicion = { ...suspicion, quarantinedAt: undefined };
    run.log('warn', LOG_EVENTS.workerReleased, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is back in rotation, still suspect: no other worker is in rotation`, { reason: 'last in rotation' });
    return;
  }
  if (suspicion.quarantinedAt === undefined && peers.length > 0 && isInRotation(state, worker)) quarantine(run, worker, facts, peers, suspicion.reason);
  const verdict = judgeQuarantined(facts, (worker.suspicion as Suspicion).start, peers, pace, state.config.stuckAfterMs);
  if (verdict.verdict === 'hold' || verdict.verdict === 'no-evidence') compareIfDue(run, worker, facts, peers, pace);
  switch (verdict.verdict) {
    case 'hold':
      return;
    case 'release':
      release(run, worker, verdict.reason);
      return;
    case 'recycle':
      worker.suspicion = { ...(worker.suspicion as Suspicion), evidence: verdict.reason };
      run.recycle(worker, verdict.condition, verdict.reason);
      return;
    case 'no-evidence':
      hintOnce(run, worker, verdict.reason);
      return;
    default: {
      const impossible: never = verdict;
      throw new Error(`machine: impossible quarantine verdict ${JSON.stringify(impossible)}`);
    }
  }
}

/** A probe failed while the worker is suspect: the evidence is in, it is recycled at once. */
export function probeFailedWhileSuspect(run: Actions, worker: WorkerRecord, probeReason: string): void {
  const suspicion = worker.suspicion as Suspicion;
  const reason = `${suspicion.reason}, and its probe failed: ${probeReason}`;
  run.log('warn', LOG_EVENTS.probeFailed, worker, `probe of suspect worker ${worker.slot} failed: ${probeReason}`, { reason: probeReason });
  worker.suspicion = { ...suspicion, evidence: `its probe failed: ${probeReason}` };
  run.recycle(worker, 'stuck', reason);
}

/**
 * A quarantined worker with no verdict yet is compared with a peer in rotation: the same GET to both
 * (the shell sends it and reports ComparisonProbed). With --probe-path the probe sent at suspicion
 * goes on as well; the comparison is what tells a worker slow alone from a fleet slow together.
 */
function compareIfDue(run: Actions, worker: WorkerRecord, facts: ProgressFacts, peers: readonly ProgressFacts[], pace: FleetPace): void {
  const quarantinedAt = worker.suspicion?.quarantinedAt;
  if (!run.state.config.compareProbeEnabled || quarantinedAt === undefined || !isComparisonDue(worker.comparison, facts, peers.length, run.now)) return;
  const peer = comparisonPeer(peers);
  if (peer === undefined) return;
  const timeoutMs = comparisonTimeoutMs(pace);
  worker.comparison = {
    sent: worker.comparison?.sent ?? 0, nextAt: worker.comparison?.nextAt ?? run.now,
    pending: { peerId: peer.id, sentAt: run.now, servedAtSend: facts.stats.served, quarantinedAt, timeoutMs },
  };
  run.effects.push({ type: 'CompareProbe', id: worker.id, peerId: peer.id, timeoutMs });
}

/** Both sides of a comparison are back: recycle, release or keep the quarantine (verdicts.ts decides). */
export function onComparisonProbed(run: Actions, event: EventOf<'ComparisonProbed'>): void {
  const worker = run.find(event.id, 'ComparisonProbed');
  const pending = worker?.comparison?.pending;
  if (worker === undefined || pending === undefined || pending.peerId !== event.peerId) return;
  const sent = (worker.comparison?.sent ?? 0) + 1;
  worker.comparison = { sent, nextAt: run.now + comparisonBackoffMs(sent), pending: undefined };
  const facts = progressFacts(worker);
  // The quarantine it was sent for is over (released, recycled, the worker leaving): the answer is stale.
  if (facts === undefined || worker.state !== 'ready' || worker.retiring || worker.suspicion?.quarantinedAt !== pending.quarantinedAt) return;
  const verdict = judgeComparison(event.suspect, event.peer, pending, facts);
  const peerSlot = run.state.workers.find((other) => other.id === event.peerId)?.slot;
  const fields = { reason: verdict.reason, verdict: verdict.verdict, peerSlot, timeoutMs: pending.timeoutMs };
  switch (verdict.verdict) {
    case 'recycle': {
      const suspicion = worker.suspicion as Suspicion;
      run.log('warn', LOG_EVENTS.workerCompared, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) compared with worker ${peerSlot ?? '?'}: ${verdict.reason}`, fields);
      worker.suspicion = { ...suspicion, evidence: verdict.reason };
      run.recycle(worker, 'stuck', `${suspicion.reason}, and ${verdict.reason}`);
      return;
    }
    case 'release':
      run.log('info', LOG_EVENTS.workerCompared, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) compared with worker ${peerSlot ?? '?'}: ${verdict.reason}`, fields);
      release(run, worker, verdict.reason);
      return;
    case 'keep':
      run.log('info', LOG_EVENTS.workerCompared, worker,
        `worker ${worker.slot} (pid ${worker.pid ?? '?'}) compared with worker ${peerSlot ?? '?'}: ${verdict.reason}; it stays quarantined until the other evidence decides`, fields);
      return;
    default: {
      const impossible: never = verdict;
      throw new Error(`machine: impossible comparison verdict ${JSON.stringify(impossible)}`);
    }
  }
}

function suspect(run: Actions, worker: WorkerRecord, facts: ProgressFacts, peers: readonly ProgressFacts[], reason: string): void {
  worker.suspicion = { since: run.now, quarantinedAt: undefined, reason, evidence: undefined, start: startOf(facts, peers), isHinted: false };
  if (peers.length > 0) {
    quarantine(run, worker, facts, peers, reason);
  } else {
    run.log('warn', LOG_EVENTS.workerSuspect, worker,
      `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is suspect: ${reason}; it stays in rotation, being the last worker in it`, { reason, inRotation: true });
  }
  if (run.state.config.probeEnabled) run.effects.push({ type: 'Probe', id: worker.id });
}

function quarantine(run: Actions, worker: WorkerRecord, facts: ProgressFacts, peers: readonly ProgressFacts[], reason: string): void {
  worker.condition = 'quarantined';
  run.state.quarantines.started += 1;
  worker.reason = reason;
  worker.suspicion = { ...(worker.suspicion as Suspicion), quarantinedAt: run.now, start: startOf(facts, peers) };
  run.log('warn', LOG_EVENTS.workerQuarantined, worker,
    `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is suspect: ${reason}; out of rotation (it keeps serving what it holds) until the evidence decides`, { reason });
}

function release(run: Actions, worker: WorkerRecord, reason: string): void {
  const wasQuarantined = worker.suspicion?.quarantinedAt !== undefined;
  worker.suspicion = undefined;
  if (worker.condition === 'quarantined') {
    run.endQuarantine(worker, 'released');
    worker.condition = 'ok';
    worker.reason = undefined;
  }
  run.log('info', LOG_EVENTS.workerReleased, worker,
    `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is no longer suspect: ${reason}${wasQuarantined ? '; back in rotation' : ''}`, { reason });
}

function hintOnce(run: Actions, worker: WorkerRecord, reason: string): void {
  const suspicion = worker.suspicion as Suspicion;
  if (suspicion.isHinted) return;
  worker.suspicion = { ...suspicion, isHinted: true, evidence: reason };
  const where = suspicion.quarantinedAt === undefined ? 'it stays in rotation (the last worker in it)' : 'it stays out of rotation';
  const how = run.state.config.probeEnabled ? 'its --probe-path probes decide' : 'set --probe-path so that warden can probe it and decide';
  run.log('warn', LOG_EVENTS.workerSuspect, worker, `worker ${worker.slot} (pid ${worker.pid ?? '?'}) is not recycled without evidence: ${reason}; ${where}; ${how}`, { reason });
}

function startOf(facts: ProgressFacts, peers: readonly ProgressFacts[]): QuarantineStart {
  return {
    oldestAt: facts.statsAt - facts.stats.unansweredForMs,
    peersServed: Object.fromEntries(peers.map((peer) => [peer.id, servedAtOrAfter(peer, facts.statsAt - facts.stats.unansweredForMs)])),
    timedOut: facts.stats.timedOut,
  };
}

export function progressFacts(worker: WorkerRecord): ProgressFacts | undefined {
  if (worker.stats === undefined || worker.statsAt === undefined || worker.readyAt === undefined) return undefined;
  return { id: worker.id, stats: worker.stats, statsAt: worker.statsAt, servedMarks: worker.servedMarks };
}
