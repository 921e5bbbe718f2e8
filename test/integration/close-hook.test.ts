// The app's close() outside reloads (reload.test.ts covers those): it runs once in each retiring
// worker after its last request on stop, scale-down and recycle, and a hook that never resolves
// holds the worker no longer than --graceful-timeout.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, get, isAlive, runCli, startWarden, waitFor } from './harness.js';

const APP = fixture('lifecycle/close-hook.mjs');

function closeLog(t: TestContext): { path: string; lines: () => string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-close-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'close.log');
  return { path, lines: () => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((line) => line !== '') : []) };
}

for (const balance of ['shared', 'handoff']) {
  test(`--balance ${balance}: SIGTERM runs the close hook once in each worker, with no request in flight, before warden exits 0`, async (t) => {
    const log = closeLog(t);
    const warden = await startWarden(t, [APP, '--workers', '2', '--balance', balance], { env: { CLOSE_LOG: log.path } });
    const pids = (await warden.workers()).workers.map((w) => w.pid as number).sort();
    for (let i = 0; i < 8; i++) assert.equal((await get(warden.port, '/')).status, 200);
    process.kill(warden.pid, 'SIGTERM');
    assert.equal((await warden.exit(15_000)).code, 0);
    const closed = log.lines().filter((line) => line.startsWith('closed'));
    assert.deepEqual(closed.map((line) => Number(line.split(' ')[1])).sort(), pids, `once per worker: ${closed.join('; ')}`);
    for (const line of closed) assert.equal(line.split(' ')[2], '0', `no request in flight: ${line}`);
  });
}

test('scale-down runs the close hook in the retired worker only', async (t) => {
  const log = closeLog(t);
  const warden = await startWarden(t, [APP, '--workers', '2'], { env: { CLOSE_LOG: log.path } });
  const before = (await warden.workers()).workers;
  const down = await runCli(t, ['scale', '1', '--control', warden.control], { timeoutMs: 30_000 });
  assert.equal(down.code, 0, `${down.stdout}${down.stderr}`);
  const retired = before.find((w) => !isAlive(w.pid as number)) ?? (await waitFor('one worker to be gone', () => before.find((w) => !isAlive(w.pid as number)), 15_000));
  const kept = before.find((w) => w.pid !== retired.pid);
  await waitFor('the close hook of the retired worker', () => log.lines().includes(`closed ${retired.pid} 0`) || undefined, 10_000);
  assert.ok(!log.lines().some((line) => line.includes(String(kept?.pid))), `the remaining worker was not closed: ${log.lines().join('; ')}`);
});

test('a recycle (--max-requests) runs the close hook in the recycled worker', async (t) => {
  const log = closeLog(t);
  const warden = await startWarden(t, [APP, '--workers', '1', '--max-requests', '5'], { env: { CLOSE_LOG: log.path } });
  const first = (await warden.workers()).workers[0]?.pid as number;
  await waitFor('the worker to be recycled', async () => {
    await get(warden.port, '/').catch(() => undefined);
    return !isAlive(first) || undefined;
  }, 20_000);
  await waitFor('the close hook of the recycled worker', () => log.lines().includes(`closed ${first} 0`) || undefined, 10_000);
});

test('a close hook that never resolves holds a stopping worker at most --graceful-timeout (2 s)', async (t) => {
  const log = closeLog(t);
  const warden = await startWarden(t, [APP, '--workers', '2', '--graceful-timeout', '2'], { env: { CLOSE_LOG: log.path, CLOSE_HANG: '1' } });
  const stoppedAt = Date.now();
  process.kill(warden.pid, 'SIGTERM');
  await warden.exit(20_000);
  const tookMs = Date.now() - stoppedAt;
  assert.equal(log.lines().filter((line) => line.startsWith('closing')).length, 2, `the hook started in both workers: ${log.lines().join('; ')}`);
  assert.ok(tookMs >= 1500, `warden waited for the hook (${tookMs} ms)`);
  assert.ok(tookMs < 2000 + 6000, `but no longer than --graceful-timeout plus a margin (${tookMs} ms)`);
});

test('a close hook that never resolves holds a worker retired by scale-down at most --graceful-timeout (2 s)', async (t) => {
  const log = closeLog(t);
  const warden = await startWarden(t, [APP, '--workers', '2', '--graceful-timeout', '2'], { env: { CLOSE_LOG: log.path, CLOSE_HANG: '1' } });
  const before = (await warden.workers()).workers.map((w) => w.pid as number);
  const askedAt = Date.now();
  const down = await runCli(t, ['scale', '1', '--control', warden.control], { timeoutMs: 30_000 });
  assert.equal(down.code, 0, `${down.stdout}${down.stderr}`);
  await waitFor('the retired worker to be gone', () => before.some((pid) => !isAlive(pid)) || undefined, 15_000);
  const tookMs = Date.now() - askedAt;
  assert.ok(log.lines().some((line) => line.startsWith('closing')), 'the hook started');
  assert.ok(tookMs < 2000 + 6000, `gone within --graceful-timeout plus a margin (${tookMs} ms)`);
});
