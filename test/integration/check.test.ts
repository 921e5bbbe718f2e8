// `warden check` run as a user would, through the CLI, against a running warden: it freezes a
// worker, sees /readyz turn red and the worker replaced, prints PASS and exits 0.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { ROOT, WARDEN, fixture, isAlive, processState, startWarden } from './harness.js';

test('warden check passes against warden: health turns red, the frozen worker is replaced and nothing stays stopped', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2']);
  const before = await warden.workers();
  const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [WARDEN, 'check', '--admin', `http://127.0.0.1:${warden.adminPort}`, '--duration', '15'], {
      cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
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
