// `warden systemd` as users run it: what it prints (and writes with --output) passes
// `systemd-analyze verify` without a warning, with and without --socket; bad input exits 2 naming its
// flag. Without systemd-analyze the test is skipped, except under CI, where a missing tool fails it.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { fixture, runCli } from './harness.js';
import { toolOrSkip } from './systemd-tools.js';

const run = promisify(execFile);

async function verify(files: string[]): Promise<{ code: number; stderr: string }> {
  try {
    const { stderr } = await run('systemd-analyze', ['verify', ...files], { timeout: 30_000 });
    return { code: 0, stderr };
  } catch (error) {
    const failed = error as { code?: number; stderr?: string };
    return { code: typeof failed.code === 'number' ? failed.code : 1, stderr: failed.stderr ?? String(error) };
  }
}

/** Lines of systemd-analyze's output that are about our units (it may also warn about the host's). */
function warningsAbout(stderr: string, names: string[]): string[] {
  return stderr.split('\n').filter((line) => line.trim() !== '' && names.some((name) => line.includes(name)));
}

test('the printed service unit passes systemd-analyze verify without a warning', async (t) => {
  if (!toolOrSkip(t, 'systemd-analyze')) return;
  const dir = mkdtempSync(join(tmpdir(), 'warden-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const printed = await runCli(t, ['systemd', fixture('slow.mjs'), '--name', 'warden-test', '--workers', '2', '--graceful-timeout', '10', '--', '--flag', 'a b']);
  assert.equal(printed.code, 0, printed.stderr);
  const file = join(dir, 'warden-test.service');
  writeFileSync(file, printed.stdout);
  const result = await verify([file]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(warningsAbout(result.stderr, ['warden-test']), [], 'no warning about the unit');
});

test('with --socket and --admin-socket, the three units written by --output pass systemd-analyze verify together', async (t) => {
  if (!toolOrSkip(t, 'systemd-analyze')) return;
  const dir = mkdtempSync(join(tmpdir(), 'warden-systemd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const written = await runCli(t, ['systemd', fixture('slow.mjs'), '--name', 'warden-test', '--socket', '--admin-socket', '--port', '8123', '--output', dir]);
  assert.equal(written.code, 0, written.stderr);
  const files = [join(dir, 'warden-test.service'), join(dir, 'warden-test.socket'), join(dir, 'warden-test-admin.socket')];
  assert.deepEqual(written.stdout.trim().split('\n'), files);
  assert.match(readFileSync(files[1] as string, 'utf8'), /^ListenStream=127\.0\.0\.1:8123$/m);
  const result = await verify(files);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(warningsAbout(result.stderr, ['warden-test']), [], 'no warning about either unit');
});

test('bad input exits 2 naming the flag; --socket without --output says to give it', async (t) => {
  const noName = await runCli(t, ['systemd', fixture('slow.mjs')]);
  assert.equal(noName.code, 2);
  assert.match(noName.stderr, /^warden: --name is required/);
  const badServe = await runCli(t, ['systemd', fixture('slow.mjs'), '--name', 'x', '--timeout', 'soon']);
  assert.equal(badServe.code, 2);
  assert.match(badServe.stderr, /--timeout must be a number of seconds/);
  const socket = await runCli(t, ['systemd', fixture('slow.mjs'), '--name', 'x', '--socket']);
  assert.equal(socket.code, 2);
  assert.match(socket.stderr, /give --output DIR/);
});
