// Pure verdicts on a worker's health from what the primary knows: heartbeat freshness, request
// progress (the "stuck" rule), request time-outs and probe results. No I/O, no clocks: `now` and the
// facts come in as arguments, so the rules are tested with plain numbers.

import type { HeartbeatStats } from '../protocol/messages.js';

export type Freshness = 'fresh' | 'late' | 'stalled';

/** late: missed its heartbeat window (out of rotation); stalled: silent for the whole timeout (kill it). */
export function heartbeatFreshness(lastBeatAt: number, now: number, lateMs: number, timeoutMs: number): Freshness {
  const age = now - lastBeatAt;
  if (age >= timeoutMs) return 'stalled';
  if (age >= lateMs) return 'late';
  return 'fresh';
}

/** The heartbeat window: a worker beats every ~250 ms; missing ~1 s of beats takes it out of rotation. */
export function lateAfterMs(timeoutMs: number): number {
  return Math.min(1000, Math.floor(timeoutMs / 2));
}

export interface ProgressFacts {
  stats: HeartbeatStats;
  /** When the worker became ready; a worker that never finished a request counts from here. */
  readyAt: number;
  /** When the primary received these stats. */
  statsAt: number;
}

/**
 * The stuck (poisoned worker) rule, judged on progress rather than age alone. A worker is stuck when
 *  1. requests kept arriving (two or more) and the app answered none of them for the threshold: the
 *     longer of `stuckAfterMs` and twice the slowest answer the fleet gave recently, so an app whose
 *     requests normally take 30 s (long polls) is not judged by a 10 s rule. Requests abandoned by
 *     their clients count too: a client time-out must not hide a worker that answers nothing;
 *  2. when it has peers, at least one of them did answer a request within `stuckAfterMs`: if every
 *     worker is waiting, the cause is shared (a database down for all) and recycling would not help.
 * An answer is the app sending response headers, so an open SSE stream is progress; upgraded
 * connections (WebSocket) are not requests at all.
 */
export function stuckReason(
  worker: ProgressFacts,
  peers: readonly ProgressFacts[],
  now: number,
  stuckAfterMs: number,
): string | undefined {
  if (stuckAfterMs <= 0) return undefined;
  const { stats } = worker;
  if (stats.unansweredCount < 2) return undefined;
  const fleetSlowest = Math.max(stats.slowestRecentMs, ...peers.map((peer) => peer.stats.slowestRecentMs));
  const threshold = Math.max(stuckAfterMs, 2 * fleetSlowest);
  const unansweredFor = stats.unansweredForMs + (now - worker.statsAt);
  if (unansweredFor < threshold) return undefined;
  if (peers.length > 0 && !peers.some((peer) => sinceLastAnswer(peer, now) < stuckAfterMs)) return undefined;
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  return `${stats.unansweredCount} request(s) in ${seconds(unansweredFor)}s and not one answered (${stats.waiting} still waiting)` +
    (peers.length > 0 ? ' while other workers kept answering' : '');
}

function sinceLastAnswer(facts: ProgressFacts, now: number): number {
  const ago = facts.stats.lastFinishedAgoMs;
  if (ago < 0) return now - facts.readyAt;
  return ago + (now - facts.statsAt);
}

/** --request-timeout: a worker whose last few requests all timed out is recycled. */
export const TIMEOUTS_IN_A_ROW = 5;

export function hungRequestsReason(stats: HeartbeatStats): string | undefined {
  if (stats.consecutiveTimeouts < TIMEOUTS_IN_A_ROW) return undefined;
  return `its last ${stats.consecutiveTimeouts} requests all timed out`;
}
