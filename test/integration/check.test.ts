// `warden check` run as a user would, through the CLI: against a running warden it freezes a
// worker, sees /readyz turn red and the worker replaced, prints PASS and exits 0; against a plain
// node:cluster server (--pid) it finds the trap and exits 1, in text or --json.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckReport } from '../../src/check/run-check.js';
import { fixture, isAlive, processState, runCli, startWarden } from './harness.js';
import { startClusterPrimary } from '../check/cluster-fixture.js';

test('warden check passes against warden: health turns red, the frozen worker is replaced and nothing stays stopped', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2']);
  const before = await warden.workers();
  const result = await runCli(t, ['check', '--admin', `http://127.0.0.1:${warden.adminPort}`, '--duration', '15'], { timeoutMs: 40_000 });
  t.diagnostic(result.stdout);
  assert.equal(result.code, 0, `exit 0 on pass:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /^warden check: PASS/m);
  assert.match(result.stdout, /health .*first failed after \d+\.\d s/);
  assert.match(result.stdout, /replaced +by worker \d+ after \d+\.\d s/);
  for (const worker of before.workers) {
    const pid = worker.pid as number;
    assert.ok(!isAlive(pid) || processState(pid) !== 'T', `worker ${pid} is not left stopped`);
  }
});

// Workers share the listening socket ("none"), so a stopped worker takes no connection: health
// stays green, as in the field report.
const SHARED_SOCKET = { NODE_CLUSTER_SCHED_POLICY: 'none' };

test('warden check --pid against a node:cluster server: TRAP and exit 1, and the frozen worker runs again', async (t) => {
  const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
  const workersBefore = server.workers();
  const base = `http://127.0.0.1:${server.port}`;
  const result = await runCli(t, ['check', '--pid', String(server.pid), '--health', `${base}/health`, '--url', `${base}/`, '--duration', '3'], { timeoutMs: 30_000 });
  assert.equal(result.code, 1, `exit 1 when the trap is there:\n${result.stdout}\n${result.stderr}`);
  assert.match(result.stdout, /^warden check: TRAP/m);
  assert.match(result.stdout, new RegExp(`worker ${workersBefore[0]} was never replaced in 3\\.0 s`));
  assert.match(result.stdout, /health stayed green for 3\.0 s/);
  for (const pid of workersBefore) assert.notEqual(processState(pid), 'T', `worker ${pid} was resumed`);
  assert.deepEqual(server.workers(), workersBefore, 'the same workers still run');
});

test('warden check --pid --json: one JSON report on stdout with the verdict, exit 1 on the trap', async (t) => {
  const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
  const base = `http://127.0.0.1:${server.port}`;
  const result = await runCli(t, ['check', '--pid', String(server.pid), '--health', `${base}/health`, '--url', `${base}/`, '--duration', '2', '--json'], { timeoutMs: 30_000 });
  assert.equal(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as CheckReport;
  assert.equal(report.verdict, 'trap');
  assert.equal(report.frozen.pid, server.workers()[0]);
  assert.equal(report.replacedAtMs, null);
  assert.equal(report.restoredBy, 'SIGCONT');
  assert.ok(report.requests.sent > 0 && report.health.polls > 0, 'it sent requests and polled health');
});
