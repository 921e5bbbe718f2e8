// The pure health rules: heartbeat freshness and the stuck (poisoned worker) rule, with plain numbers.
// Times are on the primary's clock in ms; every worker reported its stats at 20 000 unless stated.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { heartbeatFreshness, hungRequestsReason, judgeStuck, lateAfterMs, STUCK_RULE, stuckReason, type ProgressFacts } from '../../src/primary/machine/verdicts.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';

const STUCK_AFTER = 10_000;

/** A busy hello-app worker by default: answered 3 ms ago, 500 answers in the window, the slowest 20 ms. */
function facts(stats: Partial<HeartbeatStats>, statsAt = 20_000): ProgressFacts {
  return {
    statsAt,
    stats: {
      loopDelayMs: 0, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 1000, lastFinishedAgoMs: 3, unansweredCount: 0,
      unansweredForMs: 0, slowestRecentMs: 20, answeredRecent: 500, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0,
      connections: 0, rssBytes: 0, heapUsedBytes: 0, ...stats,
    },
  };
}

const flowing = facts({});
/** A poisoned worker of a busy hello app: `count` requests, none answered for `silentMs`. */
const poisoned = (count: number, silentMs: number, extra: Partial<HeartbeatStats> = {}) =>
  facts({ unansweredCount: count, unansweredForMs: silentMs, waiting: count, lastFinishedAgoMs: silentMs + 5, ...extra });
const isStuck = (worker: ProgressFacts, peers: readonly ProgressFacts[] = [flowing], stuckAfterMs = STUCK_AFTER) =>
  judgeStuck(worker, peers, stuckAfterMs) !== undefined;

test('heartbeats: fresh, then late after the window, then stalled at the timeout', () => {
  assert.equal(heartbeatFreshness(0, 900, 1000, 5000), 'fresh');
  assert.equal(heartbeatFreshness(0, 1000, 1000, 5000), 'late');
  assert.equal(heartbeatFreshness(0, 5000, 1000, 5000), 'stalled');
  assert.equal(lateAfterMs(5000), 1000);
  assert.equal(lateAfterMs(1000), 500, 'a short --timeout gets a shorter window');
});

describe('the poisoned worker of a fast app is caught at the floor', () => {
  test('5 or more requests unanswered for 1.5 s while a peer answers: stuck, judged by the floor', () => {
    assert.equal(STUCK_RULE.floorMs, 1500);
    assert.equal(isStuck(poisoned(40, 1499)), false, 'one millisecond before the floor');
    assert.deepEqual(judgeStuck(poisoned(40, 1500), [flowing], STUCK_AFTER), { silentForMs: 1500, count: 40, thresholdMs: 1500, basis: 'floor' });
    assert.match(stuckReason(poisoned(40, 1600), [flowing], STUCK_AFTER) ?? '',
      /^40 request\(s\) in 1\.6s and not one answered \(40 still waiting\) while other workers kept answering; threshold 1\.5s \(floor\)$/);
  });

  test('keep-alive: 4 pinned requests wait for --stuck-after; the fifth lets the floor decide', () => {
    assert.equal(isStuck(poisoned(4, 9_999)), false);
    assert.deepEqual(judgeStuck(poisoned(4, 10_000), [flowing], STUCK_AFTER)?.basis, '--stuck-after');
    assert.equal(isStuck(poisoned(5, 1500)), true);
  });

  test('requests abandoned by their clients and --request-timeout 504s still count: nothing hides a worker that answers nothing', () => {
    assert.equal(isStuck(poisoned(30, 1600, { waiting: 0, inFlight: 0 })), true);
    assert.equal(isStuck(poisoned(6, 1600, { waiting: 0, timedOut: 6, consecutiveTimeouts: 4 })), true);
  });

  test('a --stuck-after shorter than the floor lowers the floor', () => {
    assert.equal(isStuck(poisoned(5, 999), [flowing], 1000), false);
    assert.equal(isStuck(poisoned(5, 1000), [flowing], 1000), true);
  });

  test('0 disables the rule', () => {
    assert.equal(judgeStuck(poisoned(500, 600_000), [flowing], 0), undefined);
    assert.equal(judgeStuck(poisoned(500, 600_000), [], 0), undefined);
  });
});

describe('the threshold follows the fleet: exactly twice its slowest recent answer', () => {
  test('an app whose answers take 30 s (long polls) gets 60 s', () => {
    const peer = facts({ lastFinishedAgoMs: 100, slowestRecentMs: 30_000 });
    assert.equal(isStuck(poisoned(5, 59_999), [peer]), false);
    assert.deepEqual(judgeStuck(poisoned(5, 60_000), [peer], STUCK_AFTER), { silentForMs: 60_000, count: 5, thresholdMs: 60_000, basis: 'fleet pace' });
  });

  test("the slowest answer of any worker counts, the suspect's own included", () => {
    const slowPeer = facts({ slowestRecentMs: 900 });
    assert.equal(isStuck(poisoned(5, 1799), [slowPeer]), false);
    assert.equal(isStuck(poisoned(5, 1800), [slowPeer]), true);
    assert.equal(isStuck(poisoned(5, 2399, { slowestRecentMs: 1200 })), false);
    assert.equal(isStuck(poisoned(5, 2400, { slowestRecentMs: 1200 })), true);
  });

  test('with fewer than 5 requests the pace still applies when it is longer than --stuck-after', () => {
    const peer = facts({ slowestRecentMs: 8000 });
    assert.equal(isStuck(poisoned(2, 15_999), [peer]), false);
    assert.equal(isStuck(poisoned(2, 16_000), [peer]), true);
  });
});

describe('before the worker has history, --stuck-after decides', () => {
  test('fewer than 20 answers of its own in the window: --stuck-after, however fast the fleet', () => {
    assert.equal(STUCK_RULE.historyAnswers, 20);
    assert.equal(isStuck(poisoned(40, 9_999, { answeredRecent: 19 })), false);
    assert.equal(judgeStuck(poisoned(40, 10_000, { answeredRecent: 19 }), [flowing], STUCK_AFTER)?.basis, '--stuck-after');
    assert.equal(isStuck(poisoned(40, 1500, { answeredRecent: 20 })), true);
  });

  test('a worker that just started (no answer yet) is judged by --stuck-after', () => {
    const fresh = facts({ unansweredCount: 8, unansweredForMs: 9_999, lastFinishedAgoMs: -1, answeredRecent: 0, served: 0, slowestRecentMs: 0 });
    assert.equal(isStuck(fresh), false);
    assert.equal(isStuck({ ...fresh, stats: { ...fresh.stats, unansweredForMs: 10_000 } }), true);
  });

  test('one worker alone: no peer shows the cause is its own, so only --stuck-after applies', () => {
    assert.equal(isStuck(poisoned(40, 9_999), []), false);
    assert.match(stuckReason(poisoned(40, 10_000), [], STUCK_AFTER) ?? '', /^40 request\(s\) in 10\.0s and not one answered \(40 still waiting\); threshold 10\.0s \(--stuck-after\)$/);
    assert.equal(isStuck(poisoned(1, 60_000), []), false, 'a single abandoned request on an idle worker is not stuck');
  });
});

describe('all the traffic on the suspect: the other workers idle', () => {
  test('no peer has a request to answer: judged as a worker alone, by --stuck-after only', () => {
    // Closed-loop clients that all ended up on the poisoned worker: the peer answered before, and
    // has nothing waiting now.
    const idlePeer = facts({ lastFinishedAgoMs: 20_000, unansweredCount: 0, unansweredForMs: 0 });
    assert.equal(isStuck(poisoned(7, 9_999), [idlePeer]), false, 'the floor does not apply without a peer answering');
    assert.match(stuckReason(poisoned(7, 10_000), [idlePeer], STUCK_AFTER) ?? '', /threshold 10\.0s \(--stuck-after, the other workers idle\)$/);
    assert.equal(isStuck(poisoned(1, 60_000), [idlePeer]), false, 'a single abandoned request is still no evidence');
  });

  test('one peer waiting too is a possible shared cause: nobody is recycled, however long', () => {
    const idlePeer = facts({ lastFinishedAgoMs: 20_000, unansweredCount: 0, unansweredForMs: 0 });
    // Both peers last answered before the suspect's oldest request (at 0; the suspect went quiet at 5 000).
    const waitingPeer = facts({ lastFinishedAgoMs: 20_000, unansweredCount: 2, unansweredForMs: 16_000 });
    assert.equal(isStuck(poisoned(7, 15_000), [idlePeer]), true, 'the idle peer alone: judged');
    assert.equal(isStuck(poisoned(7, 15_000), [idlePeer, waitingPeer]), false, 'a peer waiting too: nobody is recycled');
  });
});

describe('a shared cause recycles nobody; a quiet service is still judged', () => {
  test('every worker waiting since before the suspect went quiet: a shared cause (a database down for all)', () => {
    const waitingPeer = facts({ unansweredCount: 9, unansweredForMs: 15_000, lastFinishedAgoMs: 15_001 });
    assert.equal(isStuck(poisoned(9, 15_000), [waitingPeer]), false);
    const neverAnswered = facts({ unansweredCount: 3, unansweredForMs: 12_000, lastFinishedAgoMs: -1 });
    assert.equal(isStuck(poisoned(9, 15_000), [neverAnswered]), false);
  });

  test('a peer that answered just after the suspect went quiet, then went quiet itself, is waiting too', () => {
    // The database went down at 18 000: the suspect's last request came 10 ms before the peer's last answer.
    const peer = (quietMs: number) => facts({ lastFinishedAgoMs: 1990, unansweredCount: 6, unansweredForMs: quietMs });
    assert.equal(isStuck(poisoned(6, 2000), [peer(1000)]), false, 'quiet for half the suspect silence: waiting');
    assert.equal(isStuck(poisoned(6, 2000), [peer(999)]), true, 'quiet for less than half: still answering');
  });

  test('one peer answering is enough, whatever the others do', () => {
    const waitingPeer = facts({ unansweredCount: 9, unansweredForMs: 15_000, lastFinishedAgoMs: 15_001 });
    assert.equal(isStuck(poisoned(9, 1600), [waitingPeer, flowing]), true);
  });

  test('a burst, then silence: the peer answered its share at once, the suspect never does; judged at --stuck-after, and still judged 10 minutes later', () => {
    // 10 requests at 0; the peer answered its 5 at 1 ms; few answers in the window: the patient threshold.
    const quiet = (at: number) => facts({ unansweredCount: 5, unansweredForMs: at, waiting: 5, lastFinishedAgoMs: at + 60_000, answeredRecent: 3 }, at);
    const peerAt = (at: number) => facts({ lastFinishedAgoMs: at - 1, answeredRecent: 8 }, at);
    assert.equal(isStuck(quiet(9_999), [peerAt(9_999)]), false);
    assert.equal(isStuck(quiet(10_000), [peerAt(10_000)]), true);
    assert.equal(isStuck(quiet(600_000), [peerAt(600_000)]), true, 'the peer answering long ago still shows the cause is the suspect\'s own');
  });

  test('a request every few seconds: 2 unanswered for --stuck-after while the peer answered 2 s ago', () => {
    const peer = facts({ lastFinishedAgoMs: 2000, answeredRecent: 12 });
    assert.equal(isStuck(poisoned(2, 9_999, { answeredRecent: 12 }), [peer]), false);
    assert.equal(isStuck(poisoned(2, 10_000, { answeredRecent: 12 }), [peer]), true);
  });

  test('a peer whose last answer came before the suspect went quiet does not count', () => {
    const before = facts({ lastFinishedAgoMs: 1601 });
    assert.equal(isStuck(poisoned(9, 1600), [before]), false);
    assert.equal(isStuck(poisoned(9, 1600), [facts({ lastFinishedAgoMs: 1599 })]), true);
  });
});

describe('a blocked event loop is the stall rule\'s case', () => {
  test('the silence counts from the moment the loop resumed after standing still', () => {
    // Requests waiting 3 s, but the loop stood still until 200 ms ago (a long synchronous task).
    assert.equal(isStuck(poisoned(8, 3000, { loopPausedAgoMs: 200 })), false);
    assert.equal(isStuck(poisoned(8, 3000, { loopPausedAgoMs: 1499 })), false);
    assert.equal(judgeStuck(poisoned(8, 3000, { loopPausedAgoMs: 1500 }), [flowing], STUCK_AFTER)?.silentForMs, 1500);
    assert.equal(isStuck(poisoned(8, 1600, { loopPausedAgoMs: 60_000 })), true, 'a pause before the requests arrived changes nothing');
  });

  test('only what the worker reported is judged: its silence is the one in its last heartbeat', () => {
    // Reported at 20 000 with 1.4 s of silence; the verdict has no clock to extrapolate with.
    assert.equal(judgeStuck(poisoned(40, 1400), [facts({}, 25_000)], STUCK_AFTER), undefined);
  });
});

describe('never a false positive', () => {
  test('long polls of 30 s: before any is answered every worker waits; once answered the threshold is 60 s', () => {
    const holding = facts({ unansweredCount: 3, unansweredForMs: 25_000, waiting: 3, lastFinishedAgoMs: -1, answeredRecent: 0, slowestRecentMs: 0 });
    assert.equal(isStuck(holding, [holding]), false);
    const polled = facts({ unansweredCount: 3, unansweredForMs: 29_900, waiting: 3, lastFinishedAgoMs: 29_950, answeredRecent: 6, slowestRecentMs: 30_000 });
    const peer = facts({ lastFinishedAgoMs: 50, unansweredCount: 1, unansweredForMs: 40, answeredRecent: 6, slowestRecentMs: 30_010 });
    assert.equal(isStuck(polled, [peer]), false);
  });

  test('SSE streams are answered at their first byte: open streams are not unanswered requests', () => {
    const streaming = facts({ inFlight: 6, waiting: 0, unansweredCount: 0, lastFinishedAgoMs: 900, slowestRecentMs: 2 });
    assert.equal(judgeStuck(streaming, [streaming], STUCK_AFTER), undefined);
  });

  test('every request takes 2 to 5 s: 5 requests all slow for 4 s are within twice the slowest (4.9 s)', () => {
    const slowApp = (count: number, silentMs: number) => facts({ unansweredCount: count, unansweredForMs: silentMs, lastFinishedAgoMs: silentMs + 100, answeredRecent: 40, slowestRecentMs: 4900 });
    assert.equal(isStuck(slowApp(5, 4_000), [slowApp(2, 1000)]), false);
    assert.equal(isStuck(slowApp(5, 9_799), [slowApp(0, 0)]), false);
  });

  test('bimodal, 1 in 50 taking 8 s: the slow one arrived before the last answer and is not in the streak', () => {
    const bimodal = facts({ inFlight: 2, waiting: 1, oldestWaitingMs: 7000, unansweredCount: 1, unansweredForMs: 5, slowestRecentMs: 40 });
    assert.equal(isStuck(bimodal), false);
    // Two slow ones in a row on a quiet worker: 8 s is under --stuck-after, then 16 s once seen.
    assert.equal(isStuck(facts({ unansweredCount: 2, unansweredForMs: 8000, slowestRecentMs: 40 })), false);
    assert.equal(isStuck(facts({ unansweredCount: 5, unansweredForMs: 15_000, slowestRecentMs: 8000 })), false);
  });

  test('slow for the first 10 s after boot: too few answers for the fleet pace, then twice the cold answers', () => {
    const cold = facts({ unansweredCount: 6, unansweredForMs: 3000, lastFinishedAgoMs: 3100, answeredRecent: 8, slowestRecentMs: 2900 });
    assert.equal(isStuck(cold, [facts({ slowestRecentMs: 2800, answeredRecent: 9 })]), false);
    // A cold replacement in a warm fleet: its own slow answers set the pace once it has history.
    const replacement = facts({ unansweredCount: 5, unansweredForMs: 3000, lastFinishedAgoMs: 3050, answeredRecent: 20, slowestRecentMs: 3000 });
    assert.equal(isStuck(replacement, [flowing]), false);
    assert.equal(isStuck({ ...replacement, stats: { ...replacement.stats, answeredRecent: 2, slowestRecentMs: 0 } }, [flowing]), false);
  });

  test('100 ms of CPU per request: a busy worker answers every 100 ms, so its streak never grows', () => {
    const busy = facts({ inFlight: 5, waiting: 5, oldestWaitingMs: 480, unansweredCount: 3, unansweredForMs: 100, loopDelayMs: 100, slowestRecentMs: 600 });
    assert.equal(isStuck(busy, [busy]), false);
  });
});

test('five --request-timeout time-outs in a row make a worker unhealthy', () => {
  assert.equal(hungRequestsReason(facts({ consecutiveTimeouts: 4 }).stats), undefined);
  assert.match(hungRequestsReason(facts({ consecutiveTimeouts: 5 }).stats) ?? '', /last 5 requests all timed out/);
});
