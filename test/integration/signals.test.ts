// Signals: SIGQUIT and a second SIGTERM force a stop (every worker SIGKILLed, exit 130) without
// waiting for requests in flight; a SIGTERM sent to one worker drains it and warden replaces it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, startWarden, waitFor, type RunningWarden } from './harness.js';

interface InFlightView {
  slot: number;
  pid: number | null;
  inFlight: number;
}

/** Send a request that never gets an answer, and wait until a worker reports it in flight. */
async function hangOne(warden: RunningWarden): Promise<InFlightView> {
  get(warden.port, '/hang', 60_000).catch(() => undefined);
  return waitFor('the hanging request to be in flight', async () => {
    const { workers } = await warden.workers();
    return (workers as unknown as InFlightView[]).find((w) => w.inFlight > 0);
  }, 10_000);
}

for (const [name, send] of [
  ['SIGQUIT', (pid: number) => process.kill(pid, 'SIGQUIT')],
  ['a second SIGTERM', (pid: number) => {
    process.kill(pid, 'SIGTERM');
    setTimeout(() => process.kill(pid, 'SIGTERM'), 300);
  }],
] as const) {
  test(`${name} forces a stop: exit 130 at once, though a request is in flight and --graceful-timeout is 60 s, and no worker is left`, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--graceful-timeout', '60']);
    await hangOne(warden);
    const sentAt = Date.now();
    send(warden.pid);
    const exit = await warden.exit(20_000);
    const took = Date.now() - sentAt;
    assert.deepEqual(exit, { code: 130, signal: null }, `exit 130; output:\n${warden.output()}`);
    assert.ok(took < 15_000, `exited ${took} ms after the signal, not after the 60 s graceful timeout`);
    await warden.expectOutput(name === 'SIGQUIT' ? /received SIGQUIT; killing workers without waiting/ : /received SIGTERM again; killing workers without waiting/);
    await warden.processes.expectAllGone('after a forced stop');
  });
}

test('a SIGTERM sent to one worker is a graceful replacement: the new worker starts first, the old one drains (its request in flight completes), no failure is counted', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const before = (await warden.workers()).workers;
  const slow = get(warden.port, '/slow?ms=3000', 15_000);
  const busy = await waitFor('the slow request to be in flight', async () => {
    const { workers } = await warden.workers();
    return (workers as unknown as InFlightView[]).find((w) => w.inFlight > 0);
  }, 10_000);
  const other = before.find((w) => w.slot !== busy.slot);
  process.kill(busy.pid as number, 'SIGTERM');
  const answer = await slow;
  assert.equal(answer.status, 200, 'the request in flight finished');
  assert.equal(JSON.parse(answer.body).pid, busy.pid, 'answered by the worker that was told to stop');
  const replaced = await waitFor('a new ready worker in the slot', async () => {
    const slot = (await warden.workers()).workers.find((w) => w.slot === busy.slot);
    return slot !== undefined && slot.pid !== busy.pid && slot.state === 'ready' ? slot : undefined;
  }, 20_000);
  assert.equal(replaced.lastExit?.code, 0, 'the drained worker exited 0');
  await warden.expectOutput(/will be recycled: received SIGTERM .*; starting its replacement first/, 'logged as a replacement');
  await warden.expectOutput(/its replacement \(pid \d+\) is ready/, 'the old worker drained only once its replacement was ready');
  assert.doesNotMatch(warden.output(), /failure 1 of/, 'not counted as a failure');
  assert.doesNotMatch(warden.output(), /error: worker \d+ \(pid \d+\) (exited|was killed)/, 'nothing logged as an error');
  assert.equal((await warden.workers()).workers.find((w) => w.slot === other?.slot)?.pid, other?.pid, 'the other worker is untouched');
  for (let i = 0; i < 4; i++) assert.equal((await get(warden.port, '/')).status, 200, 'the service answers');
});
