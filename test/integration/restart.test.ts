// Crashes: a killed worker is replaced in its slot; a worker that crash-loops makes warden give up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answeringPids, fixture, get, isAlive, startWarden, waitFor } from './harness.js';

test('a worker killed with SIGKILL is replaced in the same slot while the service keeps answering', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2']);
  const before = await warden.workers();
  const victim = before.workers.find((w) => w.slot === 2);
  assert.ok(victim?.pid, 'slot 2 has a worker');
  process.kill(victim.pid, 'SIGKILL');
  // The service answers all along (the other worker takes every connection).
  for (let i = 0; i < 5; i++) assert.equal((await get(warden.port, '/')).status, 200);
  const after = await waitFor('a new ready worker in slot 2', async () => {
    const body = await warden.workers();
    const slot2 = body.workers.find((w) => w.slot === 2);
    return slot2 && slot2.pid !== victim.pid && slot2.state === 'ready' ? body : undefined;
  });
  const slot2 = after.workers.find((w) => w.slot === 2);
  assert.equal(slot2?.restarts, 1);
  assert.match(slot2?.lastExit?.reason ?? '', /SIGKILL/);
  assert.equal(after.workers.find((w) => w.slot === 1)?.pid, before.workers.find((w) => w.slot === 1)?.pid, 'slot 1 untouched');
  assert.equal((await answeringPids(warden.port, 2)).size, 2);
  await warden.expectOutput(new RegExp(`worker 2 \\(pid ${victim.pid}\\) was sent SIGKILL`), 'the exit is logged with slot, pid and signal');
});

test('a worker that keeps crashing after having served makes warden exit non-zero', async (t) => {
  const warden = await startWarden(t, [fixture('crash-after-ready.mjs'), '--workers', '1', '--max-restarts', '2'], { waitReady: false });
  const { code } = await warden.exit(30_000);
  assert.equal(code, 4, `exit code 4 (crash loop); output:\n${warden.output()}`);
  // Every worker it ever started (recorded from /proc while it ran) went with it.
  await warden.processes.expectAllGone('after warden exited 4');
  assert.ok(warden.processes.all().length >= 2, `the primary and its workers were seen (${warden.processes.all().length})`);
  await warden.expectOutput(/worker 1 failed 3 times in a row/);
  await warden.expectOutput(/the database went away/, 'the crash error reaches the log');
});

test('worker output lines are passed on whole and attributed to their worker', async (t) => {
  const warden = await startWarden(t, [fixture('chatty.mjs'), '--workers', '2']);
  const count = (text: string) => text.match(/-end$/gm)?.length ?? 0;
  await waitFor('all chatty lines', () => count(warden.stdout()) + count(warden.stderr()) >= 80 || undefined, 10_000);
  for (const [stream, tag] of [[warden.stdout(), 'out'], [warden.stderr(), 'err']] as const) {
    const lines = stream.split('\n').filter((line) => line.includes('xxxx'));
    assert.equal(lines.length, 40, `every ${tag} line arrives once, on its own stream`);
    for (const line of lines) {
      const match = /^\[w([12]) (\d+)\] (out|err)-([12])-x{20000}-end$/.exec(line);
      assert.ok(match, `whole, prefixed line (${line.slice(0, 40)}…${line.slice(-20)}, ${line.length} chars)`);
      assert.equal(match[3], tag);
      assert.equal(match[1], match[4], 'attributed to the worker that wrote it');
    }
  }
  assert.ok(isAlive(warden.pid));
});
