// The pure health rules with plain numbers: heartbeat freshness, suspicion, the verdict on a
// quarantined worker, and --request-timeout time-outs in a row. Times are on the primary's clock in
// ms; every worker reported its stats at 20 000 unless stated.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  comparisonBackoffMs, comparisonPeer, comparisonTimeoutMs, COMPARISON_RULE, isComparisonDue, judgeComparison, type PendingComparison,
  fleetPace, heartbeatFreshness, hungRequestsReason, judgeQuarantined, lateAfterMs, QUARANTINE_RULE, suspectReason,
  type ProgressFacts, type QuarantineStart,
} from '../../src/primary/machine/verdicts.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';

const STUCK_AFTER = 10_000;

/** A busy hello-app worker by default: answered 3 ms ago, 500 answers in the window, the slowest 20 ms. */
function facts(stats: Partial<HeartbeatStats>, statsAt = 20_000, id = 1): ProgressFacts {
  return {
    id,
    statsAt,
    stats: {
      loopDelayMs: 0, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 1000, lastFinishedAgoMs: 3, unansweredCount: 0,
      unansweredForMs: 0, slowestRecentMs: 20, answeredRecent: 500, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0,
      connections: 0, rssBytes: 0, heapUsedBytes: 0, ...stats,
    },
  };
}

const peer = (stats: Partial<HeartbeatStats> = {}, statsAt = 20_000) => facts(stats, statsAt, 2);
const flowing = peer();
/** `count` requests, none answered for `silentMs`. */
const silent = (count: number, silentMs: number, extra: Partial<HeartbeatStats> = {}, statsAt = 20_000) =>
  facts({ unansweredCount: count, unansweredForMs: silentMs, waiting: count, lastFinishedAgoMs: silentMs + 5, ...extra }, statsAt);
const paceOf = (...fleet: ProgressFacts[]) => fleetPace(fleet);
const suspect = (worker: ProgressFacts, peers: readonly ProgressFacts[] = [flowing]) => suspectReason(worker, peers, paceOf(worker, ...peers), STUCK_AFTER);

test('heartbeats: fresh, then late after the window, then stalled at the timeout', () => {
  assert.equal(heartbeatFreshness(0, 900, 1000, 5000), 'fresh');
  assert.equal(heartbeatFreshness(0, 1000, 1000, 5000), 'late');
  assert.equal(heartbeatFreshness(0, 5000, 1000, 5000), 'stalled');
  assert.equal(lateAfterMs(5000), 1000);
  assert.equal(lateAfterMs(1000), 500, 'a short --timeout gets a shorter window');
});

describe('suspicion', () => {
  test('one request unanswered past the 1 s floor while a peer answered since: suspect', () => {
    assert.equal(QUARANTINE_RULE.suspectFloorMs, 1000);
    assert.equal(suspect(silent(1, 900)), undefined);
    assert.match(suspect(silent(1, 1000)) ?? '', /1 request\(s\) unanswered for 1.0s .* while another worker answered/);
  });

  test('the threshold is twice the slowest recent answer of any worker when that is longer', () => {
    assert.equal(suspect(silent(3, 9000, { slowestRecentMs: 5000 })), undefined, '2-5 s requests: 10 s');
    assert.equal(suspect(silent(3, 9000), [peer({ slowestRecentMs: 5000 })]), undefined, "a peer's slow answers count too");
    assert.notEqual(suspect(silent(3, 10_000, { slowestRecentMs: 5000 })), undefined);
  });

  test('no peer answered since its oldest request arrived: suspect only when it holds clearly more than its share', () => {
    const idlePeer = peer({ lastFinishedAgoMs: 5000 });
    assert.equal(suspect(silent(1, 2000), [idlePeer]), undefined, 'one request, nobody answered: nothing to go on');
    assert.match(suspect(silent(12, 2000), [idlePeer]) ?? '', /more than its share/, 'all the traffic on it (long polls pinned to it)');
    assert.equal(suspect(silent(3, 2000), [peer({ lastFinishedAgoMs: 5000, unansweredCount: 3, unansweredForMs: 500 })]), undefined, 'an even share');
  });

  test('a peer holding requests about as old is a cause shared by all: nobody is suspect', () => {
    assert.equal(suspect(silent(5, 4000), [peer({ unansweredCount: 5, unansweredForMs: 2000 })]), undefined);
    assert.notEqual(suspect(silent(5, 4000), [peer({ unansweredCount: 5, unansweredForMs: 1900 })]), undefined);
  });

  test('answered requests (SSE streams send headers) and 0 for --stuck-after: never suspect', () => {
    assert.equal(suspect(facts({ inFlight: 12, waiting: 0 })), undefined);
    const worker = silent(40, 60_000);
    assert.equal(suspectReason(worker, [flowing], paceOf(worker, flowing), 0), undefined);
  });

  test('the silence counts from the moment the loop resumed after standing still', () => {
    assert.equal(suspect(silent(5, 5000, { loopPausedAgoMs: 800 })), undefined);
    assert.notEqual(suspect(silent(5, 5000, { loopPausedAgoMs: 1200 })), undefined);
  });
});

describe('a quarantined worker, judged on evidence', () => {
  // Quarantined at 16 000 with 5 requests unanswered since 15 000; its peer had served 1000.
  const start: QuarantineStart = { oldestAt: 15_000, peersServed: { 2: 1000 }, timedOut: 0 };
  const judge = (worker: ProgressFacts, peers: readonly ProgressFacts[], stuckAfterMs = STUCK_AFTER) =>
    judgeQuarantined(worker, start, peers, paceOf(worker, ...peers), stuckAfterMs);

  test('peers answered since the quarantine, it answered none, past the 2 s floor: recycle', () => {
    assert.equal(QUARANTINE_RULE.recycleFloorMs, 2000);
    const answering = peer({ served: 1040 });
    assert.equal(judge(silent(5, 1900, {}, 16_900), [answering]).verdict, 'hold');
    const verdict = judge(silent(5, 2000, {}, 17_000), [answering]);
    assert.equal(verdict.verdict, 'recycle');
    assert.match(verdict.verdict === 'recycle' ? verdict.reason : '', /kept answering \(40 answers since its oldest unanswered request arrived\); threshold 2.0s \(floor\)/);
  });

  test('past the threshold but no peer answered since: no evidence, no recycle', () => {
    const verdict = judge(silent(5, 60_000, {}, 75_000), [peer({ served: 1000, lastFinishedAgoMs: 59_000 })]);
    assert.equal(verdict.verdict, 'no-evidence');
  });

  test('fewer than 20 answers in the fleet: its pace is not trusted, --stuck-after bounds the patience', () => {
    const young = (extra: Partial<HeartbeatStats>, at: number) => silent(5, at - 15_000, { answeredRecent: 3, ...extra }, at);
    const answering = peer({ served: 1010, answeredRecent: 10 });
    assert.equal(judge(young({}, 24_900), [answering]).verdict, 'hold');
    assert.equal(judge(young({}, 25_000), [answering]).verdict, 'recycle');
  });

  test('it answers a request again, or has none left: released', () => {
    assert.equal(judge(silent(2, 400, {}, 16_000), [flowing]).verdict, 'release', 'its oldest unanswered request moved on: an answer');
    assert.equal(judge(facts({}, 16_500), [flowing]).verdict, 'release');
  });

  test('a peer in rotation turns out just as slow (a dependency slow for all): released', () => {
    const verdict = judge(silent(5, 4000, {}, 19_000), [peer({ served: 1000, unansweredCount: 4, unansweredForMs: 2500 })]);
    assert.equal(verdict.verdict, 'release');
  });

  test('its --request-timeout 504s pile up: recycle, even with no peer answer', () => {
    const verdict = judge(silent(5, 3000, { timedOut: 2 }, 18_000), [peer({ lastFinishedAgoMs: 9000 })]);
    assert.equal(verdict.verdict, 'recycle');
    assert.equal(judge(silent(5, 1500, { timedOut: 1 }, 16_500), [peer({ lastFinishedAgoMs: 9000 })]).verdict, 'hold');
  });

  test('long polls known to take 30 s: a worker holding them is not recycled before 60 s of silence', () => {
    const answering = peer({ served: 1200, slowestRecentMs: 30_000 });
    assert.equal(judge(silent(6, 40_000, {}, 55_000), [answering]).verdict, 'hold');
  });
});

test('five --request-timeout time-outs in a row make a worker unhealthy', () => {
  assert.equal(hungRequestsReason(facts({ consecutiveTimeouts: 4 }).stats), undefined);
  assert.match(hungRequestsReason(facts({ consecutiveTimeouts: 5 }).stats) ?? '', /last 5 requests all timed out/);
});

describe('the comparison probe', () => {
  const pending: PendingComparison = { peerId: 2, sentAt: 19_000, servedAtSend: 1000, quarantinedAt: 19_000, timeoutMs: 1000 };
  const answered = (status = 200) => ({ isAnswered: true as const, status });
  const timedOut = { isAnswered: false as const, isTimedOut: true, reason: 'no answer within 1000ms' };
  const reset = { isAnswered: false as const, isTimedOut: false, reason: 'socket hang up' };
  const quiet = silent(5, 2000);

  test('the peer answered (any status), it did not and served nothing meanwhile: recycle', () => {
    assert.equal(judgeComparison(timedOut, answered(503), pending, quiet).verdict, 'recycle');
    assert.equal(judgeComparison(reset, answered(), pending, quiet).verdict, 'recycle', 'a reset from the suspect is no answer either');
  });

  test('it answered other requests since the probes went out: keep', () => {
    assert.equal(judgeComparison(timedOut, answered(), pending, silent(5, 2000, { served: 1001 })).verdict, 'keep');
  });

  test('neither answered in time: slow for everyone, release', () => {
    const verdict = judgeComparison(timedOut, timedOut, pending, quiet);
    assert.equal(verdict.verdict, 'release');
    assert.match(verdict.reason, /slow for everyone/);
  });

  test('it answered, or the peer failed otherwise than by time: keep', () => {
    assert.equal(judgeComparison(answered(500), timedOut, pending, quiet).verdict, 'keep');
    assert.equal(judgeComparison(answered(), answered(), pending, quiet).verdict, 'keep');
    assert.equal(judgeComparison(timedOut, reset, pending, quiet).verdict, 'keep');
  });

  test('the bound: 1 s, or twice the fleet\'s slowest recent answer', () => {
    assert.equal(comparisonTimeoutMs({ slowestMs: 20, isTrusted: true }), COMPARISON_RULE.timeoutFloorMs);
    assert.equal(comparisonTimeoutMs({ slowestMs: 30_000, isTrusted: true }), 60_000, 'long polls of 30 s: 60 s');
  });

  test('the backoff: 10 s, doubling, up to 5 min', () => {
    assert.deepEqual([1, 2, 3, 4].map(comparisonBackoffMs), [10_000, 20_000, 40_000, 80_000]);
    assert.equal(comparisonBackoffMs(20), 300_000);
  });

  test('due only with a peer, none under way, past the backoff, for a worker that answered before', () => {
    assert.equal(isComparisonDue(undefined, quiet, 1, 20_000), true);
    assert.equal(isComparisonDue(undefined, quiet, 0, 20_000), false, '--workers 1, or no peer in rotation');
    assert.equal(isComparisonDue(undefined, silent(5, 2000, { served: 0 }), 1, 20_000), false, 'answered nothing since it started');
    assert.equal(isComparisonDue({ sent: 0, nextAt: 0, pending }, quiet, 1, 20_000), false, 'one under way');
    assert.equal(isComparisonDue({ sent: 1, nextAt: 25_000, pending: undefined }, quiet, 1, 20_000), false, 'within the backoff');
    assert.equal(isComparisonDue({ sent: 1, nextAt: 20_000, pending: undefined }, quiet, 1, 20_000), true);
  });

  test('the peer: fewest unanswered requests, then the freshest answer, then the lowest id', () => {
    const busy = facts({ unansweredCount: 2, unansweredForMs: 50 }, 20_000, 2);
    const stale = facts({ lastFinishedAgoMs: 400 }, 20_000, 3);
    const fresh = facts({ lastFinishedAgoMs: 4 }, 20_000, 4);
    const twin = facts({ lastFinishedAgoMs: 4 }, 20_000, 5);
    assert.equal(comparisonPeer([busy, stale, twin, fresh])?.id, 4);
    assert.equal(comparisonPeer([]), undefined);
  });
});
