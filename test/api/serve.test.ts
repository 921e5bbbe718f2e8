// The programmatic API as a user calls it: serve() in this process, real workers, real requests,
// the typed events, close(). The workers are this process's children: each one is owned (harness.ts)
// as soon as it is seen, ready or not, and killed by pid in `after`, even when a test fails.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test, type TestContext } from 'node:test';
import { serve, WardenError, type WardenServer, type WorkerEvent, type WorkerExitEvent } from '../../src/index.js';
import { descendants, fixture, get, isAlive, ownProcesses, waitFor } from '../integration/harness.js';

/**
 * Own every process this test process starts from now on (serve()'s workers and what they fork):
 * `close` runs first when the test ends, with a deadline, then each process still alive is SIGKILLed by pid.
 */
function ownChildren(t: TestContext, close: () => Promise<unknown>): void {
  // Registered before ownProcesses' hook, so it runs first: close() has its chance before the kill.
  t.after(async () => {
    await Promise.race([close(), new Promise((resolve) => setTimeout(resolve, 5000))]);
    clearInterval(watch);
    look();
  });
  const owned = ownProcesses(t);
  const look = () => {
    for (const pid of descendants(process.pid)) owned.own(pid, 'a process of serve()');
  };
  const watch = setInterval(look, 50);
  watch.unref();
}

/** serve() with cleanup registered (ownChildren), and the events a test reads. */
async function started(t: TestContext, input: Parameters<typeof serve>[0]): Promise<{ server: WardenServer; ready: WorkerEvent[]; exited: WorkerExitEvent[]; pids: Set<number> }> {
  const server = await serve({ port: 0, adminPort: 0, silent: true, ...input });
  ownChildren(t, () => server.close());
  const ready: WorkerEvent[] = [];
  const exited: WorkerExitEvent[] = [];
  const pids = new Set<number>();
  server.on('workerReady', (event) => {
    ready.push(event);
    if (event.pid !== null) pids.add(event.pid);
  });
  server.on('workerExited', (event) => exited.push(event));
  return { server, ready, exited, pids };
}

test('serve() binds, reports its addresses, serves with the app\'s arguments, emits workerReady, and close() stops every worker', async (t) => {
  const { server, ready, exited, pids } = await started(t, { app: fixture('api-app.mjs'), workers: 2, args: ['--db', 'x.json'] });
  assert.ok(server.listen.port > 0 && server.admin.port > 0 && server.listen.port !== server.admin.port);
  assert.equal(server.url, `http://127.0.0.1:${server.listen.port}`);
  await waitFor('two workerReady events', () => ready.length >= 2, 20_000);
  assert.deepEqual(ready.map((event) => event.slot).sort(), [1, 2]);
  const answer = JSON.parse((await get(server.listen.port, '/')).body) as { pid: number; argv: string[] };
  assert.deepEqual(answer.argv, ['--db', 'x.json']);
  assert.ok(pids.has(answer.pid), 'the answering worker is one serve() reported');
  const result = await server.close();
  assert.equal(result.code, 0);
  assert.equal(exited.length, 2);
  assert.ok(exited.every((event) => event.planned || event.code === 0), JSON.stringify(exited));
  for (const pid of pids) assert.equal(isAlive(pid), false, `worker ${pid} is gone after close()`);
});

test('a frozen worker raises workerLate, then workerStalled, then a replacement workerReady', async (t) => {
  const { server, ready, pids } = await started(t, { app: fixture('api-app.mjs'), workers: 1, timeout: 1.5, captureStacks: false });
  const late: WorkerEvent[] = [];
  const stalled: WorkerEvent[] = [];
  server.on('workerLate', (event) => late.push(event));
  server.on('workerStalled', (event) => stalled.push(event));
  const first = await waitFor('the first worker', () => ready[0], 20_000);
  process.kill(first.pid as number, 'SIGSTOP');
  await waitFor('workerStalled', () => stalled.length > 0, 15_000);
  assert.equal(late[0]?.pid, first.pid, 'late came first, for the frozen worker');
  assert.equal(stalled[0]?.pid, first.pid);
  assert.match(stalled[0]?.message ?? '', /sent no heartbeat/);
  const replacement = await waitFor('a replacement', () => ready.find((event) => event.pid !== first.pid), 20_000);
  assert.equal(replacement.slot, first.slot);
  assert.equal(pids.size, 2);
});

test('bad options are refused by the same rules as flags, naming serve()\'s key', async () => {
  await assert.rejects(serve({ app: fixture('api-app.mjs'), workers: 'many' as unknown as number, silent: true }), (error: unknown) => {
    assert.ok(error instanceof WardenError);
    assert.equal(error.code, 'WARDEN_USAGE');
    assert.equal(error.message, '--workers (from serve() options key "workers") must be a positive integer (at most 1024), "auto", or a range MIN..MAX such as 2..8 (got "many")');
    return true;
  });
  await assert.rejects(serve({ app: fixture('api-app.mjs'), gracefullTimeout: 1 } as Parameters<typeof serve>[0]), /unknown option "gracefullTimeout"; did you mean "gracefulTimeout"\?/);
  await assert.rejects(serve({ app: 'nope.js', port: 0, adminPort: 0, silent: true }), { code: 'WARDEN_APP_LOAD' });
});

test('require("warden") gives the same serve() from CommonJS', async (t) => {
  const required = createRequire(import.meta.url)('warden') as { serve: typeof serve };
  assert.equal(typeof required.serve, 'function');
  const server = await required.serve({ app: fixture('api-app.mjs'), port: 0, adminPort: 0, silent: true });
  ownChildren(t, () => server.close());
  const answer = await waitFor('an answer', async () => (await get(server.listen.port, '/')).status === 200, 20_000);
  assert.equal(answer, true);
  assert.equal((await server.close()).code, 0);
});
