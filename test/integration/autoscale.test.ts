// `--workers MIN..MAX` with real processes: `2..4` grows under a CPU-bound load
// (test/fixtures/cpu-busy.mjs: 100 ms of CPU per request) and shrinks back after it by graceful
// drains, with no failed request; each decision is logged with its reason, counted in /metrics and
// shown in /workers. A range the cgroup CPU quota cannot hold is refused at start, saying how to fix it.
// The fake cgroup tree (WARDEN_CGROUP_ROOT) keeps the host's own quota out of the test.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, get, runCli, startLoad, startWarden, waitFor, type WorkersBody } from './harness.js';

function fakeCgroup(t: TestContext, cpuMax: string): string {
  const root = mkdtempSync(join(tmpdir(), 'warden-cgroup-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  writeFileSync(join(root, 'cpu.max'), `${cpuMax}\n`);
  writeFileSync(join(root, 'memory.max'), 'max\n');
  return root;
}

const live = (body: WorkersBody) => body.workers.filter((worker) => worker.state === 'ready').length;

test('--workers 2..4 grows to 4 under a CPU-bound load and shrinks back to 2 after it, with no failed request', async (t) => {
  const warden = await startWarden(t, [fixture('cpu-busy.mjs'), '--workers', '2..4', '--autoscale-window', '1'], { env: { WARDEN_CGROUP_ROOT: fakeCgroup(t, 'max 100000') } });
  await warden.expectOutput(/with 2\.\.4 workers \(autoscaling\), starting with 2 workers on /);
  const start = await warden.workers();
  assert.deepEqual([start.primary.autoscale?.min, start.primary.autoscale?.max, live(start)], [2, 4, 2]);

  // Eight loops keep every worker's event loop busy (each request is 100 ms of CPU).
  const load = startLoad(warden.port, { concurrency: 8, timeoutMs: 30_000, maxMs: 120_000 });
  t.after(() => load.stop());
  const grown = await waitFor('the fleet grown to 4 ready workers', async () => {
    const body = await warden.workers();
    return body.primary.workersTarget === 4 && live(body) === 4 ? body : undefined;
  }, 60_000, 200);
  await warden.expectOutput(/autoscale: adding a worker \(utilization high\): fleet utilization \d+ % for [\d.]+s \(at or above 80 %\): 2 -> 3 workers/);
  await warden.expectOutput(/autoscale: adding a worker \(utilization high\): .*3 -> 4 workers/);
  assert.equal(grown.primary.autoscale?.last?.change === 'grow' || grown.primary.autoscale?.last?.reason === 'at maximum', true, JSON.stringify(grown.primary.autoscale));
  const busy = await load.stop();
  const failedBusy = busy.filter((sample) => !sample.ok);
  assert.ok(busy.length > 0, 'the load sent requests');
  assert.deepEqual(failedBusy, [], `no request failed while growing (${failedBusy.length} of ${busy.length})`);

  // A light load (2 requests a second) goes on while workers retire: their requests in flight finish.
  const light = startLoad(warden.port, { concurrency: 1, ratePerLoop: 2, timeoutMs: 30_000, maxMs: 120_000 });
  t.after(() => light.stop());
  const shrunk = await waitFor('the fleet back to 2 workers', async () => {
    const body = await warden.workers();
    return body.primary.workersTarget === 2 && body.workers.length === 2 && live(body) === 2 ? body : undefined;
  }, 90_000, 200);
  await warden.expectOutput(/autoscale: retiring a worker \(utilization low\): fleet utilization \d+ % for [\d.]+s \(at or below 30 %\): 4 -> 3 workers/);
  await warden.expectOutput(/autoscale: retiring a worker \(utilization low\): .*3 -> 2 workers/);
  assert.doesNotMatch(warden.output(), /SIGKILL|crashed|stalled/, 'retired workers drained and exited on their own');
  const quiet = await light.stop();
  assert.deepEqual(quiet.filter((sample) => !sample.ok), [], `no request failed while shrinking (${quiet.length} sent)`);
  assert.equal(shrunk.primary.autoscale?.decisions['grow:utilization high'], 2);
  assert.equal(shrunk.primary.autoscale?.decisions['shrink:utilization low'], 2);

  const metrics = (await get(warden.adminPort, '/metrics')).body;
  assert.match(metrics, /^warden_autoscale_decisions_total\{direction="grow",reason="utilization high"\} 2$/m);
  assert.match(metrics, /^warden_autoscale_decisions_total\{direction="shrink",reason="utilization low"\} 2$/m);
  assert.match(metrics, /^warden_autoscale_min_workers 2$/m);
  assert.match(metrics, /^warden_autoscale_max_workers 4$/m);
  assert.match(metrics, /^warden_autoscale_ceiling_workers\{limited_by="maximum"\} 4$/m);

  const status = await runCli(t, ['status', '--control', warden.control]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^autoscale 2\.\.4, target 2; last: shrink 3 -> 2 .* \(utilization low\): /m);
});

test('a range past the cgroup CPU quota is refused at start with the quota and the range that fits', async (t) => {
  const outcome = await runCli(t, ['serve', fixture('cpu-busy.mjs'), '--workers', '2..8', '--port', '0', '--admin-port', '0'], { env: { WARDEN_CGROUP_ROOT: fakeCgroup(t, '300000 100000') } });
  assert.equal(outcome.code, 2, outcome.stderr);
  assert.match(outcome.stderr, /^warden: --workers 2\.\.8: MAX 8 is more than the 3 CPUs the cgroup CPU quota allows \(3 CPUs\)$/m);
  assert.match(outcome.stderr, /hint: lower MAX to 3 \(--workers 2\.\.3\), or raise the CPU limit/);
  const bad = await runCli(t, ['serve', fixture('cpu-busy.mjs'), '--workers', '4..2', '--port', '0', '--admin-port', '0']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^warden: --workers must be a range MIN\.\.MAX of whole numbers, 1 <= MIN <= MAX <= 1024: MIN 4 is more than MAX 2 \(got "4\.\.2"\)$/m);
});
