// The pure health rules: heartbeat freshness and the stuck (poisoned worker) rule.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { heartbeatFreshness, hungRequestsReason, lateAfterMs, stuckReason, type ProgressFacts } from '../../src/health/verdicts.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';

function facts(stats: Partial<HeartbeatStats>, statsAt = 20_000): ProgressFacts {
  return {
    readyAt: 0, statsAt,
    stats: {
      loopDelayMs: 0, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 100, lastFinishedAgoMs: 10, unansweredCount: 0,
      unansweredForMs: 0, slowestRecentMs: 20, timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 0, heapUsedBytes: 0, ...stats,
    },
  };
}

const flowing = facts({ lastFinishedAgoMs: 3 });

test('heartbeats: fresh, then late after the window, then stalled at the timeout', () => {
  assert.equal(heartbeatFreshness(0, 900, 1000, 5000), 'fresh');
  assert.equal(heartbeatFreshness(0, 1000, 1000, 5000), 'late');
  assert.equal(heartbeatFreshness(0, 5000, 1000, 5000), 'stalled');
  assert.equal(lateAfterMs(5000), 1000);
  assert.equal(lateAfterMs(1000), 500, 'a short --timeout gets a shorter window');
});

test('a worker that answered none of its requests for 10 s while a peer answered is stuck', () => {
  const poisoned = facts({ unansweredCount: 50, unansweredForMs: 10_000, waiting: 7, lastFinishedAgoMs: 10_000 });
  assert.match(stuckReason(poisoned, [flowing], 20_000, 10_000) ?? '', /50 request\(s\) in 10\.0s and not one answered/);
});

test('requests its clients gave up on still count: a client time-out cannot hide a poisoned worker', () => {
  const poisoned = facts({ unansweredCount: 30, unansweredForMs: 11_000, waiting: 0 });
  assert.ok(stuckReason(poisoned, [flowing], 20_000, 10_000));
});

test('not stuck before the threshold, nor with a single abandoned request on an idle worker', () => {
  assert.equal(stuckReason(facts({ unansweredCount: 50, unansweredForMs: 9000 }), [flowing], 20_000, 10_000), undefined);
  assert.equal(stuckReason(facts({ unansweredCount: 1, unansweredForMs: 60_000 }), [flowing], 20_000, 10_000), undefined);
});

test('when every worker is waiting (a shared cause) none is judged stuck', () => {
  const waiting = facts({ unansweredCount: 9, unansweredForMs: 15_000, lastFinishedAgoMs: 15_000 });
  assert.equal(stuckReason(waiting, [waiting], 20_000, 10_000), undefined);
});

test('an app whose answers normally take 30 s (long polls) gets a threshold of twice that', () => {
  const longPoll = facts({ unansweredCount: 4, unansweredForMs: 25_000, slowestRecentMs: 30_000 });
  const peer = facts({ lastFinishedAgoMs: 100, slowestRecentMs: 30_000 });
  assert.equal(stuckReason(longPoll, [peer], 20_000, 10_000), undefined);
  assert.ok(stuckReason(facts({ unansweredCount: 4, unansweredForMs: 61_000, slowestRecentMs: 30_000 }), [peer], 20_000, 10_000));
});

test('with one worker the rule applies without peers; 0 disables it', () => {
  const alone = facts({ unansweredCount: 5, unansweredForMs: 12_000 });
  assert.ok(stuckReason(alone, [], 20_000, 10_000));
  assert.equal(stuckReason(alone, [], 20_000, 0), undefined);
});

test('time since the last heartbeat is added to what it reported', () => {
  const poisoned = facts({ unansweredCount: 5, unansweredForMs: 9_800 }, 20_000);
  assert.equal(stuckReason(poisoned, [facts({ lastFinishedAgoMs: 3 }, 20_300)], 20_100, 10_000), undefined);
  assert.ok(stuckReason(poisoned, [facts({ lastFinishedAgoMs: 3 }, 20_300)], 20_300, 10_000));
});

test('five --request-timeout time-outs in a row make a worker unhealthy', () => {
  assert.equal(hungRequestsReason(facts({ consecutiveTimeouts: 4 }).stats), undefined);
  assert.match(hungRequestsReason(facts({ consecutiveTimeouts: 5 }).stats) ?? '', /last 5 requests all timed out/);
});
