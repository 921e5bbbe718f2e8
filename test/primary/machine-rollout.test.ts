// The state machine's rollouts with injected time: rolling reload, runtime scaling and upkeep
// recycling (--max-requests, --max-memory) all move a target, and one reconcile pass gets there
// through surge workers, never dropping below the target.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isInRotation, jitterFor, type MachineState } from '../../src/primary/machine/index.js';
import { Harness, of } from './machine-harness.js';

const inRotation = (state: MachineState) => state.workers.filter((worker) => isInRotation(state, worker)).length;

/** After boot: the count in rotation must never drop below the target for the rest of the test. */
function keepCapacity(h: Harness): void {
  h.afterStep = (state) => {
    if (state.phase === 'running') assert.ok(inRotation(state) >= state.targetWorkers, `capacity ${inRotation(state)} below target ${state.targetWorkers} at t=${h.now}`);
  };
}

function notified(h: Harness, requestId: number) {
  return of(h.effects, 'Notify').filter((notify) => notify.requestIds.includes(requestId));
}

describe('rolling reload', () => {
  test('replaces one slot at a time: a new worker starts, and only once it is ready does the old one drain', () => {
    const h = new Harness({ workers: 2 });
    const [a, b] = h.boot() as [number, number];
    h.tickUntil(1000);
    keepCapacity(h);
    const start = h.send({ type: 'ReloadRequested', requestId: 7, source: 'test' }, 1000);
    const first = of(start, 'Spawn');
    assert.deepEqual(first.map((s) => [s.slot, s.generation]), [[1, 2]], 'one surge worker, in slot 1, of generation 2');
    assert.equal(h.worker(a).state, 'ready');
    const [a2] = h.spawnAll(start) as [number];
    assert.equal(of(h.tickUntil(2000), 'Spawn').length, 0, 'slot 2 waits while slot 1 boots');
    const swap1 = h.send({ type: 'WorkerReady', id: a2 }, 2100);
    assert.deepEqual(of(swap1, 'Drain').map((d) => d.id), [a], 'the old slot-1 worker drains once its successor is ready');
    assert.equal(h.worker(a).condition, 'reload');
    const second = of(swap1, 'Spawn');
    assert.deepEqual(second.map((s) => [s.slot, s.generation]), [[2, 2]], 'then slot 2');
    const [b2] = h.spawnAll(swap1) as [number];
    h.send({ type: 'WorkerExited', id: a, code: 0, signal: null }, 2300);
    const swap2 = h.send({ type: 'WorkerReady', id: b2 }, 2500);
    assert.deepEqual(of(swap2, 'Drain').map((d) => d.id), [b]);
    const done = notified(h, 7).at(-1);
    assert.deepEqual(done?.done, { ok: true });
    assert.match(done?.message ?? '', /reload to generation 2 completed/);
    assert.equal(h.state.reload, undefined);
    assert.equal(h.state.lastReload?.outcome, 'completed');
    h.send({ type: 'WorkerExited', id: b, code: 0, signal: null }, 2600);
    assert.deepEqual(h.state.workers.map((w) => [w.slot, w.generation]).sort(), [[1, 2], [2, 2]]);
    assert.equal(h.state.slots[0]?.replacements.reload, 1);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 0, 'a reload is no failure');
  });

  test('with --min-ready leaving room, the reload rolls that many slots at once, each old worker draining once its successor is ready', () => {
    const h = new Harness({ workers: 4, minReady: { kind: 'count', count: 2 } });
    const [a, b, c, d] = h.boot() as [number, number, number, number];
    h.tickUntil(1000);
    keepCapacity(h);
    const start = h.send({ type: 'ReloadRequested', requestId: 4, source: 'test' }, 1000);
    assert.deepEqual(of(start, 'Spawn').map((s) => [s.slot, s.generation]), [[1, 2], [2, 2]], '4 workers, 2 required ready: 2 slots at once');
    assert.match(notified(h, 4)[0]?.message ?? '', /2 slots at a time/);
    const [a2, b2] = h.spawnAll(start) as [number, number];
    const swapA = h.send({ type: 'WorkerReady', id: a2 }, 1500);
    assert.deepEqual(of(swapA, 'Drain').map((x) => x.id), [a]);
    assert.deepEqual(of(swapA, 'Spawn').map((s) => s.slot), [3], 'slot 3 starts as soon as slot 1 is done: 2 surges at a time');
    const [c2] = h.spawnAll(swapA) as [number];
    const swapB = h.send({ type: 'WorkerReady', id: b2 }, 1600);
    assert.deepEqual(of(swapB, 'Drain').map((x) => x.id), [b]);
    const [d2] = h.spawnAll(swapB) as [number];
    h.send({ type: 'WorkerReady', id: c2 }, 2000);
    const last = h.send({ type: 'WorkerReady', id: d2 }, 2100);
    assert.deepEqual(of(last, 'Drain').map((x) => x.id), [d]);
    assert.equal(h.worker(c).condition, 'reload');
    assert.deepEqual(notified(h, 4).at(-1)?.done, { ok: true });
  });

  test('a parallel reload failing in one slot stops the replacements still booting in the others; the old workers keep serving', () => {
    const h = new Harness({ workers: 3, minReady: { kind: 'count', count: 1 } });
    const [a, b, c] = h.boot() as [number, number, number];
    h.tickUntil(1000);
    keepCapacity(h);
    const [a2, b2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 5, source: 'test' }, 1000)) as [number, number];
    h.send({ type: 'WorkerBootFailed', id: a2, error: { name: 'Error', message: 'boom' } }, 1200);
    const failed = h.send({ type: 'WorkerExited', id: a2, code: 1, signal: null }, 1250);
    assert.deepEqual(notified(h, 5).at(-1)?.done, { ok: false });
    assert.ok(of(failed, 'Signal').some((s) => s.id === b2 && s.signal === 'SIGTERM') || h.worker(b2).retiring, 'the other replacement is stopped');
    assert.deepEqual([a, b, c].map((id) => h.worker(id).state), ['ready', 'ready', 'ready']);
    assert.equal(of(h.tickUntil(30_000), 'Spawn').length, 0, 'nothing retried');
  });

  test('with one worker the new one is up before the old one drains', () => {
    const h = new Harness({ workers: 1 });
    const [a] = h.boot() as [number];
    keepCapacity(h);
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 1, source: 'test' }, 500)) as [number];
    assert.equal(h.worker(a).state, 'ready');
    const swap = h.send({ type: 'WorkerReady', id: a2 }, 900);
    assert.deepEqual(of(swap, 'Drain').map((d) => d.id), [a]);
  });

  test('new code that cannot boot stops the reload at that slot: old workers keep serving, nothing retried, the app error reported', () => {
    const h = new Harness({ workers: 2 });
    const [a, b] = h.boot() as [number, number];
    h.tickUntil(1000);
    keepCapacity(h);
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 3, source: 'test' }, 1000)) as [number];
    h.send({ type: 'WorkerBootFailed', id: a2, error: { name: 'WardenError', message: 'cannot load app "app.js": SyntaxError: Unexpected token', code: 'WARDEN_APP_LOAD' } }, 1200);
    h.send({ type: 'WorkerExited', id: a2, code: 1, signal: null }, 1250);
    const done = notified(h, 3).at(-1);
    assert.deepEqual(done?.done, { ok: false });
    assert.match(done?.message ?? '', /failed at slot 1: cannot load app "app.js": SyntaxError: Unexpected token; the old workers keep serving/);
    assert.equal(h.state.phase, 'running', 'no halt');
    assert.deepEqual([h.worker(a).state, h.worker(b).state], ['ready', 'ready']);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 0, 'not counted toward a crash loop');
    assert.equal(of(h.tickUntil(60_000), 'Spawn').length, 0, 'no retry loop');
    assert.deepEqual(h.state.lastReload && { outcome: h.state.lastReload.outcome, slot: h.state.lastReload.slot }, { outcome: 'failed', slot: 1 });
  });

  test('a new worker that never becomes ready within the boot timeout fails the reload', () => {
    const h = new Harness({ workers: 2, bootTimeoutMs: 3000 });
    h.boot();
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 4, source: 'test' }, 1000)) as [number];
    const effects = h.tickUntil(4100, [a2]);
    assert.deepEqual(of(effects, 'Signal').filter((s) => s.id === a2).map((s) => s.signal), ['SIGKILL']);
    assert.deepEqual(notified(h, 4).at(-1)?.done, { ok: false });
    assert.match(notified(h, 4).at(-1)?.message ?? '', /did not become ready within 3\.0s/);
    assert.equal(h.state.phase, 'running');
  });

  test('with --probe-path the new worker takes no traffic and the old one stays until its first probe passes', () => {
    const h = new Harness({ workers: 1, probeEnabled: true });
    const [a] = h.boot() as [number];
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 5, source: 'test' }, 500)) as [number];
    const ready = h.send({ type: 'WorkerReady', id: a2 }, 900);
    assert.deepEqual(of(ready, 'Probe').map((p) => p.id), [a2], 'probed at once');
    assert.equal(isInRotation(h.state, h.worker(a2)), false);
    assert.equal(of(ready, 'Drain').length, 0);
    const passed = h.send({ type: 'ProbeSucceeded', id: a2 }, 950);
    assert.equal(isInRotation(h.state, h.worker(a2)), true);
    assert.deepEqual(of(passed, 'Drain').map((d) => d.id), [a]);
  });

  test('a new worker failing its first probe fails the reload and is stopped; the old one keeps serving', () => {
    const h = new Harness({ workers: 1, probeEnabled: true });
    const [a] = h.boot() as [number];
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 6, source: 'test' }, 500)) as [number];
    h.send({ type: 'WorkerReady', id: a2 }, 900);
    const failed = h.send({ type: 'ProbeFailed', id: a2, reason: 'HTTP 500' }, 950);
    assert.deepEqual(of(failed, 'Drain').map((d) => d.id), [a2]);
    assert.equal(isInRotation(h.state, h.worker(a)), true);
    assert.deepEqual(notified(h, 6).at(-1)?.done, { ok: false });
    assert.match(notified(h, 6).at(-1)?.message ?? '', /probe failed: HTTP 500/);
  });

  test('a reload asked during a reload is queued (at most one waits) and runs after, never interleaved', () => {
    const h = new Harness({ workers: 2 });
    h.boot();
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 1, source: 'test' }, 1000)) as [number];
    const queued = h.send({ type: 'ReloadRequested', requestId: 2, source: 'test' }, 1100);
    assert.equal(of(queued, 'Spawn').length, 0, 'nothing starts for the queued reload');
    assert.match(notified(h, 2)[0]?.message ?? '', /queued/);
    h.send({ type: 'ReloadRequested', requestId: 3, source: 'test' }, 1150);
    assert.match(notified(h, 3)[0]?.message ?? '', /already queued/);
    const surges = () => h.state.workers.filter((w) => w.surgeFor !== undefined).length;
    h.afterStep = () => assert.ok(surges() <= 1, 'one surge worker at a time');
    const [b2] = h.spawnAll(h.send({ type: 'WorkerReady', id: a2 }, 1500)) as [number];
    const next = h.send({ type: 'WorkerReady', id: b2 }, 2000);
    assert.deepEqual(notified(h, 1).at(-1)?.done, { ok: true });
    const third = of(next, 'Spawn');
    assert.deepEqual(third.map((s) => [s.slot, s.generation]), [[1, 3]], 'the queued reload starts with generation 3');
    const [a3] = h.spawnAll(next) as [number];
    const [b3] = h.spawnAll(h.send({ type: 'WorkerReady', id: a3 }, 2500)) as [number];
    h.send({ type: 'WorkerReady', id: b3 }, 3000);
    assert.deepEqual(notified(h, 2).at(-1)?.done, { ok: true });
    assert.deepEqual(notified(h, 3).at(-1)?.done, { ok: true }, 'the joined request gets the same outcome');
    assert.equal(h.state.reloads.completed, 2);
  });

  test('a worker that stalls during a reload is replaced by the new generation and the reload still completes', () => {
    const h = new Harness({ workers: 2 });
    const [, b] = h.boot() as [number, number];
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 8, source: 'test' }, 1000)) as [number];
    const effects = h.tickUntil(6500, [b, a2]);
    assert.deepEqual(of(effects, 'Signal').filter((s) => s.id === b).map((s) => s.signal), ['SIGKILL'], 'the stalled old worker is killed');
    const refill = [...effects, ...h.send({ type: 'WorkerExited', id: b, code: null, signal: 'SIGKILL' }, 6600), ...h.tickUntil(7000, [a2])];
    const replacement = of(refill, 'Spawn').find((s) => s.slot === 2);
    assert.equal(replacement?.generation, 2, 'the stalled slot gets the new code directly');
    const [b2] = h.spawnAll(refill.filter((e) => e.type === 'Spawn' && e.slot === 2)) as [number];
    h.send({ type: 'WorkerReady', id: b2 }, 7100);
    h.send({ type: 'WorkerReady', id: a2 }, 7200);
    assert.deepEqual(notified(h, 8).at(-1)?.done, { ok: true });
  });

  test('an old worker that crashes while its successor boots leaves the slot to the successor', () => {
    const h = new Harness({ workers: 2 });
    const [a] = h.boot() as [number, number];
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 9, source: 'test' }, 1000)) as [number];
    const crash = h.send({ type: 'WorkerExited', id: a, code: 1, signal: null }, 1100);
    assert.equal(of(crash, 'Spawn').length, 0, 'no second worker for slot 1: the successor holds it');
    const [b2] = h.spawnAll(h.send({ type: 'WorkerReady', id: a2 }, 1500)) as [number];
    h.send({ type: 'WorkerReady', id: b2 }, 2000);
    assert.deepEqual(notified(h, 9).at(-1)?.done, { ok: true });
  });

  test('SIGTERM during a reload stops it, tells whoever waits, and drains every worker', () => {
    const h = new Harness({ workers: 2 });
    h.boot();
    const [a2] = h.spawnAll(h.send({ type: 'ReloadRequested', requestId: 10, source: 'test' }, 1000)) as [number];
    h.send({ type: 'ReloadRequested', requestId: 11, source: 'test' }, 1050);
    const stop = h.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 1100);
    assert.deepEqual(notified(h, 10).at(-1)?.done, { ok: false });
    assert.deepEqual(notified(h, 11).at(-1)?.done, { ok: false });
    assert.equal(h.state.lastReload?.outcome, 'aborted');
    assert.equal(of(stop, 'Drain').length, 2);
    assert.deepEqual(of(stop, 'Signal').map((s) => [s.id, s.signal]), [[a2, 'SIGTERM']], 'the booting surge worker is told to exit');
    for (const worker of [...h.state.workers]) h.send({ type: 'WorkerExited', id: worker.id, code: 0, signal: null }, 1500);
    assert.equal(h.state.phase, 'exited');
  });

  test('a reload asked while stopping is refused at once', () => {
    const h = new Harness({ workers: 1 });
    h.boot();
    h.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 100);
    h.send({ type: 'ReloadRequested', requestId: 12, source: 'test' }, 200);
    assert.deepEqual(notified(h, 12).at(-1)?.done, { ok: false });
  });
});

describe('scaling', () => {
  test('scaling up starts new slots and completes when they serve; new workers learn the new count', () => {
    const h = new Harness({ workers: 2 });
    h.boot();
    const up = h.send({ type: 'ScaleRequested', requestId: 1, source: 'test', workers: 4 }, 1000);
    assert.deepEqual(of(up, 'Spawn').map((s) => [s.slot, s.workerCount]), [[3, 4], [4, 4]]);
    assert.equal(h.state.targetWorkers, 4);
    const [c, d] = h.spawnAll(up) as [number, number];
    h.send({ type: 'WorkerReady', id: c }, 1200);
    assert.equal(notified(h, 1).at(-1)?.done, undefined, 'not done while slot 4 boots');
    h.send({ type: 'WorkerReady', id: d }, 1300);
    assert.deepEqual(notified(h, 1).at(-1)?.done, { ok: true });
    assert.equal(inRotation(h.state), 4);
  });

  test('scaling down drains the highest slots first and completes once they exited', () => {
    const h = new Harness({ workers: 4 });
    const ids = h.boot();
    const down = h.send({ type: 'ScaleRequested', requestId: 2, source: 'test', delta: -2 }, 1000);
    assert.deepEqual(of(down, 'Drain').map((d) => h.worker(d.id).slot), [4, 3], 'highest slot first');
    assert.equal(h.worker(ids[3] as number).condition, 'scale');
    assert.equal(of(h.tickUntil(2000), 'Spawn').length, 0, 'drained slots are not refilled');
    h.send({ type: 'WorkerExited', id: ids[3] as number, code: 0, signal: null }, 2100);
    h.send({ type: 'WorkerExited', id: ids[2] as number, code: 0, signal: null }, 2200);
    assert.deepEqual(notified(h, 2).at(-1)?.done, { ok: true });
    assert.deepEqual(h.state.slots.map((s) => s.slot), [1, 2]);
  });

  test('SIGTTIN and SIGTTOU step the count by one; below 1 and above 1024 are refused', () => {
    const h = new Harness({ workers: 1 });
    h.boot();
    h.send({ type: 'ScaleRequested', requestId: 0, source: 'SIGTTIN', delta: 1 }, 100);
    assert.equal(h.state.targetWorkers, 2);
    h.send({ type: 'ScaleRequested', requestId: 0, source: 'SIGTTOU', delta: -1 }, 200);
    assert.equal(h.state.targetWorkers, 1);
    const refused = h.send({ type: 'ScaleRequested', requestId: 3, source: 'SIGTTOU', delta: -1 }, 300);
    assert.equal(h.state.targetWorkers, 1);
    assert.match(of(refused, 'Log').map((l) => l.msg).join('\n'), /cannot scale to 0 workers: at least 1 is needed/);
    assert.deepEqual(notified(h, 3).at(-1)?.done, { ok: false });
    h.send({ type: 'ScaleRequested', requestId: 4, source: 'test', workers: 1025 }, 400);
    assert.match(notified(h, 4).at(-1)?.message ?? '', /at most 1024/);
    assert.equal(h.state.targetWorkers, 1);
  });

  test('a scaled-up slot whose worker cannot start fails the scale request', () => {
    const h = new Harness({ workers: 1 });
    h.boot();
    const [c] = h.spawnAll(h.send({ type: 'ScaleRequested', requestId: 5, source: 'test', workers: 2 }, 100)) as [number];
    h.send({ type: 'WorkerBootFailed', id: c, error: { name: 'Error', message: 'boom' } }, 200);
    h.send({ type: 'WorkerExited', id: c, code: 1, signal: null }, 250);
    assert.deepEqual(notified(h, 5).at(-1)?.done, { ok: false });
    assert.match(notified(h, 5).at(-1)?.message ?? '', /worker 2 could not start: boom/);
  });
});

describe('upkeep recycling', () => {
  test('--max-requests with jitter gives workers different limits, within N..N+J', () => {
    const limits = Array.from({ length: 40 }, (_, index) => jitterFor(index + 1, 50));
    assert.ok(limits.every((limit) => limit >= 0 && limit <= 50));
    assert.ok(new Set(limits).size > 10, `limits are spread: ${limits.join(',')}`);
    const h = new Harness({ workers: 2, maxRequests: 200, maxRequestsJitter: 50 });
    const [a, b] = h.boot() as [number, number];
    const [la, lb] = [h.worker(a).maxRequests, h.worker(b).maxRequests];
    assert.ok(la >= 200 && la <= 250 && lb >= 200 && lb <= 250);
    assert.equal(jitterFor(1, 0), 0);
  });

  test('a worker that served its --max-requests keeps serving until its replacement is ready, then drains; not a failure', () => {
    const h = new Harness({ workers: 2, maxRequests: 100 });
    const [a, b] = h.boot() as [number, number];
    keepCapacity(h);
    h.send({ type: 'HeartbeatReceived', id: a, stats: { ...baseStats(), served: 100 } }, 250);
    const effects = h.send({ type: 'Tick' }, 300);
    const surge = of(effects, 'Spawn');
    assert.deepEqual(surge.map((s) => s.slot), [1]);
    const [a2] = h.spawnAll(effects) as [number];
    h.send({ type: 'HeartbeatReceived', id: b, stats: { ...baseStats(), served: 150 } }, 350);
    assert.equal(of(h.send({ type: 'Tick' }, 400), 'Spawn').length, 0, 'one surge at a time: slot 2 waits');
    const swap = h.send({ type: 'WorkerReady', id: a2 }, 600);
    assert.deepEqual(of(swap, 'Drain').map((d) => d.id), [a]);
    assert.equal(h.worker(a).condition, 'max-requests');
    assert.deepEqual(of(swap, 'Spawn').map((s) => s.slot), [2], 'then slot 2 gets its turn');
    assert.equal(h.state.slots[0]?.replacements['max-requests'], 1);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 0);
  });

  test('an upkeep replacement that cannot start leaves the old worker serving and never halts warden', () => {
    const h = new Harness({ workers: 1, maxRequests: 10, maxRestarts: 2 });
    const [a] = h.boot() as [number];
    for (let round = 0; round < 6; round++) {
      const t = h.now + 20_000;
      h.send({ type: 'HeartbeatReceived', id: a, stats: { ...baseStats(), served: 50 } }, t);
      const spawned = h.spawnAll(h.send({ type: 'Tick' }, t + 50));
      for (const id of spawned) {
        h.send({ type: 'WorkerBootFailed', id, error: { name: 'Error', message: 'broken' } }, t + 100);
        h.send({ type: 'WorkerExited', id, code: 1, signal: null }, t + 150);
      }
    }
    assert.equal(h.state.phase, 'running');
    assert.equal(isInRotation(h.state, h.worker(a)), true);
  });
});

function baseStats() {
  return {
    loopDelayMs: 1, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 0, lastFinishedAgoMs: 10, unansweredCount: 0, unansweredForMs: 0, slowestRecentMs: 5,
    answeredRecent: 0, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 1, heapUsedBytes: 1,
  };
}
