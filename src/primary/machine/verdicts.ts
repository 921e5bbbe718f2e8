// Pure verdicts on a worker's health from what the primary knows: heartbeat freshness, request
// progress (the "stuck" rule), request time-outs and probe results. No I/O, no clocks: `now` and the
// facts come in as arguments, so the rules are tested with plain numbers.

import type { HeartbeatStats } from '../../protocol/messages.js';

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
  /** When the primary received these stats. */
  statsAt: number;
}

/** The stuck rule's constants; docs/health.md says why each has its value. */
export const STUCK_RULE = {
  /** Unanswered requests in a row that let the fleet's pace decide (one odd slow request is no evidence). */
  minRequests: 5,
  /** Fewer than `minRequests`, but at least this many, wait for --stuck-after (or the fleet pace if longer). */
  minRequestsPatient: 2,
  /** The threshold is this many times the slowest answer any worker gave recently... */
  slowestFactor: 2,
  /** ...and never shorter than this (nor than --stuck-after if that is set shorter). */
  floorMs: 1500,
  /** Answers a worker must have given in the recent window before the fleet's pace judges it. */
  historyAnswers: 20,
} as const;

export interface StuckJudgement {
  /** How long the worker has answered none of its `count` latest requests, in ms. */
  silentForMs: number;
  count: number;
  thresholdMs: number;
  /** What set the threshold. */
  basis: 'fleet pace' | 'floor' | '--stuck-after' | '--stuck-after, the other workers idle';
}

/**
 * The stuck (poisoned worker) rule, judged on evidence. A worker is stuck when
 *  1. it answered none of the requests that arrived since its last answer, at least `minRequests` of
 *     them, for longer than the threshold: `slowestFactor` times the slowest answer any worker gave
 *     in the last minute or two, never under `floorMs`. That fleet pace is trusted only once the
 *     worker itself answered `historyAnswers` requests in that window; before (just started, after a
 *     reload, a quiet service) and with fewer requests (`minRequestsPatient` or more), the threshold
 *     is --stuck-after, or the fleet's pace if that is longer. Requests abandoned by their clients and
 *     --request-timeout 504s count as unanswered;
 *  2. another worker kept answering: it answered a request after the suspect's oldest unanswered one
 *     arrived, and holds no unanswered request of its own for half as long. If every worker is
 *     waiting, the cause is shared (a database down for all) and recycling would not help. Anchoring
 *     to the suspect's oldest request, not to the clock, judges a quiet service too (a burst, then
 *     silence). With no other worker, or when no other worker has a request to answer (all the
 *     traffic is on the suspect), there is no evidence that the cause is the worker's own, so only
 *     --stuck-after applies.
 * The silence is counted from the later of that oldest request and the last time the worker's event
 * loop stood still for a second (a blocked loop is the stall rule's case). Only what a live worker
 * reported is judged: nothing is extrapolated past its last heartbeat.
 * An answer is the app sending response headers, so an open SSE stream is progress; upgraded
 * connections (WebSocket) are not requests at all.
 */
export function judgeStuck(
  worker: ProgressFacts,
  peers: readonly ProgressFacts[],
  stuckAfterMs: number,
): StuckJudgement | undefined {
  if (stuckAfterMs <= 0) return undefined;
  const { stats } = worker;
  const count = stats.unansweredCount;
  if (count < STUCK_RULE.minRequestsPatient) return undefined;
  const since = silentSince(worker);
  const silentForMs = worker.statsAt - since;
  const paceMs = STUCK_RULE.slowestFactor * Math.max(stats.slowestRecentMs, ...peers.map((peer) => peer.stats.slowestRecentMs));
  const isQuick = peers.length > 0 && count >= STUCK_RULE.minRequests && stats.answeredRecent >= STUCK_RULE.historyAnswers;
  const floorMs = isQuick ? Math.min(STUCK_RULE.floorMs, stuckAfterMs) : stuckAfterMs;
  const thresholdMs = Math.max(floorMs, paceMs);
  if (silentForMs < thresholdMs) return undefined;
  if (peers.length > 0 && !peers.some((peer) => keptAnswering(peer, since, silentForMs))) {
    // No peer answered since. If one is waiting too, the cause may be shared: nobody is recycled.
    // If none has a request to answer, all the traffic is on the suspect (closed-loop clients that
    // all ended up on it): nothing shows a shared cause, and it is judged as a worker alone is.
    if (!peers.every((peer) => peer.stats.unansweredCount === 0)) return undefined;
    const aloneMs = Math.max(stuckAfterMs, paceMs);
    if (silentForMs < aloneMs) return undefined;
    return { silentForMs, count, thresholdMs: aloneMs, basis: paceMs >= stuckAfterMs ? 'fleet pace' : '--stuck-after, the other workers idle' };
  }
  const basis = paceMs >= floorMs ? 'fleet pace' : isQuick ? 'floor' : '--stuck-after';
  return { silentForMs, count, thresholdMs, basis };
}

/** The stuck verdict in words, or undefined when the worker is not stuck. */
export function stuckReason(worker: ProgressFacts, peers: readonly ProgressFacts[], stuckAfterMs: number): string | undefined {
  const judgement = judgeStuck(worker, peers, stuckAfterMs);
  if (judgement === undefined) return undefined;
  const seconds = (ms: number) => (ms / 1000).toFixed(1);
  return `${judgement.count} request(s) in ${seconds(judgement.silentForMs)}s and not one answered (${worker.stats.waiting} still waiting)` +
    (peers.length > 0 ? ' while other workers kept answering' : '') +
    `; threshold ${seconds(judgement.thresholdMs)}s (${judgement.basis})`;
}

/** On the primary's clock: the oldest unanswered request's arrival, or the loop's last pause if later. */
function silentSince(facts: ProgressFacts): number {
  const { stats, statsAt } = facts;
  const oldest = statsAt - stats.unansweredForMs;
  return stats.loopPausedAgoMs < 0 ? oldest : Math.max(oldest, statsAt - stats.loopPausedAgoMs);
}

function keptAnswering(peer: ProgressFacts, since: number, suspectSilentForMs: number): boolean {
  const { stats, statsAt } = peer;
  if (stats.lastFinishedAgoMs < 0 || statsAt - stats.lastFinishedAgoMs <= since) return false;
  return stats.unansweredCount === 0 || stats.unansweredForMs < suspectSilentForMs / 2;
}

/** --request-timeout: a worker whose last few requests all timed out is recycled. */
export const TIMEOUTS_IN_A_ROW = 5;

export function hungRequestsReason(stats: HeartbeatStats): string | undefined {
  if (stats.consecutiveTimeouts < TIMEOUTS_IN_A_ROW) return undefined;
  return `its last ${stats.consecutiveTimeouts} requests all timed out`;
}
