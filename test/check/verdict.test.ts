// Unit tests of the pure part of `warden check`: observed timeline -> figures, verdict, reasons,
// and when the watch may end early. No processes, no timers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { type CheckTimeline, type HealthSample, isGreenStatus, isSettled, judge, type RequestSample, summarize } from '../../src/check/verdict.js';

function healthEvery(fromMs: number, toMs: number, stepMs: number, status: number | null): HealthSample[] {
  const samples: HealthSample[] = [];
  for (let atMs = fromMs; atMs < toMs; atMs += stepMs) {
    samples.push({ atMs, status, isGreen: isGreenStatus(status) });
  }
  return samples;
}

function requests(counts: { ok: number; failed?: number; timedOut?: number }): RequestSample[] {
  const list: RequestSample[] = [];
  const push = (n: number, result: RequestSample['result']): void => {
    for (let i = 0; i < n; i += 1) list.push({ atMs: list.length * 100, result });
  };
  push(counts.ok, 'ok');
  push(counts.failed ?? 0, 'failed');
  push(counts.timedOut ?? 0, 'timed-out');
  return list;
}

function timeline(overrides: Partial<CheckTimeline>): CheckTimeline {
  return {
    frozenPid: 4312,
    windowMs: 20_000,
    elapsedMs: 20_000,
    health: healthEvery(0, 20_000, 100, 200),
    requests: requests({ ok: 200 }),
    frozenExitedAtMs: null,
    replacement: null,
    ...overrides,
  };
}

describe('judge', () => {
  test('a frozen worker nobody replaces while health stays green is a trap, with every reason stated', () => {
    const result = judge(timeline({ requests: requests({ ok: 163, timedOut: 37 }) }));
    assert.equal(result.verdict, 'trap');
    assert.deepEqual(result.reasons, [
      'worker 4312 was never replaced in 20.0 s',
      'health stayed green for 20.0 s while worker 4312 was frozen',
      '37 of 200 requests went unserved (37 timed out)',
    ]);
    assert.equal(result.healthGreenAfterFreezeMs, 20_000);
    assert.equal(result.healthFirstRedAtMs, null);
    assert.deepEqual(result.requests, { sent: 200, ok: 163, failed: 0, timedOut: 37 });
  });

  test('health that fails while nobody replaces the worker is still a trap', () => {
    const health = [...healthEvery(0, 3_000, 100, 200), ...healthEvery(3_000, 20_000, 100, 503)];
    const result = judge(timeline({ health }));
    assert.equal(result.verdict, 'trap');
    assert.equal(result.healthFirstRedAtMs, 3_000);
    assert.equal(result.healthGreenAfterFreezeMs, 3_000);
    assert.equal(result.healthRecoveredAtMs, null, 'health never recovered');
    assert.deepEqual(result.reasons, [
      'worker 4312 was never replaced in 20.0 s',
      'health first failed after 3.0 s (170 of 200 polls failed) and was still failing at the end',
    ]);
  });

  test('health that turns red, then a replacement, then green again is a pass', () => {
    const health = [
      ...healthEvery(0, 2_000, 100, 200),
      ...healthEvery(2_000, 3_500, 100, null),
      ...healthEvery(3_500, 5_000, 100, 200),
    ];
    const result = judge(
      timeline({ elapsedMs: 5_000, health, replacement: { atMs: 3_400, pid: 4399 }, frozenExitedAtMs: 3_100, requests: requests({ ok: 45, failed: 5 }) }),
    );
    assert.equal(result.verdict, 'pass');
    assert.equal(result.healthFirstRedAtMs, 2_000);
    assert.equal(result.healthRecoveredAtMs, 3_500);
    assert.equal(result.replacedAtMs, 3_400);
    assert.equal(result.newPid, 4399);
    assert.equal(result.frozenExitedAtMs, 3_100);
    assert.deepEqual(result.reasons, [
      'worker 4312 was replaced by 4399 after 3.4 s',
      'health first failed after 2.0 s (15 of 50 polls failed) and was green again after 3.5 s',
      '5 of 50 requests went unserved (5 failed)',
    ]);
  });

  test('a replacement alone is a pass even if health never failed', () => {
    const result = judge(timeline({ elapsedMs: 4_000, health: healthEvery(0, 4_000, 100, 200), replacement: { atMs: 2_900, pid: 9 } }));
    assert.equal(result.verdict, 'pass');
    assert.equal(result.reasons[1], 'health stayed green throughout; only the replacement showed the freeze');
  });

  test('a frozen worker killed but never replaced is a trap that says it was killed', () => {
    const result = judge(timeline({ frozenExitedAtMs: 5_000 }));
    assert.equal(result.verdict, 'trap');
    assert.equal(result.reasons[0], 'worker 4312 was killed after 5.0 s but no new worker took its place in 20.0 s');
  });

  test('samples recorded out of order (they finish out of order) give the same figures', () => {
    const health = [...healthEvery(0, 1_000, 100, 200), ...healthEvery(1_000, 2_000, 100, 500), ...healthEvery(2_000, 3_000, 100, 200)];
    const ordered = summarize(timeline({ elapsedMs: 3_000, health }));
    const shuffled = summarize(timeline({ elapsedMs: 3_000, health: [...health].reverse() }));
    assert.deepEqual(shuffled, ordered);
    assert.equal(ordered.healthFirstRedAtMs, 1_000);
    assert.equal(ordered.healthRecoveredAtMs, 2_000);
    assert.deepEqual(ordered.health, { polls: 30, failed: 10 });
  });

  test('200-399 is green, like a kubelet probe; anything else, or no answer, is red', () => {
    for (const status of [200, 204, 302, 399]) assert.equal(isGreenStatus(status), true, `${status} is green`);
    for (const status of [null, 100, 199, 400, 404, 500, 503]) assert.equal(isGreenStatus(status), false, `${status} is red`);
    const health = [...healthEvery(0, 500, 100, 302), ...healthEvery(500, 1_000, 100, 400)];
    assert.equal(summarize(timeline({ elapsedMs: 1_000, health })).healthFirstRedAtMs, 500, 'a 302 is not a failure, a 400 is');
  });
});

describe('isSettled', () => {
  const replaced = { atMs: 3_000, pid: 9 };

  test('is false while the worker has not been replaced', () => {
    assert.equal(isSettled(timeline({}), 10_000, 1_000), false);
  });

  test('is false until the replacement is settleMs old', () => {
    const health = healthEvery(0, 3_900, 100, 200);
    assert.equal(isSettled(timeline({ health, replacement: replaced }), 3_900, 1_000), false);
  });

  test('is false while a recent health poll failed', () => {
    const health = [...healthEvery(0, 3_500, 100, 200), { atMs: 3_500, status: 503, isGreen: false }, ...healthEvery(3_600, 4_200, 100, 200)];
    assert.equal(isSettled(timeline({ health, replacement: replaced }), 4_200, 1_000), false);
  });

  test('is false when no health poll has answered in the last settleMs', () => {
    const health = healthEvery(0, 2_000, 100, 200);
    assert.equal(isSettled(timeline({ health, replacement: replaced }), 4_500, 1_000), false);
  });

  test('is true once replaced, the frozen process gone, and every poll of the last settleMs green', () => {
    const health = [...healthEvery(0, 3_000, 100, null), ...healthEvery(3_000, 4_100, 100, 200)];
    assert.equal(isSettled(timeline({ health, replacement: replaced, frozenExitedAtMs: 2_500 }), 4_100, 1_000), true);
  });

  test('is false while the frozen process still exists, even when replaced and green (warden may still be taking its stack)', () => {
    const health = [...healthEvery(0, 3_000, 100, null), ...healthEvery(3_000, 4_100, 100, 200)];
    assert.equal(isSettled(timeline({ health, replacement: replaced, frozenExitedAtMs: null }), 4_100, 1_000), false);
    assert.equal(isSettled(timeline({ health, replacement: replaced, frozenExitedAtMs: 4_000 }), 4_100, 1_000), true, 'the exit itself needs no settling time');
  });
});
