// sd_notify from a real primary: a notify socket the test owns (read by a tiny python3 script playing
// systemd's side) receives READY=1 once every worker is ready, RELOADING=1 then READY=1 around a
// rolling reload (SIGHUP), STOPPING=1 on SIGTERM, in that order, STATUS= with the workers in rotation,
// and WATCHDOG=1 pings at half of WATCHDOG_USEC; workers do not inherit NOTIFY_SOCKET.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, get, killQuietly, startWarden, waitFor } from './harness.js';
import { findTool, toolOrSkip } from './systemd-tools.js';

interface Reader {
  path: string;
  messages: string[][];
}

async function notifyReader(t: TestContext): Promise<Reader> {
  const dir = mkdtempSync(join(tmpdir(), 'warden-notify-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'notify.sock');
  const child = spawn('python3', [fixture('notify-reader.py'), path], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => killQuietly(child.pid as number));
  const reader: Reader = { path, messages: [] };
  let buffered = '';
  let bound = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line === 'bound') bound = true;
      else reader.messages.push(JSON.parse(line) as string[]);
    }
  });
  await waitFor('the notify reader to bind its socket', () => bound, 10_000);
  return reader;
}

/** The messages other than watchdog pings and status-only updates: the state changes. */
function stateChanges(messages: readonly string[][]): string[] {
  return messages.flatMap((message) => message.filter((line) => /^(READY|RELOADING|STOPPING)=/.test(line)));
}

test('READY=1, RELOADING=1, READY=1, STOPPING=1 in order through a reload and a stop, with STATUS= and watchdog pings', async (t) => {
  if (!toolOrSkip(t, 'systemd-notify') || !toolOrSkip(t, 'python3')) return;
  const reader = await notifyReader(t);
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2'], { env: { NOTIFY_SOCKET: reader.path, WATCHDOG_USEC: '400000' } });
  await waitFor('READY=1', () => stateChanges(reader.messages).includes('READY=1'), 10_000);
  const ready = reader.messages.find((message) => message.includes('READY=1'));
  assert.ok(ready?.includes('STATUS=2 of 2 workers in rotation'), `READY=1 comes with the workers in rotation (got ${JSON.stringify(ready)})`);
  await waitFor('two watchdog pings', () => reader.messages.filter((message) => message.includes('WATCHDOG=1')).length >= 2, 5_000);

  for (const worker of (await warden.workers()).workers) {
    const environ = readFileSync(`/proc/${worker.pid}/environ`, 'utf8').split('\0');
    assert.ok(!environ.some((entry) => /^(NOTIFY_SOCKET|WATCHDOG_USEC)=/.test(entry)), `worker ${worker.slot} does not inherit the notify variables`);
  }

  process.kill(warden.pid, 'SIGHUP');
  await waitFor('READY=1 after the reload', () => stateChanges(reader.messages).join(' ') === 'READY=1 RELOADING=1 READY=1' || undefined, 30_000);
  assert.ok(reader.messages.some((message) => message.some((line) => /^STATUS=.*rolling reload to generation 2/.test(line))), 'STATUS= names the reload');

  process.kill(warden.pid, 'SIGTERM');
  const exit = await warden.exit();
  assert.equal(exit.code, 0);
  await waitFor('STOPPING=1', () => stateChanges(reader.messages).includes('STOPPING=1'), 5_000);
  assert.deepEqual(stateChanges(reader.messages), ['READY=1', 'RELOADING=1', 'READY=1', 'STOPPING=1'], 'each state change once, in order');
});

test('without systemd-notify on PATH, NOTIFY_SOCKET gets a warning and warden serves anyway', async (t) => {
  // A PATH with setpriv only (warden uses it for workers), not systemd-notify.
  const bin = mkdtempSync(join(tmpdir(), 'warden-path-'));
  t.after(() => rmSync(bin, { recursive: true, force: true }));
  const setpriv = findTool('setpriv');
  if (setpriv !== undefined) symlinkSync(setpriv, join(bin, 'setpriv'));
  const warden = await startWarden(t, [fixture('worker-env.mjs')], { env: { NOTIFY_SOCKET: '/nonexistent/notify.sock', PATH: bin } });
  await warden.expectOutput(/systemd-notify is not on PATH/);
  assert.equal((await get(warden.port, '/')).status, 200);
});
