// Stopping: SIGTERM lets in-flight requests finish; a primary killed with SIGKILL leaves no worker.

import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { descendants, fixture, get, isAlive, startWarden, waitFor } from './harness.js';

test('SIGTERM during a slow request: the request completes with 200, then warden exits 0 and no worker is left', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const { workers } = await warden.workers();
  const slow = get(warden.port, '/slow', 10_000);
  await waitFor('the slow request to be in flight', async () => (await warden.workers()).workers.some((w) => w.served === 0 && (w as unknown as { inFlight: number }).inFlight > 0) || undefined);
  process.kill(warden.pid, 'SIGTERM');
  const answer = await slow;
  assert.equal(answer.status, 200, 'the in-flight request finished');
  assert.equal(JSON.parse(answer.body).path, '/slow');
  const exit = await warden.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, `warden exits 0; output:\n${warden.output()}`);
  for (const worker of workers) assert.equal(isAlive(worker.pid as number), false, `worker ${worker.pid} is gone`);
  await assert.rejects(get(warden.port, '/', 1000), 'the port no longer accepts connections');
});

test('a primary killed with SIGKILL leaves no worker behind', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const pids = descendants(warden.pid);
  assert.ok(pids.length >= 2, 'workers are running');
  process.kill(warden.pid, 'SIGKILL');
  await waitFor('every worker to exit', () => pids.every((pid) => !isAlive(pid)) || undefined, 5000);
});

test('a primary killed with SIGKILL while a worker busy-loops leaves no worker behind', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2']);
  const pids = descendants(warden.pid);
  // The spinning worker never runs its event loop again, so only its watchdog thread can notice.
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  await waitFor('a worker to be busy', async () => (await warden.workers()).workers.some((w) => w.state !== 'ready') || undefined, 5000);
  process.kill(warden.pid, 'SIGKILL');
  await waitFor('every worker to exit', () => pids.every((pid) => !isAlive(pid)) || undefined, 5000);
});

test('SIGTERM closes idle keep-alive connections at once and answers in-flight ones with Connection: close', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--graceful-timeout', '30']);
  const agent = new Agent({ keepAlive: true });
  t.after(() => agent.destroy());
  const call = (path: string) => new Promise<{ status: number; connection: string | undefined }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: warden.port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
  // One connection left idle between requests, one busy with a slow request.
  assert.equal((await call('/')).status, 200);
  const slow = call('/slow');
  await waitFor('the slow request to be in flight', async () => ((await warden.workers()).workers[0] as unknown as { inFlight: number }).inFlight > 0 || undefined);
  const stoppedAt = Date.now();
  process.kill(warden.pid, 'SIGTERM');
  const answer = await slow;
  assert.equal(answer.status, 200);
  assert.equal(answer.connection, 'close', 'the in-flight response tells the client not to reuse the connection');
  const exit = await warden.exited;
  assert.equal(exit.code, 0);
  assert.ok(Date.now() - stoppedAt < 10_000, `exited ${Date.now() - stoppedAt} ms after SIGTERM, not at the 30 s graceful timeout`);
});
