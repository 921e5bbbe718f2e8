// `warden profile <slot> [--seconds S]` over the control socket against a real worker under a
// CPU-bound load (test/fixtures/cpu-busy.mjs): it prints the top functions by self time, and the
// .cpuprofile is written to --profile-dir. Bad input is refused with the rule.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixture, runCli, startLoad, startWarden } from './harness.js';

test('warden profile 1 --seconds 1 prints the top functions of a busy worker and saves the .cpuprofile', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-profile-command-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const warden = await startWarden(t, [fixture('cpu-busy.mjs'), '--workers', '1', '--profile-dir', dir]);
  const load = startLoad(warden.port, { concurrency: 2, maxMs: 30_000 });
  t.after(() => load.stop());
  const result = await runCli(t, ['profile', '1', '--seconds', '1', '--control', warden.control], { timeoutMs: 20_000 });
  assert.equal(result.code, 0, `exit 0; stdout: ${result.stdout} stderr: ${result.stderr}`);
  const lines = result.stdout.split('\n');
  const first = lines.findIndex((line) => line.includes('top functions by self time'));
  assert.ok(first >= 0, result.stdout);
  // Which name the handler's time carries depends on V8's inlining (here often performance.now and
  // the emit it was inlined into); test/diagnose/profile-capture.test.ts pins the function itself.
  assert.match(lines[first + 1] ?? '', /^ *\d+\.\d %  +\d+\.\d ms  \S/, `one line per function, share and self time first:\n${result.stdout}`);
  assert.ok(lines.slice(first + 1).filter((line) => / ms  /.test(line)).length >= 2, result.stdout);
  assert.equal(readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).length, 1, 'saved in --profile-dir');
  const samples = await load.stop();
  assert.ok(samples.every((sample) => sample.ok), 'profiling fails no request');
});

test('warden profile refuses a slot with no worker and a --seconds outside 0.1..60, naming the rule', async (t) => {
  const warden = await startWarden(t, [fixture('cpu-busy.mjs'), '--workers', '1']);
  const missing = await runCli(t, ['profile', '7', '--control', warden.control]);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no ready worker in slot 7/);
  const tooLong = await runCli(t, ['profile', '1', '--seconds', '600', '--control', warden.control]);
  assert.notEqual(tooLong.code, 0);
  assert.match(tooLong.stderr, /--seconds must be a number from 0\.1 to 60 \(got "600"\)/);
});
