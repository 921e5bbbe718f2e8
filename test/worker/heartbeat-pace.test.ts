// The heartbeat's pace: an idle worker beats on the wall clock's multiples of the idle interval and
// announces how much later its next beat is due; the announcement is validated like the rest of a beat.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWorkerMessage } from '../../src/protocol/messages.js';
import { nextBeatInMs } from '../../src/worker/heartbeat.js';

const BASE_STATS = {
  loopDelayMs: 1, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 0, lastFinishedAgoMs: -1, unansweredCount: 0, unansweredForMs: 0, slowestRecentMs: 0,
  answeredRecent: 0, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 1, heapUsedBytes: 1,
};

test('an idle worker beats on the next wall-clock multiple of the idle interval, never sooner than the regular one', () => {
  const pace = { intervalMs: 250, idleIntervalMs: 1000 };
  assert.equal(nextBeatInMs(pace, false, 12_345), 250, 'with work: the regular interval');
  assert.equal(nextBeatInMs(pace, true, 12_000), 1000, 'on a multiple: a whole idle interval');
  assert.equal(nextBeatInMs(pace, true, 12_300), 700, 'the rest of the idle interval, so idle workers beat together');
  assert.equal(nextBeatInMs(pace, true, 12_900), 250, 'never under the regular interval');
  assert.equal(nextBeatInMs({ intervalMs: 250 }, true, 12_300), 250, 'no idle interval: the regular one');
  assert.equal(nextBeatInMs({ intervalMs: 250, idleIntervalMs: 100 }, true, 12_300), 250, 'an idle interval under the regular one is ignored');
});

test("a heartbeat's announced delay is validated: absent, or a finite number of ms at least 0", () => {
  const beat = (extra: Record<string, unknown>) => parseWorkerMessage({ warden: 1, act: 'heartbeat', stats: { ...BASE_STATS, ...extra } });
  assert.ok(beat({}), 'absent (an older worker)');
  assert.ok(beat({ nextBeatDelayedMs: 750 }));
  assert.equal(beat({ nextBeatDelayedMs: -1 }), undefined, 'negative');
  assert.equal(beat({ nextBeatDelayedMs: 'soon' }), undefined, 'not a number');
  assert.equal(beat({ nextBeatDelayedMs: Infinity }), undefined, 'not finite');
});
