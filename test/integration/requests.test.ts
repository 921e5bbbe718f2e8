// Hung requests and per-worker probes: --request-timeout answers 504 and recycles a worker whose
// requests all hang; --probe-path recycles only the worker whose probe fails.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, startWarden, waitFor } from './harness.js';

test('a request with no response gets 504 after --request-timeout', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--request-timeout', '1']);
  const started = Date.now();
  const answer = await get(warden.port, '/hang', 10_000);
  const took = Date.now() - started;
  assert.equal(answer.status, 504);
  assert.match(answer.body, /--request-timeout/);
  assert.ok(took >= 900 && took < 5000, `answered after ${took} ms`);
  assert.equal((await get(warden.port, '/')).status, 200, 'the worker still serves');
});

test('a worker whose requests all hang past --request-timeout is recycled; the other is untouched', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--request-timeout', '0.5', '--stuck-after', '0', '--graceful-timeout', '2']);
  const { workers } = await warden.workers();
  const poisoned = JSON.parse((await get(warden.port, '/poison')).body) as { pid: number };
  const healthy = workers.find((w) => w.pid !== poisoned.pid);
  const statuses = await Promise.all(Array.from({ length: 12 }, () => get(warden.port, '/', 10_000).then((a) => a.status, () => 0)));
  assert.ok(statuses.includes(504), 'the poisoned worker answered 504s');
  const slot = workers.find((w) => w.pid === poisoned.pid)?.slot as number;
  await waitFor('the poisoned worker to be replaced', async () => {
    const current = (await warden.workers()).workers.find((w) => w.slot === slot && w.state === 'ready');
    return current !== undefined && current.pid !== poisoned.pid;
  }, 15_000);
  assert.match(warden.output(), /is unhealthy: its last \d+ requests all timed out/);
  assert.equal((await warden.workers()).workers.find((w) => w.slot === healthy?.slot)?.pid, healthy?.pid);
});

test('a worker failing its --probe-path is recycled, the other untouched', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--probe-path', '/probe', '--probe-interval', '0.3', '--probe-timeout', '0.3', '--probe-failures', '2', '--graceful-timeout', '2']);
  const { workers } = await warden.workers();
  const failing = JSON.parse((await get(warden.port, '/fail-probe')).body) as { pid: number };
  const failingSlot = workers.find((w) => w.pid === failing.pid)?.slot as number;
  const other = workers.find((w) => w.pid !== failing.pid);
  await waitFor('the failing worker to be replaced', async () => {
    const current = (await warden.workers()).workers.find((w) => w.slot === failingSlot && w.state === 'ready');
    return current !== undefined && current.pid !== failing.pid;
  }, 15_000);
  assert.match(warden.output(), /probe of worker \d failed \(2\/2\): answered 500/);
  const after = (await warden.workers()).workers.find((w) => w.slot === other?.slot);
  assert.equal(after?.pid, other?.pid, 'the worker that passes its probes keeps running');
  assert.equal(after?.restarts, 0);
});
