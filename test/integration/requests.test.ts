// Hung requests and per-worker probes: --request-timeout answers 504 and recycles a worker whose
// requests all hang; --probe-path recycles only the worker whose probe fails.

import assert from 'node:assert/strict';
import { request } from 'node:http';
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
  // Five timeouts in a row make the verdict. With --balance shared the kernel may give the poisoned
  // worker only a few of a batch of connections: send batches until it has timed out five requests.
  let timeouts = 0;
  for (let batch = 0; batch < 10 && timeouts < 5; batch++) {
    const statuses = await Promise.all(Array.from({ length: 12 }, () => get(warden.port, '/', 10_000).then((a) => a.status, () => 0)));
    timeouts += statuses.filter((status) => status === 504).length;
  }
  assert.ok(timeouts >= 5, `the poisoned worker answered five 504s (${timeouts})`);
  const slot = workers.find((w) => w.pid === poisoned.pid)?.slot as number;
  await waitFor('the poisoned worker to be replaced', async () => {
    const current = (await warden.workers()).workers.find((w) => w.slot === slot && w.state === 'ready');
    return current !== undefined && current.pid !== poisoned.pid;
  }, 15_000);
  await warden.expectOutput(/is unhealthy: its last \d+ requests all timed out/);
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
  await warden.expectOutput(/probe of worker \d failed \(2\/2\): answered 500/);
  const after = (await warden.workers()).workers.find((w) => w.slot === other?.slot);
  assert.equal(after?.pid, other?.pid, 'the worker that passes its probes keeps running');
  assert.equal(after?.restarts, 0);
});

test('--request-timeout cuts the connection of a response whose headers were already sent', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--request-timeout', '1']);
  const started = Date.now();
  const outcome = await new Promise<{ status: number; body: string; complete: boolean; ms: number }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: warden.port, path: '/headers-then-hang', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      // 'close' without 'end': the server cut the connection mid-body.
      res.on('error', () => undefined);
      res.on('close', () => resolve({ status: res.statusCode ?? 0, body, complete: res.complete, ms: Date.now() - started }));
    });
    req.setTimeout(15_000, () => req.destroy(new Error('the connection was never cut')));
    req.on('error', reject);
    req.end();
  });
  assert.equal(outcome.status, 200, 'the headers the app sent stand: no 504 can follow them');
  assert.equal(outcome.body, 'first chunk\n');
  assert.equal(outcome.complete, false, 'the response was cut, not ended');
  assert.ok(outcome.ms >= 900 && outcome.ms < 10_000, `cut after ${outcome.ms} ms`);
  assert.equal((await get(warden.port, '/')).status, 200, 'the worker still serves');
});

test('--probe-timeout: a probe answered after 1 s fails with a 0.5 s timeout, and the slow worker is recycled', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--probe-path', '/probe', '--probe-interval', '0.6', '--probe-timeout', '0.5', '--probe-failures', '2', '--graceful-timeout', '2']);
  const { workers } = await warden.workers();
  const slowed = JSON.parse((await get(warden.port, '/slow-probe')).body) as { pid: number };
  const slot = workers.find((w) => w.pid === slowed.pid)?.slot as number;
  const other = workers.find((w) => w.pid !== slowed.pid);
  await waitFor('the slow-probing worker to be replaced', async () => {
    const current = (await warden.workers()).workers.find((w) => w.slot === slot && w.state === 'ready');
    return current !== undefined && current.pid !== slowed.pid;
  }, 20_000);
  // Either two probes in a row fail, or the worker's slow probes leave it suspect first (they are
  // requests it holds unanswered while its peer answers) and one failed probe is then the evidence.
  await warden.expectOutput(new RegExp(`probe of (worker ${slot} failed \\(2/2\\)|suspect worker ${slot} failed): no answer within 500ms`));
  assert.equal((await warden.workers()).workers.find((w) => w.slot === other?.slot)?.pid, other?.pid, 'the other worker is untouched');
});

test('the default --probe-timeout (2 s) lets the same 1 s probe pass', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '1', '--probe-path', '/probe', '--probe-interval', '2', '--probe-failures', '2']);
  const { workers } = await warden.workers();
  await get(warden.port, '/slow-probe');
  // Two probes answered after 1 s each (the app counts them): with a timeout under 1 s the second
  // would have been the last failure allowed, and the worker recycled.
  await waitFor('two slow probes answered', async () => (JSON.parse((await get(warden.port, '/probes')).body) as { slowProbes: number }).slowProbes >= 2 || undefined, 20_000);
  assert.doesNotMatch(warden.output(), /probe of worker 1 failed/);
  assert.equal((await warden.workers()).workers[0]?.pid, workers[0]?.pid, 'not recycled');
});
