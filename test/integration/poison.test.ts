// The poisoned worker: its event loop runs and /health answers, but every other request hangs.
// With default flags warden sees that it answers nothing while its peer answers, takes it out of
// rotation, replaces it, and throughput comes back. Apps that hold requests on purpose (long polls,
// SSE streams) are left alone.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, getJson, startLoad, startWarden, throughput, waitFor } from './harness.js';

const STUCK_AFTER_MS = 10_000;

for (const keepAlive of [false, true]) {
  test(`a poisoned worker is out of rotation and replaced within --stuck-after + margin (${keepAlive ? 'keep-alive' : 'new connection per request'}), default flags`, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2']);
    // Clients give up after 2 s, as real ones do; their abandoned requests still count as unanswered.
    const load = startLoad(warden.port, { concurrency: 6, keepAlive, timeoutMs: 2000, maxMs: 60_000, ratePerLoop: 40 });
    t.after(() => load.stop());
    const warmupFrom = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const before = throughput(load.samples, warmupFrom + 1000, Date.now());
    const poisoned = JSON.parse((await get(warden.port, '/poison')).body) as { pid: number };
    const poisonedAt = Date.now();
    const { workers } = await warden.workers();
    const slot = workers.find((w) => w.pid === poisoned.pid)?.slot as number;

    let sawNotReady = false;
    const replacedAt = await waitFor('the poisoned worker to be replaced', async () => {
      if ((await getJson(warden.adminPort, '/readyz')).status === 503) sawNotReady = true;
      const current = (await warden.workers()).workers.find((w) => w.slot === slot && w.state === 'ready');
      return current !== undefined && current.pid !== poisoned.pid ? Date.now() : undefined;
    }, STUCK_AFTER_MS + 15_000, 100);
    const settled = Date.now() + 1000;
    await new Promise((resolve) => setTimeout(resolve, 4000));
    const samples = await load.stop();
    const after = throughput(samples, settled, Date.now());

    t.diagnostic(`replaced ${replacedAt - poisonedAt} ms after the poison; ${before.toFixed(0)} req/s before, ${after.toFixed(0)} after`);
    assert.ok(replacedAt - poisonedAt < STUCK_AFTER_MS + 6000, `replaced ${replacedAt - poisonedAt} ms after the poison`);
    assert.ok(sawNotReady, '/readyz was 503 while the worker was stuck');
    assert.ok(after >= 0.9 * before, `throughput came back: ${after.toFixed(0)} req/s after vs ${before.toFixed(0)} before`);
    assert.match(warden.output(), /is stuck: \d+ request\(s\) in \d+\.\ds and not one answered/);
    const stillPoisoned = (await warden.workers()).workers.find((w) => w.pid === poisoned.pid);
    assert.ok(stillPoisoned === undefined || stillPoisoned.inRotation === false, 'the stuck worker gets no new connections');
  });
}

test('long polls and SSE streams held on purpose for 30 s under concurrent clients recycle no worker (40 s, default flags)', async (t) => {
  const longPoll = await startWarden(t, [fixture('long-poll.mjs'), '--workers', '2']);
  const sse = await startWarden(t, [fixture('sse.mjs'), '--workers', '2']);
  const pidsBefore = [(await longPoll.workers()).workers.map((w) => w.pid), (await sse.workers()).workers.map((w) => w.pid)];
  const loads = [
    startLoad(longPoll.port, { concurrency: 6, timeoutMs: 40_000, maxMs: 40_000 }),
    startLoad(sse.port, { concurrency: 6, timeoutMs: 40_000, maxMs: 40_000 }),
  ];
  t.after(() => Promise.all(loads.map((load) => load.stop())));
  await new Promise((resolve) => setTimeout(resolve, 40_000));
  const [pollSamples, sseSamples] = await Promise.all(loads.map((load) => load.stop()));
  // Samples are recorded when a long poll or stream completes; the ones cut by stop() are not.
  assert.ok((pollSamples?.filter((s) => s.ok).length ?? 0) >= 6, 'long polls were answered');
  assert.ok((sseSamples?.filter((s) => s.ok).length ?? 0) >= 6, 'SSE streams completed');
  const pidsAfter = [(await longPoll.workers()).workers.map((w) => w.pid), (await sse.workers()).workers.map((w) => w.pid)];
  assert.deepEqual(pidsAfter, pidsBefore, 'no worker was replaced');
  for (const warden of [longPoll, sse]) {
    assert.doesNotMatch(warden.output(), /stuck|unhealthy|stalled/, 'no worker was judged sick');
    for (const worker of (await warden.workers()).workers) assert.equal(worker.restarts, 0);
  }
});
