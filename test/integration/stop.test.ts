// Stopping: SIGTERM lets in-flight requests finish; a primary killed with SIGKILL leaves no worker.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { descendants, fixture, get, isAlive, openConnection, rawRequest, startWarden, waitFor, withDeadline } from './harness.js';

test('SIGTERM during a slow request: the request completes with 200, then warden exits 0 and no worker is left', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const { workers } = await warden.workers();
  const slow = get(warden.port, '/slow', 10_000);
  await waitFor('the slow request to be in flight', async () => (await warden.workers()).workers.some((w) => w.served === 0 && (w as unknown as { inFlight: number }).inFlight > 0) || undefined);
  process.kill(warden.pid, 'SIGTERM');
  const answer = await slow;
  assert.equal(answer.status, 200, 'the in-flight request finished');
  assert.equal(JSON.parse(answer.body).path, '/slow');
  const exit = await warden.exit(15_000);
  assert.deepEqual(exit, { code: 0, signal: null }, `warden exits 0; output:\n${warden.output()}`);
  for (const worker of workers) assert.equal(isAlive(worker.pid as number), false, `worker ${worker.pid} is gone`);
  await warden.processes.expectAllGone('after warden exited 0');
  await assert.rejects(get(warden.port, '/', 1000), 'the port no longer accepts connections');
});

test('a primary killed with SIGKILL leaves no worker behind', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const pids = descendants(warden.pid);
  assert.ok(pids.length >= 2, 'workers are running');
  process.kill(warden.pid, 'SIGKILL');
  await warden.processes.expectAllGone('after the primary was killed with SIGKILL', 5000);
});

test('a primary killed with SIGKILL while a worker busy-loops leaves no worker behind', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2']);
  const pids = descendants(warden.pid);
  // The spinning worker never runs its event loop again, so only its watchdog thread can notice.
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  await waitFor('a worker to be busy', async () => (await warden.workers()).workers.some((w) => w.state !== 'ready') || undefined, 5000);
  process.kill(warden.pid, 'SIGKILL');
  assert.ok(pids.length >= 2, 'workers are running');
  await warden.processes.expectAllGone('after the primary was killed with SIGKILL', 5000);
});

test('SIGTERM closes an idle keep-alive connection once it has been quiet for a second, while a slow request on another one still runs and ends with Connection: close', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--graceful-timeout', '30']);
  // Two connections: one left idle after a request, one busy with a 4 s request.
  const idle = await openConnection(warden.port);
  const busy = await openConnection(warden.port);
  t.after(() => {
    idle.destroy();
    busy.destroy();
  });
  assert.match((await withDeadline(rawRequest(idle, '/'), 5000, 'the first answer')).head, /^HTTP\/1\.1 200/);
  const idleClosed = once(idle, 'close').then(() => Date.now());
  const slow = rawRequest(busy, '/slow?ms=4000').then(({ head }) => ({ head, at: Date.now() }));
  await waitFor('the slow request to be in flight', async () => ((await warden.workers()).workers[0] as unknown as { inFlight: number }).inFlight > 0 || undefined);
  const stoppedAt = Date.now();
  process.kill(warden.pid, 'SIGTERM');
  const idleClosedAt = await withDeadline(idleClosed, 10_000, 'the idle connection to close');
  const answer = await withDeadline(slow, 10_000, 'the slow answer');
  assert.ok(idleClosedAt < answer.at, `the idle connection closed ${idleClosedAt - stoppedAt} ms after SIGTERM, before the slow answer (${answer.at - stoppedAt} ms)`);
  assert.match(answer.head, /^HTTP\/1\.1 200/);
  assert.match(answer.head, /\r\nconnection: close/i, 'the in-flight response tells the client not to reuse the connection');
  const exit = await warden.exit(15_000);
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - stoppedAt < 15_000, `exited ${Date.now() - stoppedAt} ms after SIGTERM, not at the 30 s graceful timeout`);
});
