// The event-loop utilisation a heartbeat carries: the delta of two readings as a share in 0..1, and
// the check the primary applies to it (a worker may omit it; a value outside 0..1 is not warden's).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWorkerMessage } from '../../src/protocol/messages.js';
import { utilizationBetween } from '../../src/worker/heartbeat.js';

const reading = (idle: number, active: number) => ({ idle, active, utilization: active / (idle + active || 1) });

test('the utilisation is the active share of the time between two readings', () => {
  assert.equal(utilizationBetween(reading(100, 100), reading(150, 250)), 0.75);
  assert.equal(utilizationBetween(reading(0, 0), reading(500, 0)), 0, 'idle all the time');
  assert.equal(utilizationBetween(reading(0, 0), reading(0, 500)), 1, 'busy all the time');
  assert.equal(utilizationBetween(reading(10, 10), reading(10, 10)), 0, 'no time passed');
  assert.equal(utilizationBetween(reading(0, 0), reading(2, 1)), 0.333, 'rounded to 3 decimals');
});

test('a heartbeat with a utilisation in 0..1, or none, is accepted; one outside is not', () => {
  const stats = {
    loopDelayMs: 1, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 0, lastFinishedAgoMs: -1, unansweredCount: 0, unansweredForMs: 0, slowestRecentMs: 0,
    answeredRecent: 0, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 1, heapUsedBytes: 1,
  };
  assert.ok(parseWorkerMessage({ warden: 1, act: 'heartbeat', stats }));
  assert.ok(parseWorkerMessage({ warden: 1, act: 'heartbeat', stats: { ...stats, eventLoopUtilization: 0.97 } }));
  assert.equal(parseWorkerMessage({ warden: 1, act: 'heartbeat', stats: { ...stats, eventLoopUtilization: 1.5 } }), undefined);
  assert.equal(parseWorkerMessage({ warden: 1, act: 'heartbeat', stats: { ...stats, eventLoopUtilization: 'high' } }), undefined);
});
