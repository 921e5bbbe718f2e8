// --workers MIN..MAX in the machine: LoadSampled runs the autoscaling rule on the fleet ELU of the
// workers in rotation; a change moves the target like `warden scale +1`/`-1` (a spawn into the new
// slot, a graceful drain of the highest one), each decision logged with its reason and counted; no
// decision during a reload; a manual scale stays within the range. Injected time, no processes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { autoscalePolicy } from '../../src/primary/machine/autoscale.js';
import { LOG_EVENTS } from '../../src/log/events.js';
import type { Effect, MachineConfig } from '../../src/primary/machine/index.js';
import { Harness, of, stats } from './machine-harness.js';

/** Rise after 1 s, fall after 3 s, cool down 2 s (--autoscale-window 1). */
function autoscaled(caps: { cpuCount: number | undefined; memoryAllows: number | undefined } = { cpuCount: undefined, memoryAllows: undefined }): Partial<MachineConfig> {
  return { workers: 2, autoscale: { policy: autoscalePolicy({ min: 2, max: 4 }, 1000), caps } };
}

/**
 * Runs to `until`: ticks every 50 ms, heartbeats every 250 ms with this ELU, a LoadSampled every
 * second; new workers get a pid and become ready at once. Returns every effect.
 */
function drive(h: Harness, until: number, utilization: number, sample: { acceptQueue?: number | null; memoryAllows?: number } = {}): Effect[] {
  const effects: Effect[] = [];
  for (let t = h.now + 50; t <= until; t += 50) {
    if (t % 250 === 0) {
      for (const worker of h.state.workers) {
        if (worker.state === 'ready' || worker.state === 'draining') effects.push(...h.send({ type: 'HeartbeatReceived', id: worker.id, stats: stats({ eventLoopUtilization: utilization }) }, t));
      }
    }
    if (t % 1000 === 0) {
      const spawned = h.send({ type: 'LoadSampled', acceptQueue: sample.acceptQueue ?? null, ...(sample.memoryAllows === undefined ? {} : { memoryAllows: sample.memoryAllows }) }, t);
      effects.push(...spawned);
      for (const id of h.spawnAll(spawned)) h.send({ type: 'WorkerReady', id }, t);
    }
    const ticked = h.send({ type: 'Tick' }, t);
    effects.push(...ticked);
    for (const id of h.spawnAll(ticked)) h.send({ type: 'WorkerReady', id }, t);
  }
  return effects;
}

const decisions = (effects: Effect[]) => of(effects, 'Log').filter((log) => log.event === LOG_EVENTS.autoscaled).map((log) => `${log.fields.change}:${log.fields.reason}:${log.fields.from}->${log.fields.to}`);

test('a busy fleet grows one worker at a time up to MAX, waiting out the cool-down; an idle one shrinks back to MIN by graceful drains', () => {
  const h = new Harness(autoscaled());
  h.boot();
  const busy = drive(h, 12_000, 0.95);
  assert.deepEqual(of(busy, 'Spawn').map((spawn) => spawn.slot), [3, 4], 'slots 3 then 4 are started');
  // Sampled each second: high from 1 s, grown at 2 s; high again from 3 s, and at 4 s both the 1 s rise and the 2 s cool-down are over.
  assert.deepEqual(decisions(busy), ['grow:utilization high:2->3', 'grow:utilization high:3->4', 'hold:at maximum:4->4']);
  assert.equal(h.state.targetWorkers, 4);
  assert.equal(h.state.workers.filter((worker) => worker.state === 'ready').length, 4);
  const idle = drive(h, 40_000, 0.02);
  const drained = of(idle, 'Drain').map((drain) => h.effects.find((effect) => effect.type === 'Spawn' && effect.id === drain.id));
  assert.deepEqual(drained.map((spawn) => (spawn as Extract<Effect, { type: 'Spawn' }>).slot), [4, 3], 'the highest slot drains first, gracefully (no SIGKILL)');
  assert.equal(of(idle, 'Signal').length, 0, 'no worker is signalled: each drains its requests in flight and exits');
  assert.equal(h.state.targetWorkers, 2, 'never below MIN');
  assert.ok(decisions(idle).includes('shrink:utilization low:4->3') && decisions(idle).includes('shrink:utilization low:3->2'));
  assert.equal(h.state.autoscale?.last?.reason, 'utilization low', 'at MIN the rule holds quietly: "at minimum" is no notable hold');
  assert.equal(h.state.autoscale?.counts['grow:utilization high'], 2);
  assert.equal(h.state.autoscale?.counts['shrink:utilization low'], 2);
  const line = of(busy, 'Log').find((log) => log.event === LOG_EVENTS.autoscaled);
  assert.match(line?.msg ?? '', /^autoscale: adding a worker \(utilization high\): fleet utilization 95 % for 1\.0s \(at or above 80 %\): 2 -> 3 workers$/);
});

test('the fleet in between the lines holds, and a long accept queue grows it even at a middling ELU', () => {
  const h = new Harness(autoscaled());
  h.boot();
  assert.deepEqual(of(drive(h, 10_000, 0.5), 'Spawn'), []);
  assert.deepEqual(of(drive(h, 12_000, 0.5, { acceptQueue: 50 }), 'Spawn').map((spawn) => spawn.slot), [3]);
});

test('no autoscaling decision while a reload runs; it decides again once the reload is done', () => {
  const h = new Harness(autoscaled());
  h.boot();
  h.send({ type: 'ReloadRequested', requestId: 0, source: 'test' }, 0);
  // The reload's surge workers are made ready by drive(); hold on to one old worker so the reload stays open.
  const effects: Effect[] = [];
  for (let t = 1000; t <= 5000; t += 1000) {
    for (const worker of h.state.workers) if (worker.state === 'ready') h.send({ type: 'HeartbeatReceived', id: worker.id, stats: stats({ eventLoopUtilization: 0.99 }) }, t);
    effects.push(...h.send({ type: 'LoadSampled', acceptQueue: null }, t));
  }
  assert.ok(h.state.reload !== undefined, 'the reload is still running (its surge worker never became ready)');
  assert.deepEqual(decisions(effects), ['hold:rollout in progress:2->2'], 'logged once, when it begins');
  assert.equal(h.state.targetWorkers, 2);
});

test('the cgroup CPU quota and a measured memory limit cap the growth below MAX', () => {
  const quota = new Harness(autoscaled({ cpuCount: 3, memoryAllows: undefined }));
  quota.boot();
  const capped = drive(quota, 12_000, 1);
  assert.equal(quota.state.targetWorkers, 3);
  assert.ok(decisions(capped).includes('hold:at cpu quota:3->3'));
  const memory = new Harness(autoscaled());
  memory.boot();
  drive(memory, 12_000, 1, { memoryAllows: 2 });
  assert.equal(memory.state.targetWorkers, 2, 'the first measured RSS says only 2 fit');
  assert.equal(memory.state.autoscale?.last?.reason, 'at memory limit');
});

test('a manual scale stays within MIN..MAX: outside it is refused, inside it moves the count and restarts the cool-down', () => {
  const h = new Harness(autoscaled());
  h.boot();
  const refused = h.send({ type: 'ScaleRequested', requestId: 1, source: 'warden scale', workers: 6 }, 100);
  assert.match(of(refused, 'Notify')[0]?.message ?? '', /cannot scale to 6 workers: --workers 2\.\.4 keeps the count between 2 and 4/);
  assert.equal(of(refused, 'Notify')[0]?.done?.ok, false);
  assert.equal(of(h.send({ type: 'ScaleRequested', requestId: 2, source: 'SIGTTOU', delta: -1 }, 200), 'Notify')[0]?.done?.ok, false, 'below MIN is refused too');
  h.send({ type: 'ScaleRequested', requestId: 3, source: 'warden scale', workers: 3 }, 300);
  assert.equal(h.state.targetWorkers, 3);
  assert.equal(h.state.autoscale?.rule.changedAt, 300, 'the rule waits its cool-down before undoing the step');
});

test('a fixed --workers count never autoscales', () => {
  const h = new Harness({ workers: 2 });
  h.boot();
  const effects = drive(h, 12_000, 1);
  assert.equal(h.state.autoscale, undefined);
  assert.deepEqual(of(effects, 'Spawn'), []);
});
