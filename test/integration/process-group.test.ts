// Ctrl-C reaches the whole foreground process group. Workers live in a group of their own, so only
// the primary decides how they stop, even for apps (like `next start`) that exit on their own
// SIGINT; and warden's exit code never claims a clean stop that did not happen.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, startWarden, waitFor } from './harness.js';

const APP = fixture('lifecycle/own-signal-exit.cjs');
const SLOW_MS = 2000;

test('Ctrl-C (SIGINT to the process group) with 4 slow requests in flight: all 4 finish, exit 0, no process left', async (t) => {
  const warden = await startWarden(t, [APP, '--workers', '2'], { detached: true });
  const body = await warden.workers();
  for (const worker of body.workers) assert.notEqual(worker.pid, null);
  const inFlight = [1, 2, 3, 4].map(() => get(warden.port, `/slow?ms=${SLOW_MS}`, 15_000));
  await waitFor('4 requests in flight', async () => {
    const workers = (await warden.workers()).workers as unknown as { inFlight: number }[];
    return workers.reduce((sum, worker) => sum + worker.inFlight, 0) >= 4 || undefined;
  }, 10_000);
  process.kill(-warden.pid, 'SIGINT');
  const answers = await Promise.allSettled(inFlight);
  const ok = answers.filter((answer) => answer.status === 'fulfilled' && answer.value.status === 200).length;
  assert.equal(ok, 4, `all 4 requests finished: ${JSON.stringify(answers.map((a) => (a.status === 'fulfilled' ? a.value.status : String(a.reason))))}\n${warden.output()}`);
  const exit = await warden.exit();
  assert.equal(exit.code, 0, `exit 0 after a clean drain\n${warden.output()}`);
  assert.doesNotMatch(warden.output(), /on its own while warden was draining/);
  await warden.processes.expectAllGone('after warden exited');
});

test('a worker that exits on its own signal handler while warden drains it: warden says so and exits 5', async (t) => {
  const warden = await startWarden(t, [APP, '--workers', '1']);
  const [worker] = (await warden.workers()).workers;
  const pending = get(warden.port, `/slow?ms=${SLOW_MS}`, 15_000).catch((error: Error) => error);
  await waitFor('the slow request in flight', async () => ((await warden.workers()).workers as unknown as { inFlight: number }[])[0]?.inFlight === 1 || undefined, 10_000);
  warden.child.kill('SIGTERM');
  await warden.expectOutput(/finishing in-flight requests/);
  // What a terminal's Ctrl-C did to workers when they shared warden's process group.
  process.kill(worker?.pid as number, 'SIGINT');
  const exit = await warden.exit();
  await pending;
  assert.equal(exit.code, 5, `exit 5, not a clean stop\n${warden.output()}`);
  assert.match(warden.output(), /exited with code 130 on its own while warden was draining it/);
  await warden.processes.expectAllGone('after warden exited');
});
