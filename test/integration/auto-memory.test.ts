// `--workers auto` and the memory limit, end to end: a real warden pointed at a fake cgroup tree
// through WARDEN_CGROUP_ROOT runs as many workers as the memory limit holds and logs why, and an
// explicit `--workers N` that does not fit gets a warning but still runs N workers.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, getJson, startWarden, waitFor } from './harness.js';

const MiB = 1024 * 1024;

/** A cgroup v2 tree with a CPU quota (2 CPUs unless given) and memory.max, removed when the test ends. */
function fakeCgroup(t: TestContext, memoryMax: string, cpuMax = '200000 100000'): string {
  const root = mkdtempSync(join(tmpdir(), 'warden-cgroup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'cpu.max'), `${cpuMax}\n`);
  writeFileSync(join(root, 'memory.max'), `${memoryMax}\n`);
  return root;
}

test('auto under a 150 MiB memory limit runs 1 worker although 2 CPUs are usable, and logs that memory set it', { skip: availableParallelism() < 2 ? 'needs 2 CPUs' : false }, async (t) => {
  const root = fakeCgroup(t, String(150 * MiB));
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', 'auto'], { env: { WARDEN_CGROUP_ROOT: root } });
  await warden.expectOutput(/with 1 worker on /, warden.output());
  await warden.expectOutput(/--workers auto: 1 worker, set by memory: 80% of the 150 MiB memory limit, less \d+ MiB for the primary, fits [01] workers? of 50 MiB, fewer than the 2 usable CPUs/);
  assert.equal((await warden.workers()).workers.length, 1);
});

test('auto with memory.max "max" uses the fake tree\'s CPU quota (1.5 CPUs -> 2 workers; 0.5 -> 1) and says nothing about memory', { skip: availableParallelism() < 2 ? 'needs 2 CPUs' : false }, async (t) => {
  const half = await startWarden(t, [fixture('slow.mjs'), '--workers', 'auto'], { env: { WARDEN_CGROUP_ROOT: fakeCgroup(t, 'max', '50000 100000') } });
  await half.expectOutput(/with 1 worker on /);
  const root = fakeCgroup(t, 'max', '150000 100000');
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', 'auto'], { env: { WARDEN_CGROUP_ROOT: root } });
  await warden.expectOutput(/with 2 workers on /);
  assert.doesNotMatch(warden.output(), /set by memory/);
});

test('--workers 3 under a 120 MiB limit gets a startup warning and still runs 3 workers', async (t) => {
  const root = fakeCgroup(t, String(120 * MiB));
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '3'], { env: { WARDEN_CGROUP_ROOT: root } });
  assert.match(warden.stderr(), /\[warden\] warn: --workers 3 may not fit in the memory limit: 80% of the 120 MiB memory limit/);
  await warden.expectOutput(/with 3 workers on /);
  assert.equal((await warden.workers()).workers.length, 3);
});

test('auto re-measures once the first worker is ready: a worker far above the estimate scales the fleet down to what fits', { skip: availableParallelism() < 2 ? 'needs 2 CPUs' : false }, async (t) => {
  // 80% of 500 MiB, less the primary, holds 2 workers of the 50 MiB estimate but only 1 of ~200 MB.
  const root = fakeCgroup(t, String(500 * MiB));
  const warden = await startWarden(t, [fixture('lifecycle/big-boot.mjs'), '--workers', 'auto'], { env: { WARDEN_CGROUP_ROOT: root }, waitReady: false });
  await warden.expectOutput(/with 2 workers on /, 'the estimate allows 2');
  await waitFor('the fleet fitted to the measured RSS', async () => {
    const { primary, workers } = await getJson<{ primary: { workersTarget: number }; workers: { state: string }[] }>(warden.adminPort, '/workers').then((answer) => answer.body);
    return primary.workersTarget === 1 && workers.length === 1 && workers[0]?.state === 'ready' ? true : undefined;
  }, 30_000);
  await waitFor('the reason logged', () => /--workers auto: 1 worker with the first worker's measured RSS, set by memory/.test(warden.output()) || undefined, 10_000);
  await warden.expectOutput(/scaling from 2 to 1 worker \(asked by --workers auto \(memory\)\)/);
});
