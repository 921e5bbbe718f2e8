// The quarantine as every view shows it, from machine states fed plain numbers: the display state
// /workers, /readyz, `warden status` and the dashboard share, the `/workers` suspicion, the metrics
// (the per-worker gauge, quarantines begun and how they ended), and the machine's counts behind them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WardenMetrics } from '../../src/primary/admin/metrics.js';
import { displayState, readyz, workerView } from '../../src/primary/admin/report.js';
import type { MachineState } from '../../src/primary/machine/index.js';
import { DISPLAY_STATES } from '../../src/protocol/admin.js';
import { Harness, stats } from './machine-harness.js';

/** Two ready workers; `a` silent since 10 000 with 5 requests while `b` answers: `a` quarantined at 11 050. */
function quarantinedPair() {
  const h = new Harness();
  const [a, b] = h.boot() as [number, number];
  h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: 5, answeredRecent: 500, slowestRecentMs: 20 }) }, 11_000);
  h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1000) }, 11_000);
  h.send({ type: 'Tick' }, 11_050);
  return { h, a, b };
}
const silentA = (silentMs: number) => stats({ served: 400, unansweredCount: 5, unansweredForMs: silentMs, waiting: 5, lastFinishedAgoMs: silentMs + 5, answeredRecent: 300, slowestRecentMs: 20 });

async function scrape(state: MachineState, now: number): Promise<string> {
  const metrics = new WardenMetrics({
    state: () => state, now: () => now, connections: () => ({ accepted: 0, held: 0, dropped: 0 }), logDrops: () => ({ stdout: 0, stderr: 0 }), appMetrics: () => [], acceptQueue: () => null,
  });
  return metrics.render();
}
const line = (text: string, series: string) => text.split('\n').find((candidate) => candidate.startsWith(series));

test('a quarantined worker has its own display state, out of rotation; its peer stays ready', () => {
  assert.ok(DISPLAY_STATES.includes('quarantined'));
  const { h, a, b } = quarantinedPair();
  assert.equal(displayState(h.worker(a)), 'quarantined');
  assert.equal(displayState(h.worker(b)), 'ready');
  const view = workerView(h.state, h.worker(a), 12_050, { pendingHandoffs: 0, inspectPort: null });
  assert.equal(view.state, 'quarantined');
  assert.equal(view.inRotation, false);
  assert.deepEqual({ ...view.suspicion, reason: undefined }, { isQuarantined: true, suspectForMs: 1000, quarantinedForMs: 1000, reason: undefined, evidence: null });
  const missing = (readyz(h.state, 2).body as { missing: { slot: number; state: string }[] }).missing;
  assert.deepEqual(missing.map((m) => [m.slot, m.state]), [[h.worker(a).slot, 'quarantined']], '/readyz names it with the same word');
});

test('metrics: warden_worker_quarantined is 1 for the quarantined worker only; warden_workers{state="quarantined"} counts it', async () => {
  const { h, a, b } = quarantinedPair();
  const text = await scrape(h.state, 12_000);
  assert.equal(line(text, `warden_worker_quarantined{slot="${h.worker(a).slot}",generation="1"}`)?.split(' ')[1], '1');
  assert.equal(line(text, `warden_worker_quarantined{slot="${h.worker(b).slot}",generation="1"}`)?.split(' ')[1], '0');
  assert.equal(line(text, 'warden_workers{state="quarantined"}')?.split(' ')[1], '1');
  assert.equal(line(text, 'warden_workers{state="ready"}')?.split(' ')[1], '1');
  assert.equal(line(text, 'warden_worker_quarantines_total ')?.split(' ')[1], '1');
  assert.equal(line(text, 'warden_worker_quarantine_ends_total{outcome="released"}')?.split(' ')[1], '0');
});

test('each quarantine ends once, by outcome: released when it answers, recycled on evidence, exited when the worker goes', async () => {
  const released = quarantinedPair();
  released.h.send({ type: 'HeartbeatReceived', id: released.a, stats: silentA(100) }, 11_250);
  released.h.send({ type: 'Tick' }, 11_300);
  assert.deepEqual(released.h.state.quarantines, { started: 1, ended: { released: 1, recycled: 0, returned: 0, exited: 0 } });
  assert.equal(line(await scrape(released.h.state, 11_300), 'warden_worker_quarantine_ends_total{outcome="released"}')?.split(' ')[1], '1');

  const recycled = quarantinedPair();
  recycled.h.send({ type: 'HeartbeatReceived', id: recycled.b, stats: stats({ served: 950, lastFinishedAgoMs: 5, answeredRecent: 550 }) }, 11_900);
  recycled.h.send({ type: 'HeartbeatReceived', id: recycled.a, stats: silentA(2000) }, 12_000);
  recycled.h.send({ type: 'Tick' }, 12_050);
  assert.equal(recycled.h.worker(recycled.a).condition, 'stuck');
  recycled.h.send({ type: 'WorkerExited', id: recycled.a, code: 0, signal: null }, 12_500);
  assert.deepEqual(recycled.h.state.quarantines.ended, { released: 0, recycled: 1, returned: 0, exited: 0 }, 'its exit after the recycle is not counted again');

  const crashed = quarantinedPair();
  crashed.h.send({ type: 'WorkerExited', id: crashed.a, code: 1, signal: null }, 11_500);
  assert.deepEqual(crashed.h.state.quarantines.ended, { released: 0, recycled: 0, returned: 0, exited: 1 });
});
