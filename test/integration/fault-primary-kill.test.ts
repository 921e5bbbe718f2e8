// Fault 9: a primary killed with SIGKILL at any moment leaves no worker behind, within 2 s, and its
// ports are free at once. The moments: a worker just forked (before it ran a line), a worker whose
// import blocks its event loop, and workers serving under load while one is stopped and one spins.
// Workers are found by a marker in their environment, so even one reparented before the test saw
// it is counted. (test/integration/stop.test.ts covers the plain idle and busy-loop cases.)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { test, type TestContext } from 'node:test';
import { fixture, get, isAlive, killQuietly, ROOT, startLoad, startWarden, waitFor, WARDEN } from './harness.js';

const MARK = 'WARDEN_TEST_FAULT_MARK';
const GONE_WITHIN_MS = 2000;

/** Live pids (primary excluded) whose environment carries this marker. */
function marked(mark: string, except: number): number[] {
  const needle = `${MARK}=${mark}\0`;
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === except) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${name}/environ`, 'latin1');
    } catch (error) {
      // ENOENT/ESRCH: it exited meanwhile; EACCES: another user's process, not ours.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ESRCH' || code === 'EACCES') continue;
      throw error;
    }
    if (environ.includes(needle) && isAlive(Number(name))) found.push(Number(name));
  }
  return found;
}

/** Kill every marked process when the test ends, whatever happened (stopped ones too). */
function cleanupMarked(t: TestContext, mark: string, primary: () => number | undefined): void {
  t.after(() => {
    const pid = primary();
    if (pid !== undefined) killQuietly(pid);
    for (const worker of marked(mark, pid ?? -1)) {
      killQuietly(worker);
      killQuietly(worker, 'SIGCONT');
    }
  });
}

async function assertAllGone(mark: string, primaryPid: number, what: string, withinMs = GONE_WITHIN_MS): Promise<number> {
  const killedAt = Date.now();
  await waitFor(`every worker gone ${what}`, () => marked(mark, primaryPid).length === 0 || undefined, withinMs, 20)
    .catch((error: Error) => {
      throw new Error(`${error.message}; still alive: ${marked(mark, primaryPid).map((pid) => `${pid} (ppid ${readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[1]})`).join(', ')}`);
    });
  return Date.now() - killedAt;
}

function tryBind(port: number): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error) => resolve(error));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(undefined)));
  });
}

/**
 * The port can be bound again by a new warden. On a loaded machine the kernel may take a moment to
 * tear down the dead processes' sockets, so a few retries within a second are allowed (and reported).
 */
async function assertBindable(port: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    const error = await tryBind(port);
    if (error === undefined) return Date.now() - started;
    if (Date.now() - started > 1000) throw new Error(`port ${port} is still taken ${Date.now() - started} ms after the primary died: ${error.message}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Start warden without waiting for anything; kill its primary `delayMs` after its first child appears. */
async function killAfterFirstFork(t: TestContext, app: string, delayMs: number, env: NodeJS.ProcessEnv = {}): Promise<{ mark: string; pid: number; children: number }> {
  const mark = randomUUID();
  const child = spawn(process.execPath, [WARDEN, 'serve', app, '--workers', '2', '--port', '0', '--admin-port', '0'], {
    cwd: ROOT, env: { ...process.env, ...env, [MARK]: mark }, stdio: ['ignore', 'ignore', 'ignore'],
  });
  const pid = child.pid as number;
  cleanupMarked(t, mark, () => pid);
  await waitFor('the first worker to be forked', () => marked(mark, pid).length > 0 || undefined, 15_000, 2);
  if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const children = marked(mark, pid).length;
  process.kill(pid, 'SIGKILL');
  return { mark, pid, children };
}

test('a primary SIGKILLed while its workers start (0 to 600 ms after the first fork) leaves no worker after 2 s', async (t) => {
  for (const delayMs of [0, 15, 40, 100, 250, 600]) {
    const { mark, pid, children } = await killAfterFirstFork(t, fixture('slow.mjs'), delayMs);
    const tookMs = await assertAllGone(mark, pid, `after a kill ${delayMs} ms after the first fork`);
    t.diagnostic(`killed ${delayMs} ms after the first fork with ${children} worker process(es): all gone after ${tookMs} ms`);
  }
});

test('without setpriv on PATH (the watchdog fallback), a primary SIGKILLed while its workers start leaves no worker', async (t) => {
  // node itself is started by absolute path; an empty PATH only hides setpriv. Without the kernel's
  // help a worker orphaned before its first line notices only once node has started (its ppid
  // check), which on a loaded machine can take a few seconds.
  for (const delayMs of [0, 40, 250]) {
    const { mark, pid } = await killAfterFirstFork(t, fixture('slow.mjs'), delayMs, { PATH: '' });
    const tookMs = await assertAllGone(mark, pid, `after a kill ${delayMs} ms after the first fork`, 6000);
    t.diagnostic(`fallback, killed ${delayMs} ms after the first fork: all gone after ${tookMs} ms`);
  }
});

test('a primary SIGKILLed while a worker\'s import blocks its event loop leaves no worker after 2 s', async (t) => {
  const { mark, pid } = await killAfterFirstFork(t, fixture('slow-boot.cjs'), 1000);
  const tookMs = await assertAllGone(mark, pid, 'while the import spins');
  t.diagnostic(`gone after ${tookMs} ms`);
});

test('a primary SIGKILLed under load, with one worker stopped (SIGSTOP) and one spinning, leaves no worker after 2 s and frees its ports', async (t) => {
  const mark = randomUUID();
  // A long --timeout: nothing is judged or replaced during the test; the faults just sit there.
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '3', '--timeout', '60', '--capture-stacks', 'off'], { env: { [MARK]: mark } });
  cleanupMarked(t, mark, () => warden.pid);
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 5000 });
  t.after(() => load.stop());
  await waitFor('load to flow', () => load.samples.filter((s) => s.ok).length > 20 || undefined);
  // The request to /spin goes to whichever worker is next; it leaves rotation once its beats stop.
  get(warden.port, '/spin', 30_000).catch(() => undefined);
  const spinner = await waitFor('a worker to spin (late: out of rotation)', async () => (await warden.workers()).workers.find((w) => w.state === 'unhealthy' && !w.inRotation), 10_000);
  const { workers } = await warden.workers();
  const stopped = workers.find((w) => w.pid !== spinner.pid && w.inRotation);
  assert.ok(stopped?.pid, 'a worker left to stop');
  process.kill(stopped.pid, 'SIGSTOP');
  await waitFor('the worker to be stopped', () => readFileSync(`/proc/${stopped.pid}/stat`, 'utf8').split(') ')[1]?.startsWith('T') || undefined, 2000);
  const pids = marked(mark, warden.pid);
  assert.equal(pids.length, 3, `three workers alive before the kill (${pids.join(', ')})`);
  process.kill(warden.pid, 'SIGKILL');
  const tookMs = await assertAllGone(mark, warden.pid, 'after a kill under load');
  await load.stop();
  const serviceMs = await assertBindable(warden.port);
  const adminMs = await assertBindable(warden.adminPort);
  t.diagnostic(`3 workers (serving, stopped, spinning) gone ${tookMs} ms after the primary's SIGKILL; ports bindable after ${serviceMs} ms and ${adminMs} ms`);
});
