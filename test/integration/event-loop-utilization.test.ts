// Event-loop utilisation reported by real workers: near 0 while idle, near 1 under a CPU-bound load
// (test/fixtures/cpu-busy.mjs: 100 ms of CPU per request), read from /workers and /metrics; sustained, it marks the worker saturated (not sick).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, startLoad, startWarden, waitFor } from './harness.js';

test('an idle worker reports an ELU near 0 and one under a CPU-bound load an ELU near 1, then is marked saturated but stays in rotation', async (t) => {
  const warden = await startWarden(t, [fixture('cpu-busy.mjs'), '--workers', '1']);
  const idle = await waitFor('an idle worker reports its ELU', async () => {
    const value = (await warden.workers()).workers[0]?.eventLoopUtilization;
    return typeof value === 'number' && value < 0.2 ? value : undefined;
  }, 20_000);
  assert.ok(idle < 0.2, `idle ELU ${idle}`);

  // Four loops at once keep the one worker's event loop busy without a break.
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 10_000, maxMs: 60_000 });
  t.after(() => load.stop());
  const busy = await waitFor('a loaded worker reports an ELU near 1', async () => {
    const value = (await warden.workers()).workers[0]?.eventLoopUtilization;
    return typeof value === 'number' && value > 0.9 ? value : undefined;
  }, 20_000);
  assert.ok(busy > 0.9 && busy <= 1, `busy ELU ${busy}`);
  const metrics = await get(warden.adminPort, '/metrics');
  const line = metrics.body.split('\n').find((entry) => entry.startsWith('warden_worker_event_loop_utilization{'));
  assert.ok(line !== undefined, `no warden_worker_event_loop_utilization in /metrics:\n${metrics.body.slice(0, 2000)}`);
  assert.match(line, /slot="1"/);

  // Busy without a break for 5 s: marked saturated, not sick; still ready and in rotation.
  const saturated = await waitFor('the busy worker is marked saturated', async () => {
    const body = await warden.workers();
    return body.workers[0]?.saturated === true ? body : undefined;
  }, 20_000);
  const [worker] = saturated.workers;
  assert.equal(worker?.state, 'ready', 'saturated is not a sickness');
  assert.equal(worker?.inRotation, true, 'a saturated worker stays in rotation');
  assert.ok((saturated.primary.fleetUtilization ?? 0) > 0.9, `the fleet's one number: ${saturated.primary.fleetUtilization}`);
  const marked = await get(warden.adminPort, '/metrics');
  assert.match(marked.body, /^warden_worker_saturated\{slot="1",generation="1"\} 1$/m);
  assert.match(marked.body, /^warden_fleet_event_loop_utilization 0\.9\d*$|^warden_fleet_event_loop_utilization 1$/m);
  const samples = await load.stop();
  assert.ok(samples.length > 0 && samples.every((sample) => sample.ok), `every request answered (${samples.filter((sample) => !sample.ok).length} failed)`);
});
