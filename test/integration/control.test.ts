// The control channel with real processes: a private unix socket, clear errors when no primary is
// there, a live socket never taken over, a stale one replaced, released with the port when warden
// stops, and bad requests refused safely.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fixture, get, getJson, killQuietly, ownProcesses, ROOT, runCli, startWarden, waitFor, WARDEN } from './harness.js';

function talk(path: string, payload: string, waitMs = 8000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let answer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${waitMs} ms (got ${JSON.stringify(answer)})`));
    }, waitMs);
    socket.once('connect', () => {
      if (payload !== '') socket.write(payload);
    });
    socket.setEncoding('utf8').on('data', (chunk: string) => (answer += chunk));
    socket.once('close', () => {
      clearTimeout(timer);
      resolve(answer);
    });
    socket.once('error', reject);
  });
}

test('the control socket is mode 0600 in a directory only its user can enter, printed at startup, and answers status', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1']);
  assert.ok(warden.control.endsWith(`control-${warden.port}.sock`), `default path derives from the port: ${warden.control}`);
  assert.equal(statSync(warden.control).mode & 0o777, 0o600);
  assert.equal(statSync(dirname(warden.control)).mode & 0o777, 0o700);
  const status = JSON.parse((await talk(warden.control, '{"cmd":"status"}\n')).trim()) as { ok: boolean; data: { workers: unknown[] } };
  assert.equal(status.ok, true);
  assert.equal(status.data.workers.length, 1);
  const admin = await getJson(warden.adminPort, '/workers');
  assert.equal((admin.body as { primary: { control: string } }).primary.control, warden.control);
});

test('bad control requests get an error and the primary keeps serving: malformed, unknown, oversized, silent', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1']);
  const answer = async (payload: string, waitMs?: number) => JSON.parse((await talk(warden.control, payload, waitMs)).trim()) as { type: string; ok: boolean; message: string };
  assert.deepEqual(await answer('not json\n'), { type: 'done', ok: false, message: 'malformed request: not JSON' });
  assert.equal((await answer('{"cmd":"rm -rf"}\n')).message, 'unknown command "rm -rf"; known: reload, scale, status, profile');
  assert.match((await answer('{"cmd":"scale","workers":"lots"}\n')).message, /^malformed scale request/);
  assert.equal((await answer('x'.repeat(70 * 1024))).message, 'request longer than 65536 bytes');
  assert.equal((await answer('', 10_000)).message, 'no request within 5s', 'a silent connection is closed after a timeout');
  assert.equal((await getJson(warden.adminPort, '/livez')).status, 200);
  assert.equal(warden.child.exitCode, null);
});

test('state-changing commands are not on the admin port', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1']);
  for (const path of ['/reload', '/scale']) assert.equal((await getJson(warden.adminPort, path)).status, 404, `${path} is not an admin route`);
});

test('warden reload with no primary fails clearly, naming the path it tried and how to point elsewhere', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const missing = join(dir, 'none.sock');
  const result = await runCli(t, ['reload', '--control', missing], { timeoutMs: 20_000 });
  assert.equal(result.code, 1);
  assert.match(result.stderr, new RegExp(`cannot reach a running warden at ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: no such socket`));
  assert.match(result.stderr, /--control PATH/);
  const byPort = await runCli(t, ['scale', '+1', '--port', '1'], { timeoutMs: 20_000 });
  assert.equal(byPort.code, 1);
  assert.match(byPort.stderr, /control-1\.sock/, 'the default path for --port is named');
});

test('a second warden on the same control path is refused while the first lives, and takes over once it is dead', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-control-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'ctl.sock');
  const first = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1', '--control', path]);
  const second = await runCli(t, ['serve', fixture('worker-env.mjs'), '--port', '0', '--admin-port', '0', '--control', path], { timeoutMs: 30_000 });
  assert.equal(second.code, 1);
  assert.match(second.stderr, new RegExp(`another warden is already running with the control socket ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  assert.equal((await getJson(first.adminPort, '/livez')).status, 200, 'the first one is untouched');

  killQuietly(first.pid, 'SIGKILL');
  await first.exit(10_000);
  assert.ok(statSync(path).isSocket(), 'the dead primary left its socket file behind');
  const third = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1', '--control', path]);
  const reload = await runCli(t, ['reload', '--control', path], { timeoutMs: 60_000 });
  assert.equal(reload.code, 0, `the new warden owns the path: ${reload.stdout}${reload.stderr}`);
  assert.equal(third.child.exitCode, null);
});

test('a stopping warden frees the control socket name with its port: a new warden given that port starts while the first still drains', async (t) => {
  const first = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--graceful-timeout', '20']);
  const pending = get(first.port, '/slow?ms=8000', 15_000).catch((error: Error) => error);
  await waitFor('the slow request in flight', async () => (await first.workers()).workers[0]?.inFlight === 1);
  first.child.kill('SIGTERM');
  await waitFor('the control socket file gone while the first warden drains', () => !existsSync(first.control));
  assert.equal(first.child.exitCode, null, 'the first warden is still draining its slow request');
  const owned = ownProcesses(t);
  const second = spawn(process.execPath, [WARDEN, 'serve', fixture('slow.mjs'), '--workers', '1', '--port', String(first.port), '--admin-port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  owned.own(second.pid, 'second warden');
  let output = '';
  second.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  second.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await waitFor(`the second warden listening on port ${first.port}`, () => second.exitCode === null && output.includes(`:${first.port} (admin`), 15_000)
    .catch((error: Error) => { throw new Error(`${error.message}; exit ${second.exitCode}; output:\n${output}`); });
  second.kill('SIGTERM');
  assert.equal(((await pending) as { status?: number }).status, 200, 'the first warden still answered its slow request');
  assert.equal((await first.exit(20_000)).code, 0);
});
