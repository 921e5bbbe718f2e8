// Pure verdicts on a worker's health from what the primary knows: heartbeat freshness, request
// progress (suspicion, then quarantine judged on evidence) and request time-outs. No I/O, no clocks: `now` and the
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

/**
 * The late window after a given beat: an idle worker announces that its next beat comes later than
 * the regular interval, and the window grows by as much, so an idle worker is never taken out of
 * rotation for beating at its idle pace. The stall rule (--timeout) does not move.
 */
export function lateAfterBeatMs(lateMs: number, stats: Pick<HeartbeatStats, 'nextBeatDelayedMs'> | undefined): number {
  return lateMs + (stats?.nextBeatDelayedMs ?? 0);
}

export interface ProgressFacts {
  /** The worker's id in the machine, to match a peer with the `served` it had when a quarantine began. */
  id: number;
  stats: HeartbeatStats;
  /** When the primary received these stats. */
  statsAt: number;
  /** Its served counter at each heartbeat of the last servedHistoryMs, oldest first (absent: only `stats`). */
  servedMarks?: readonly ServedMark[];
}

/** A worker's `served` counter as one heartbeat reported it, on the primary's clock. */
export interface ServedMark {
  at: number;
  served: number;
}

/** The marks after a heartbeat at `at`: the new one added, those older than servedHistoryMs dropped. */
export function withServedMark(marks: readonly ServedMark[], at: number, served: number): ServedMark[] {
  const from = at - QUARANTINE_RULE.servedHistoryMs;
  const kept = marks.filter((mark) => mark.at >= from);
  kept.push({ at, served });
  return kept;
}

/**
 * What a peer had served when a request arrived at `at`: its first heartbeat at or after `at`, so
 * that only answers reported after that arrival count (never one given before it); its oldest mark
 * when they all came later; its current count without marks.
 */
export function servedAtOrAfter(peer: ProgressFacts, at: number): number {
  const mark = peer.servedMarks?.find((candidate) => candidate.at >= at) ?? peer.servedMarks?.[0];
  return mark === undefined ? peer.stats.served : Math.min(mark.served, peer.stats.served);
}

/** The quarantine rule's constants; docs/health.md says why each has its value. */
export const QUARANTINE_RULE = {
  /** A worker silent this long (or twice the fleet's slowest recent answer, if longer) is suspect... */
  suspectFloorMs: 1000,
  /** ...and, once quarantined, recycled on peer evidence when silent this long (or that pace, if longer). */
  recycleFloorMs: 2000,
  /** Both thresholds are this many times the slowest answer any worker gave recently. */
  slowestFactor: 2,
  /** The fleet must have answered this many requests in that window before its pace is trusted (before: --stuck-after). */
  historyAnswers: 20,
  /**
   * Answers the peers must have given since the suspect's oldest unanswered request arrived: the
   * evidence the worker's silence is its own. Counted from that arrival, not from the quarantine: a
   * closed-loop load whose every client ends up waiting on the suspect sends nothing new after it.
   */
  peerAnswers: 3,
  /** How far back each worker's served counter is kept, one mark a heartbeat, to count those answers. */
  servedHistoryMs: 3000,
  /** "Clearly more than its share": this many unanswered requests, and this many times the mean. */
  shareMinRequests: 2,
  shareFactor: 2,
  /** A peer holding an unanswered request at least this fraction of the suspect's silence is "as slow". */
  asSlowFraction: 0.5,
  /** Heartbeat timing jitter allowed when telling that the oldest unanswered request moved on (an answer). */
  answerToleranceMs: 250,
  /** --request-timeout time-outs of a quarantined worker, since its quarantine, that are evidence. */
  timeoutsWhileQuarantined: 2,
} as const;

/** On the primary's clock: the oldest unanswered request's arrival, or the loop's last pause if later. */
export function silentSince(facts: ProgressFacts): number {
  const { stats, statsAt } = facts;
  const oldest = statsAt - stats.unansweredForMs;
  return stats.loopPausedAgoMs < 0 ? oldest : Math.max(oldest, statsAt - stats.loopPausedAgoMs);
}

/** How long the worker has answered none of the requests that arrived since its last answer (0: none waits). */
export function silenceMs(facts: ProgressFacts): number {
  return facts.stats.unansweredCount === 0 ? 0 : Math.max(0, facts.statsAt - silentSince(facts));
}

/** What the whole fleet says about the app's pace: the slowest recent answer, and whether enough answers back it. */
export interface FleetPace {
  slowestMs: number;
  isTrusted: boolean;
}

export function fleetPace(fleet: readonly ProgressFacts[]): FleetPace {
  let slowestMs = 0;
  let answered = 0;
  for (const facts of fleet) {
    slowestMs = Math.max(slowestMs, facts.stats.slowestRecentMs);
    answered += facts.stats.answeredRecent;
  }
  return { slowestMs, isTrusted: answered >= QUARANTINE_RULE.historyAnswers };
}

/** A peer holds an unanswered request about as old as the suspect's silence: a cause shared by all (a slow dependency). */
export function isSharedSlowness(suspectSilenceMs: number, peers: readonly ProgressFacts[]): boolean {
  return peers.some((peer) => peer.stats.unansweredCount > 0 && peer.stats.unansweredForMs >= suspectSilenceMs * QUARANTINE_RULE.asSlowFraction);
}

/**
 * Suspicion, the first step. A worker is suspect when it has answered none of the requests that
 * arrived since its last answer for longer than `suspectFloorMs` (or twice the fleet's slowest recent
 * answer, if longer), no peer in rotation is just as slow, and either a peer answered a request after
 * the suspect's oldest unanswered one arrived, or the suspect holds clearly more than its share of
 * the fleet's unanswered requests (all the traffic on it). Returns the reason in words, or undefined.
 * `peers` are the other workers in rotation; `fleet` every ready worker, for the pace.
 */
export function suspectReason(worker: ProgressFacts, peers: readonly ProgressFacts[], pace: FleetPace, stuckAfterMs: number): string | undefined {
  if (stuckAfterMs <= 0) return undefined;
  const silence = silenceMs(worker);
  const count = worker.stats.unansweredCount;
  const thresholdMs = Math.max(QUARANTINE_RULE.suspectFloorMs, QUARANTINE_RULE.slowestFactor * pace.slowestMs);
  if (count === 0 || silence < thresholdMs || isSharedSlowness(silence, peers)) return undefined;
  const since = silentSince(worker);
  const peerAnswered = peers.some((peer) => peer.stats.lastFinishedAgoMs >= 0 && peer.statsAt - peer.stats.lastFinishedAgoMs > since);
  const mean = (count + peers.reduce((sum, peer) => sum + peer.stats.unansweredCount, 0)) / (peers.length + 1);
  // With no other worker in rotation, every unanswered request of the fleet is its own.
  const isOverShare = count >= QUARANTINE_RULE.shareMinRequests && (peers.length === 0 || count >= QUARANTINE_RULE.shareFactor * mean);
  if (!peerAnswered && !isOverShare) return undefined;
  const what = `${count} request(s) unanswered for ${seconds(silence)}s (threshold ${seconds(thresholdMs)}s)`;
  return peerAnswered ? `${what} while another worker answered` : `${what}, more than its share of the fleet's unanswered requests`;
}

/** What a quarantined worker's record holds from the moment it left rotation. */
export interface QuarantineStart {
  /** The suspect's oldest unanswered request's arrival, on the primary's clock. */
  oldestAt: number;
  /** Each peer's `served` counter then. */
  peersServed: Readonly<Record<number, number>>;
  /** The suspect's --request-timeout count then. */
  timedOut: number;
}

export type QuarantineVerdict =
  | { verdict: 'hold' }
  | { verdict: 'release'; reason: string }
  /** stuck: peers answered what it did not; unhealthy: its own --request-timeouts. */
  | { verdict: 'recycle'; condition: 'stuck' | 'unhealthy'; reason: string }
  /** Silent past the recycle threshold, but nothing to compare with: no peer answered since. */
  | { verdict: 'no-evidence'; reason: string };

/**
 * A quarantined worker, judged on evidence. Released when it answers again (its oldest unanswered
 * request moved on, or none is left) or when a peer in rotation turns out just as slow. Recycled when
 * peers answered `peerAnswers` requests since the quarantine began while it answered none, and its
 * silence is past the recycle threshold: `recycleFloorMs` or twice the fleet's slowest recent answer
 * if longer, and --stuck-after (or that pace, if longer) while the fleet's pace is not trusted yet;
 * or when its --request-timeout time-outs pile up. Without peer answers it is held, never recycled
 * (past --stuck-after too, the verdict says that evidence is missing: the caller says so once).
 */
export function judgeQuarantined(
  worker: ProgressFacts, start: QuarantineStart, peers: readonly ProgressFacts[], pace: FleetPace, stuckAfterMs: number,
): QuarantineVerdict {
  const { stats, statsAt } = worker;
  if (stats.unansweredCount === 0) return { verdict: 'release', reason: 'it answered its requests' };
  if (statsAt - stats.unansweredForMs > start.oldestAt + QUARANTINE_RULE.answerToleranceMs) return { verdict: 'release', reason: 'it answered a request again' };
  const silence = silenceMs(worker);
  if (isSharedSlowness(silence, peers)) return { verdict: 'release', reason: 'the other workers are just as slow (a cause shared by all)' };
  const timeouts = stats.timedOut - start.timedOut;
  if (timeouts >= QUARANTINE_RULE.timeoutsWhileQuarantined) {
    return { verdict: 'recycle', condition: 'unhealthy', reason: `its last ${timeouts} requests all timed out (--request-timeout) since it left rotation, none answered for ${seconds(silence)}s` };
  }
  const paceMs = QUARANTINE_RULE.slowestFactor * pace.slowestMs;
  const thresholdMs = pace.isTrusted ? Math.max(QUARANTINE_RULE.recycleFloorMs, paceMs) : Math.max(stuckAfterMs, paceMs);
  if (silence < thresholdMs) return { verdict: 'hold' };
  const peerAnswers = peers.reduce((sum, peer) => sum + Math.max(0, peer.stats.served - (start.peersServed[peer.id] ?? 0)), 0);
  const what = `${stats.unansweredCount} request(s) in ${seconds(silence)}s and not one answered (${stats.waiting} still waiting)`;
  const basis = paceMs >= thresholdMs ? 'fleet pace' : pace.isTrusted ? 'floor' : '--stuck-after';
  if (peerAnswers < QUARANTINE_RULE.peerAnswers) {
    // Said once --stuck-after has passed too, so that a line about missing evidence is not followed by the evidence.
    if (silence < stuckAfterMs) return { verdict: 'hold' };
    return { verdict: 'no-evidence', reason: `${what}, but no other worker answered since its oldest unanswered request arrived` };
  }
  return { verdict: 'recycle', condition: 'stuck', reason: `${what} while other workers kept answering (${peerAnswers} answers since its oldest unanswered request arrived); threshold ${seconds(thresholdMs)}s (${basis})` };
}

/**
 * The comparison probe's constants (docs/health.md says why each has its value): the same harmless
 * GET sent to a quarantined worker and to one peer in rotation, each bounded in time.
 */
export const COMPARISON_RULE = {
  /** Each side has this long to answer (or twice the fleet's slowest recent answer, if longer). */
  timeoutFloorMs: 1000,
  /** After a comparison that recycled nobody, the next one for that worker waits this long, doubling... */
  backoffMs: 10_000,
  /** ...up to this. */
  backoffMaxMs: 300_000,
} as const;

/** How one side of a comparison ended: an answer is any HTTP status; anything else is none. */
export type ProbeAnswer = { isAnswered: true; status: number } | { isAnswered: false; isTimedOut: boolean; reason: string };

/** A worker's comparison probes: the one under way, how many were sent, when the next may go. */
export interface ComparisonRecord {
  sent: number;
  nextAt: number;
  pending: PendingComparison | undefined;
}

export interface PendingComparison {
  peerId: number;
  sentAt: number;
  /** The suspect's served counter when the probes went out: any answer since shows its loop works. */
  servedAtSend: number;
  /** The quarantine the comparison belongs to: a result that comes back after it ended is dropped. */
  quarantinedAt: number;
  timeoutMs: number;
}

/** Each side's bound: a healthy worker answers within twice the slowest answer the fleet gave lately. */
export function comparisonTimeoutMs(pace: FleetPace): number {
  return Math.max(COMPARISON_RULE.timeoutFloorMs, QUARANTINE_RULE.slowestFactor * pace.slowestMs);
}

/** The wait before the comparison after `sent` comparisons that recycled nobody. */
export function comparisonBackoffMs(sent: number): number {
  return Math.min(COMPARISON_RULE.backoffMaxMs, COMPARISON_RULE.backoffMs * 2 ** Math.max(0, sent - 1));
}

/**
 * Whether to compare a quarantined worker with a peer now: only with a peer in rotation to compare
 * with, none under way, past the backoff, and only a worker that has answered requests before (a
 * worker just booted, slow by design at first, has no past of its own for its silence to contrast with).
 */
export function isComparisonDue(record: ComparisonRecord | undefined, worker: ProgressFacts, peerCount: number, now: number): boolean {
  if (peerCount === 0 || worker.stats.served === 0) return false;
  return record === undefined || (record.pending === undefined && now >= record.nextAt);
}

/** The peer to compare with: the one with the fewest unanswered requests, then the freshest answer, then the lowest id. */
export function comparisonPeer(peers: readonly ProgressFacts[]): ProgressFacts | undefined {
  let best: ProgressFacts | undefined;
  for (const peer of peers) {
    if (best === undefined || rank(peer) < rank(best) || (rank(peer) === rank(best) && peer.id < best.id)) best = peer;
  }
  return best;
}

function rank(peer: ProgressFacts): number {
  // Unanswered requests first, then how long ago it last answered (never: last).
  const ago = peer.stats.lastFinishedAgoMs < 0 ? 1e12 : peer.stats.lastFinishedAgoMs;
  return peer.stats.unansweredCount * 1e13 + ago;
}

export type ComparisonVerdict =
  | { verdict: 'recycle'; reason: string }
  | { verdict: 'release'; reason: string }
  /** No conclusion from this comparison: the quarantine goes on under the other rules. */
  | { verdict: 'keep'; reason: string };

/**
 * A comparison, judged: the peer answered and the suspect did not (nor any other request meanwhile)
 * -> recycle; neither answered within the bound -> slow for everyone, release; the suspect answered
 * (its loop and routes work), or a side failed for another reason (a reset, a worker gone) -> keep.
 */
export function judgeComparison(suspect: ProbeAnswer, peer: ProbeAnswer, pending: PendingComparison, worker: ProgressFacts): ComparisonVerdict {
  const bound = `${seconds(pending.timeoutMs)}s`;
  if (suspect.isAnswered) return { verdict: 'keep', reason: `it answered its probe (${suspect.status}) within ${bound}` };
  if (peer.isAnswered) {
    const answered = worker.stats.served - pending.servedAtSend;
    if (answered > 0) return { verdict: 'keep', reason: `it did not answer its probe (${suspect.reason}), but answered ${answered} other request(s) meanwhile` };
    return { verdict: 'recycle', reason: `it did not answer the same probe a peer answered (${peer.status}) within ${bound}: ${suspect.reason}` };
  }
  if (!suspect.isTimedOut || !peer.isTimedOut) {
    return { verdict: 'keep', reason: `the comparison was inconclusive (it: ${suspect.reason}; the peer: ${peer.reason})` };
  }
  return { verdict: 'release', reason: `neither it nor a peer answered the same probe within ${bound} (slow for everyone)` };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

/** --request-timeout: a worker whose last few requests all timed out is recycled. */
export const TIMEOUTS_IN_A_ROW = 5;

export function hungRequestsReason(stats: HeartbeatStats): string | undefined {
  if (stats.consecutiveTimeouts < TIMEOUTS_IN_A_ROW) return undefined;
  return `its last ${stats.consecutiveTimeouts} requests all timed out`;
}
