// A short soak (bench/soak.js, `npm run soak`) as a check: ~25 s of load while the seeded chaos loop
// kills, stops, spins, poisons, leaks, reloads and scales; it must end with every failed request
// explained by a fault on the worker that held it, every worker ready and no process left. The load
// is paced (50 requests/s per client) so that the test files running beside it keep their share.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT, ownProcesses, withDeadline } from './harness.js';

test('a 25 s soak under chaos ends with 0 unexplained failed requests, every worker ready and no orphan', { timeout: 170_000 }, async (t) => {
  const owned = ownProcesses(t);
  const child = spawn(process.execPath, [join(ROOT, 'bench', 'soak.js'), '--minutes', '0.4', '--seed', '1313', '--rate', '50', '--json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  owned.own(child.pid, 'soak');
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exit = await withDeadline(new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))), 150_000, 'the soak to end');
  const last = stdout.trim().split('\n').at(-1) ?? '';
  assert.ok(last.startsWith('{'), `the soak printed its JSON report (exit ${exit}); stderr:\n${stderr}`);
  const summary = JSON.parse(last) as {
    requests: { sent: number; answered: number; failed: number; explained: number; unexplained: number };
    faults: Record<string, { injected: number }>;
    workers: { allReady: boolean };
    orphans: number[];
    problems: string[];
    unexplainedRequests?: unknown[];
  };
  t.diagnostic(`soak: ${JSON.stringify(summary.requests)}; faults ${Object.entries(summary.faults ?? {}).map(([k, v]) => `${k} ${v.injected}`).join(', ')}`);
  assert.deepEqual(summary.problems, [], `no problem reported; unexplained failures: ${JSON.stringify(summary.unexplainedRequests ?? [])}; stderr:\n${stderr}`);
  assert.equal(exit, 0, 'the soak exits 0');
  assert.equal(summary.requests.unexplained, 0, 'every failed request was in flight on a faulted worker');
  assert.ok(summary.requests.answered > 100, `requests were answered throughout (${summary.requests.answered})`);
  assert.ok(Object.values(summary.faults).reduce((sum, f) => sum + f.injected, 0) >= 4, 'the chaos loop acted');
  assert.ok(summary.workers.allReady, 'every worker ready at the end');
  assert.deepEqual(summary.orphans, [], 'no process of warden outlived it');
});
