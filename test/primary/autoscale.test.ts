// The autoscaling rule with plain numbers: a sustained high grows by one, a sustained low retires
// one, the band between holds (hysteresis), a cool-down follows every change, and the CPU quota and
// the memory limit cap the count below MAX. Also the fleet's one number and the saturated marking.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  AUTOSCALE_START, autoscaleCeiling, decideAutoscale, fleetUtilization, sampleAutoscale, startAutoscale,
  type AutoscaleCaps, type AutoscaleDecision, type AutoscalePolicy, type AutoscaleState,
} from '../../src/primary/machine/autoscale.js';
import { busySinceAfter, isSaturated } from '../../src/primary/machine/saturation.js';

const POLICY: AutoscalePolicy = { min: 2, max: 4, riseAbove: 0.8, fallBelow: 0.3, riseForMs: 10_000, fallForMs: 30_000, coolDownMs: 20_000, queueAbove: 16 };
const ROOMY: AutoscaleCaps = { cpuCount: 8, memoryAllows: undefined };

/** Feeds one ELU reading per second from `from` to `to` (inclusive), applying each change to the count. */
function run(start: { workers: number; state?: AutoscaleState }, readings: { from: number; to: number; utilization: number | undefined }[], caps = ROOMY, policy = POLICY) {
  let workers = start.workers;
  let state = start.state ?? AUTOSCALE_START;
  const changes: { at: number; decision: AutoscaleDecision }[] = [];
  let last: AutoscaleDecision | undefined;
  for (const reading of readings) {
    for (let now = reading.from; now <= reading.to; now += 1000) {
      const result = decideAutoscale(policy, caps, state, { now, workers, utilization: reading.utilization });
      state = result.state;
      last = result.decision;
      if (result.decision.change !== 'hold') changes.push({ at: now, decision: result.decision });
      workers = result.decision.workers;
    }
  }
  return { workers, state, changes, last };
}

describe('decideAutoscale', () => {
  test('a fleet ELU at or above the rise line for riseForMs adds one worker, not before', () => {
    const early = run({ workers: 2 }, [{ from: 0, to: 9000, utilization: 0.95 }]);
    assert.equal(early.workers, 2, '9 s of high is not yet 10 s');
    assert.match(early.last?.detail ?? '', /for 9\.0s of the 10\.0s needed to grow/);
    const grown = run({ workers: 2 }, [{ from: 0, to: 10_000, utilization: 0.8 }]);
    assert.deepEqual(grown.changes.map((change) => [change.at, change.decision.workers, change.decision.reason]), [[10_000, 3, 'utilization high']]);
    assert.match(grown.changes[0]?.decision.detail ?? '', /fleet utilization 80 % for 10\.0s .*: 2 -> 3 workers/);
  });

  test('a fleet ELU at or below the fall line for fallForMs retires one worker, never below MIN', () => {
    const shrunk = run({ workers: 4 }, [{ from: 0, to: 30_000, utilization: 0.05 }]);
    assert.deepEqual(shrunk.changes.map((change) => [change.at, change.decision.workers, change.decision.change]), [[30_000, 3, 'shrink']]);
    const atMin = run({ workers: 2 }, [{ from: 0, to: 120_000, utilization: 0 }]);
    assert.equal(atMin.workers, 2);
    assert.equal(atMin.last?.reason, 'at minimum');
  });

  test('hysteresis: readings between the lines hold, and a dip into the band restarts the timer', () => {
    const band = run({ workers: 3 }, [{ from: 0, to: 300_000, utilization: 0.5 }]);
    assert.deepEqual(band.changes, [], 'nothing changes between 30 % and 80 %');
    assert.equal(band.last?.reason, 'steady');
    const interrupted = run({ workers: 2 }, [
      { from: 0, to: 8000, utilization: 0.9 },
      { from: 9000, to: 9000, utilization: 0.7 },
      { from: 10_000, to: 18_000, utilization: 0.9 },
    ]);
    assert.equal(interrupted.workers, 2, 'two runs of 9 s are not one of 10 s');
    const noData = run({ workers: 2 }, [{ from: 0, to: 8000, utilization: 0.9 }, { from: 9000, to: 9000, utilization: undefined }, { from: 10_000, to: 18_000, utilization: 0.9 }]);
    assert.equal(noData.workers, 2, 'a gap in the data also restarts the timer');
  });

  test('after a change the cool-down holds, then a still-high fleet grows again', () => {
    const result = run({ workers: 2 }, [{ from: 0, to: 60_000, utilization: 0.99 }]);
    // 10 s: 2 -> 3 (timers restart); 20 s later high for 10 s again, but cool-down runs to 30 s: 3 -> 4 at 30 s; then at MAX.
    assert.deepEqual(result.changes.map((change) => [change.at, change.decision.workers]), [[10_000, 3], [30_000, 4]]);
    const cooling = run({ workers: 2 }, [{ from: 0, to: 25_000, utilization: 0.99 }]);
    assert.equal(cooling.last?.reason, 'cooling down');
    assert.match(cooling.last?.detail ?? '', /last change was 15\.0s ago \(cool-down 20\.0s\)/);
    assert.equal(result.last?.reason, 'at maximum');
  });

  test('a low fleet right after growing waits out the cool-down before retiring one', () => {
    const grown = run({ workers: 2 }, [{ from: 0, to: 10_000, utilization: 0.9 }]);
    const after = run({ workers: grown.workers, state: grown.state }, [{ from: 11_000, to: 41_000, utilization: 0.1 }]);
    assert.deepEqual(after.changes.map((change) => [change.at, change.decision.workers, change.decision.reason]), [[41_000, 2, 'utilization low']]);
  });

  test('the cgroup CPU quota caps growth below MAX', () => {
    const result = run({ workers: 2 }, [{ from: 0, to: 120_000, utilization: 1 }], { cpuCount: 3, memoryAllows: undefined });
    assert.equal(result.workers, 3);
    assert.equal(result.last?.reason, 'at cpu quota');
    assert.match(result.last?.detail ?? '', /3 worker\(s\) is already the 3 CPU\(s\) of the cgroup quota/);
  });

  test('the memory limit caps growth below MAX and below the CPUs', () => {
    const result = run({ workers: 2 }, [{ from: 0, to: 120_000, utilization: 1 }], { cpuCount: 8, memoryAllows: 2 });
    assert.equal(result.workers, 2);
    assert.equal(result.last?.reason, 'at memory limit');
  });

  test('a long accept queue counts as high even when the ELU is not (connections wait for a worker)', () => {
    let state = AUTOSCALE_START;
    let decision: AutoscaleDecision | undefined;
    for (let now = 0; now <= 10_000; now += 1000) ({ state, decision } = decideAutoscale(POLICY, ROOMY, state, { now, workers: 2, utilization: 0.5, acceptQueue: 40 }));
    assert.deepEqual([decision?.workers, decision?.reason], [3, 'utilization high']);
    assert.match(decision?.detail ?? '', /40 connection\(s\) in the accept queue/);
    const short = decideAutoscale(POLICY, ROOMY, { highSince: 0, lowSince: undefined, changedAt: undefined }, { now: 20_000, workers: 2, utilization: 0.5, acceptQueue: 3 });
    assert.equal(short.decision.reason, 'steady', 'a short queue is not high');
  });

  test('no decision while a reload or a scale is in progress, and a sustained high must be seen again after it', () => {
    const high = run({ workers: 2 }, [{ from: 0, to: 9000, utilization: 0.95 }]);
    const during = decideAutoscale(POLICY, ROOMY, high.state, { now: 10_000, workers: 2, utilization: 0.95, isRollingOut: true });
    assert.deepEqual([during.decision.change, during.decision.reason], ['hold', 'rollout in progress']);
    const after = decideAutoscale(POLICY, ROOMY, during.state, { now: 11_000, workers: 2, utilization: 0.95 });
    assert.equal(after.decision.change, 'hold', 'the 9 s before the rollout do not count');
  });

  test('a count outside MIN..MAX is brought back at once, whatever the load', () => {
    assert.equal(decideAutoscale(POLICY, ROOMY, AUTOSCALE_START, { now: 0, workers: 1, utilization: 0.5 }).decision.workers, 2);
    const above = decideAutoscale(POLICY, ROOMY, AUTOSCALE_START, { now: 0, workers: 6, utilization: 0.99 }).decision;
    assert.deepEqual([above.workers, above.change, above.reason], [4, 'shrink', 'above maximum']);
  });
});

test('the ceiling is MAX lowered by the CPUs and the memory limit, never below MIN', () => {
  assert.deepEqual(autoscaleCeiling({ min: 2, max: 8 }, { cpuCount: 16, memoryAllows: undefined }), { workers: 8, limitedBy: 'maximum' });
  assert.deepEqual(autoscaleCeiling({ min: 2, max: 8 }, { cpuCount: 4, memoryAllows: 6 }), { workers: 4, limitedBy: 'cpu quota' });
  assert.deepEqual(autoscaleCeiling({ min: 2, max: 8 }, { cpuCount: 4, memoryAllows: 3 }), { workers: 3, limitedBy: 'memory limit' });
  assert.deepEqual(autoscaleCeiling({ min: 2, max: 8 }, { cpuCount: 4, memoryAllows: 0 }), { workers: 2, limitedBy: 'memory limit' }, 'MIN is kept even when it does not fit');
  assert.deepEqual(autoscaleCeiling({ min: 1, max: 8 }, { cpuCount: 1.5, memoryAllows: undefined }), { workers: 2, limitedBy: 'cpu quota' }, 'a fractional quota rounds up, as --workers auto counts it');
  assert.deepEqual(autoscaleCeiling({ min: 2, max: 8 }, { cpuCount: undefined, memoryAllows: undefined }), { workers: 8, limitedBy: 'maximum' }, 'no quota: MAX alone caps');
});

test("the fleet's saturation is the mean ELU of the workers that reported one", () => {
  assert.equal(fleetUtilization([0.9, 0.7, undefined]), 0.8);
  assert.equal(fleetUtilization([1, 1, 0]), 0.667);
  assert.equal(fleetUtilization([undefined]), undefined);
  assert.equal(fleetUtilization([]), undefined);
});

test('a worker is saturated after 5 s of ELU at or above 0.9 without a break, and not before', () => {
  let since: number | undefined;
  for (let at = 0; at <= 4000; at += 1000) since = busySinceAfter(since, 0.95, at);
  assert.equal(isSaturated(since, 4999), false);
  assert.equal(isSaturated(since, 5000), true);
  assert.equal(busySinceAfter(since, 0.5, 5000), undefined, 'one quieter beat ends the run');
  assert.equal(busySinceAfter(since, undefined, 5000), undefined, 'a beat without ELU is not busy');
  assert.equal(isSaturated(undefined, 1e9), false);
});

test('sampleAutoscale logs and counts every change, and a hold that stops the rule only when it begins', () => {
  let run = startAutoscale(POLICY, { cpuCount: 3, memoryAllows: undefined });
  let workers = 2;
  const logged: string[] = [];
  for (let now = 0; now <= 60_000; now += 1000) {
    const sample = sampleAutoscale(run, { now, workers, utilization: 0.95, acceptQueue: undefined, isRollingOut: false });
    run = sample.run;
    workers = sample.decision.workers;
    if (sample.isLogged) logged.push(`${now / 1000}:${sample.decision.change}:${sample.decision.reason}`);
  }
  // Grows at 10 s; high again from 11 s, so the cool-down holds it from 21 s until 30 s; then the quota (3) holds it.
  assert.deepEqual(logged, ['10:grow:utilization high', '21:hold:cooling down', '30:hold:at cpu quota']);
  assert.deepEqual(run.counts, { 'grow:utilization high': 1, 'hold:cooling down': 1, 'hold:at cpu quota': 1 });
  assert.equal(run.last?.reason, 'at cpu quota');
  assert.equal(run.last?.from, 3);
});
