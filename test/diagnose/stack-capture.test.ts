// Tests of captureStack against real processes: each fixture in test/fixtures/diagnose/ runs with
// --inspect-port and gets its main thread stuck in a different way (busy loop, regex, Atomics.wait,
// a blocking read, SIGSTOP). Linux only: it reads /proc to see that a process is stopped or sleeping.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import net from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

import { hasProcFs, readStat } from '../../src/os/proc.js';
import { captureStack, formatStack, freeInspectPort } from '../../src/diagnose/stack-capture.js';
import { errnoCode } from '../../src/errors.js';

/** Generous: the captures themselves take ~100-300 ms; this only bounds a broken test. */
const CAPTURE_TIMEOUT_MS = 5000;
/** For the targets that never answer: the capture must give up after this long, not hang. */
const SHORT_TIMEOUT_MS = 1000;

function fixture(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/diagnose/${name}`, import.meta.url));
}

interface StalledWorker {
  pid: number;
  port: number;
  stdout: () => string;
  stderr: () => string;
}

/**
 * Starts a fixture with --inspect-port on a free port and waits until it prints "stalled" (right
 * before it blocks). Kills it by pid when the test ends, passed or failed, stopped or not.
 */
async function startStalled(t: TestContext, name: string, env: Record<string, string> = {}): Promise<StalledWorker> {
  const port = await freeInspectPort();
  const child = spawn(process.execPath, [`--inspect-port=127.0.0.1:${port}`, fixture(name)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const pid = child.pid;
  assert.ok(pid !== undefined, `${name} did not start`);
  t.after(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    // SIGCONT first so a stopped child is not left behind if SIGKILL's delivery were ever delayed.
    for (const signal of ['SIGCONT', 'SIGKILL'] as const) {
      try {
        process.kill(pid, signal);
      } catch (error) {
        if (errnoCode(error) !== 'ESRCH') throw error;
      }
    }
    await exited;
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  await waitFor(() => stdout.includes('stalled\n'), 20_000, () => `${name} never printed "stalled"; stdout: ${stdout} stderr: ${stderr}`);
  return { pid, port, stdout: () => stdout, stderr: () => stderr };
}

async function waitFor(isDone: () => boolean, timeoutMs: number, describeFailure: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!isDone()) {
    if (Date.now() > deadline) assert.fail(describeFailure());
    await sleep(10);
  }
}

function isListening(port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error) => (errnoCode(error) === 'ECONNREFUSED' ? resolve(false) : reject(error)));
  });
}

describe('captureStack', { skip: hasProcFs() ? false : 'needs Linux /proc and POSIX signals' }, () => {
  test('a busy loop gives the stack of spinForever in spin.mjs; before SIGUSR1 nothing listens', async (t) => {
    const worker = await startStalled(t, 'spin.mjs');
    assert.equal(await isListening(worker.port), false, '--inspect-port alone must not open the inspector');
    assert.doesNotMatch(worker.stderr(), /Debugger listening/);

    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: CAPTURE_TIMEOUT_MS });
    assert.ok(capture.ok, `no stack: ${capture.ok ? '' : capture.reason}`);
    const [top] = capture.frames;
    assert.equal(top?.functionName, 'spinForever');
    assert.equal(top?.url, fixture('spin.mjs'), 'file: URLs are turned into paths');
    assert.ok(top.lineNumber >= 1 && top.columnNumber >= 1, 'line and column are 1-based');
    const text = formatStack(capture.frames);
    assert.ok(text.startsWith(`    at spinForever (${fixture('spin.mjs')}:${top.lineNumber}:${top.columnNumber})\n`), text);
    assert.ok(capture.tookMs < CAPTURE_TIMEOUT_MS);
    assert.equal(await isListening(worker.port), true, 'after SIGUSR1 the inspector stays open');
  });

  test('a catastrophic regex gives the stack of the function calling .test()', async (t) => {
    const worker = await startStalled(t, 'regex.mjs');
    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: CAPTURE_TIMEOUT_MS });
    assert.ok(capture.ok, `no stack: ${capture.ok ? '' : capture.reason}`);
    assert.equal(capture.frames[0]?.functionName, 'matchHeader');
    assert.equal(capture.frames[0]?.url, fixture('regex.mjs'));
  });

  test('Atomics.wait gives a stack too: V8 wakes the waiting thread for the inspector interrupts', async (t) => {
    const worker = await startStalled(t, 'atomics.mjs');
    await waitFor(() => readStat(worker.pid)?.state === 'S', 5000, () => 'the atomics fixture never went to sleep');
    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: CAPTURE_TIMEOUT_MS });
    assert.ok(capture.ok, `no stack: ${capture.ok ? '' : capture.reason}`);
    assert.equal(capture.frames[0]?.functionName, 'waitForever');
    assert.equal(capture.frames[0]?.url, fixture('atomics.mjs'));
  });

  /** A FIFO with no writer: opening it blocks the fixture's main thread in the kernel until the test ends. */
  function fifo(t: TestContext): string {
    const dir = mkdtempSync(join(tmpdir(), 'warden-fifo-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const path = join(dir, 'never-written');
    execFileSync('mkfifo', [path]);
    return path;
  }

  test('a long native call (a blocking read) takes no interrupt, so the inspector does not open before the deadline', async (t) => {
    const worker = await startStalled(t, 'blocking-read.mjs', { BLOCK_ON: fifo(t) });
    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: SHORT_TIMEOUT_MS });
    assert.doesNotMatch(worker.stdout(), /read returned/, 'the read cannot return: nothing writes the FIFO');
    assert.equal(capture.ok, false);
    assert.match(capture.ok ? '' : capture.reason, /^inspector did not open on 127\.0\.0\.1:\d+ within 1000 ms: its main thread took no interrupt/);
    assert.ok(capture.tookMs >= SHORT_TIMEOUT_MS && capture.tookMs < SHORT_TIMEOUT_MS + 4000, `took ${capture.tookMs} ms`);
  });

  test('a long native call with the inspector already open: Debugger.enable is not answered', async (t) => {
    const worker = await startStalled(t, 'blocking-read.mjs', { BLOCK_ON: fifo(t), OPEN_INSPECTOR: '1' });
    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: SHORT_TIMEOUT_MS });
    assert.doesNotMatch(worker.stdout(), /read returned/);
    assert.equal(capture.ok, false);
    assert.match(capture.ok ? '' : capture.reason, /^did not pause: Debugger\.enable not answered/);
    assert.ok(capture.tookMs < SHORT_TIMEOUT_MS + 4000, `took ${capture.tookMs} ms`);
  });

  test('a SIGSTOPped process: "inspector did not open" within the timeout, naming the stop', async (t) => {
    const worker = await startStalled(t, 'spin.mjs');
    process.kill(worker.pid, 'SIGSTOP');
    await waitFor(() => readStat(worker.pid)?.state === 'T', 5000, () => 'the spin fixture never showed as stopped');
    const capture = await captureStack(worker.pid, worker.port, { timeoutMs: SHORT_TIMEOUT_MS });
    assert.equal(capture.ok, false);
    assert.match(capture.ok ? '' : capture.reason, /^inspector did not open on 127\.0\.0\.1:\d+ within 1000 ms: the process is stopped/);
    assert.ok(capture.tookMs >= SHORT_TIMEOUT_MS && capture.tookMs < SHORT_TIMEOUT_MS + 4000, `took ${capture.tookMs} ms`);
  });

  test('a pid that does not exist: "process is gone" at once', async () => {
    // Above the kernel's largest pid (2^22), so no process can have it.
    const capture = await captureStack(2 ** 22 + 1, await freeInspectPort(), { timeoutMs: SHORT_TIMEOUT_MS });
    assert.deepEqual({ ...capture, tookMs: 0 }, { ok: false, reason: 'process is gone', tookMs: 0 });
    // "At once": no waiting out the 1 s timeout; the bound only has to tell the two apart.
    assert.ok(capture.tookMs < SHORT_TIMEOUT_MS / 2, `took ${capture.tookMs} ms`);
  });
});

describe('formatStack', () => {
  test('writes Error-stack lines; a frame without a function name has no parentheses', () => {
    const text = formatStack([
      { functionName: 'spinForever', url: '/srv/app.mjs', lineNumber: 12, columnNumber: 5 },
      { functionName: '', url: '/srv/app.mjs', lineNumber: 20, columnNumber: 3 },
      { functionName: 'listOnTimeout', url: 'node:internal/timers', lineNumber: 581, columnNumber: 17 },
    ]);
    assert.equal(
      text,
      ['    at spinForever (/srv/app.mjs:12:5)', '    at /srv/app.mjs:20:3', '    at listOnTimeout (node:internal/timers:581:17)'].join('\n'),
    );
  });
});
