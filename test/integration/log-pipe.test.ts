// warden's own output failing or flooded: a closed stdout (`warden serve … | head -1`) must not
// crash, spin or block anything; a worker writing 100 MB/s or one 10 MB line leaves the primary
// responsive and its output whole (long lines in marked pieces of at most 1 MiB).

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, get, getJson, killQuietly, ownProcesses, ROOT, waitFor, WARDEN, withDeadline, type WorkersBody, freePort } from './harness.js';

interface Started {
  pid: number;
  port: number;
  adminPort: number;
  child: ReturnType<typeof spawn>;
}

/** Start warden with stdout handed to `onStdout`, so a test can stop reading or stream-check it. */
async function startRaw(t: TestContext, args: string[], env: NodeJS.ProcessEnv, onStdout: (chunk: Buffer) => void): Promise<Started> {
  const child = spawn(process.execPath, [WARDEN, 'serve', ...args, '--port', '0', '--admin-port', '0'], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid as number;
  // Owned: the primary and every worker it forks are killed by pid when the test ends.
  const owned = ownProcesses(t);
  owned.own(pid, 'warden primary');
  let head = '';
  child.stderr?.on('data', () => undefined);
  const ports = new Promise<[number, number]>((resolve) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      if (head.length < 4096) {
        head += chunk.toString();
        const match = /on http:\/\/127\.0\.0\.1:(\d+) \(admin http:\/\/127\.0\.0\.1:(\d+)/.exec(head);
        if (match) resolve([Number(match[1]), Number(match[2])]);
      }
      onStdout(chunk);
    });
  });
  const [port, adminPort] = await waitFor('the startup line', () => Promise.race([ports, new Promise<undefined>((r) => setTimeout(r, 100))]), 15_000);
  await waitFor('ready', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
  for (const worker of (await getJson<{ workers: { pid: number }[] }>(adminPort, '/workers')).body.workers) owned.own(worker.pid, 'worker');
  return { pid, port, adminPort, child };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}

function rssBytes(pid: number): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

/** The median of five /livez answers, 50 ms apart: a primary that stalls is slow on all of them, a loaded machine on one. */
async function medianLivez(adminPort: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    times.push(await timedLivez(adminPort));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return times.sort((a, b) => a - b)[2] as number;
}

async function timedLivez(adminPort: number): Promise<number> {
  const start = performance.now();
  const answer = await get(adminPort, '/livez', 5000);
  assert.equal(answer.status, 200);
  return performance.now() - start;
}

test('a closed stdout does not crash, spin or stall warden; the drops are counted in /workers', async (t) => {
  const warden = await startRaw(t, [fixture('chatty.mjs'), '--workers', '2'], {}, () => undefined);
  // Like `| head -1` exiting: the read end of warden's stdout goes away.
  warden.child.stdout?.destroy();
  // Worker output and a worker restart write to the closed pipe.
  const { workers } = (await getJson<WorkersBody>(warden.adminPort, '/workers')).body;
  killQuietly(workers[0]?.pid as number, 'SIGKILL');
  const logs = await waitFor('drops counted', async () => {
    const body = (await getJson<WorkersBody>(warden.adminPort, '/workers')).body;
    return body.logs.stdout.droppedLines > 0 ? body.logs.stdout : undefined;
  }, 10_000);
  assert.equal(logs.lastError, 'EPIPE');
  await waitFor('the replacement ready', async () => (await getJson(warden.adminPort, '/readyz')).status === 200, 20_000);
  const before = cpuTicks(warden.pid);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const ticks = cpuTicks(warden.pid) - before;
  assert.ok(ticks < 60, `primary used ${ticks} CPU ticks in 2 s with a closed stdout (a spin would be ~200)`);
  assert.equal((await get(warden.port, '/')).status, 200, 'still serving');
  const livezMs = await medianLivez(warden.adminPort);
  assert.ok(livezMs < 1000, `/livez answers promptly (median ${livezMs.toFixed(0)} ms)`);
});

test('a worker flooding stdout (asking for 100 MB/s): the primary answers promptly and every line is whole', async (t) => {
  let rest = '';
  let lines = 0;
  let bytes = 0;
  const torn: string[] = [];
  const warden = await startRaw(t, [fixture('flood.mjs'), '--workers', '1'], { FLOOD: 'lines' }, (chunk) => {
    bytes += chunk.length;
    const text = rest + chunk.toString('latin1');
    const parts = text.split('\n');
    rest = parts.pop() as string;
    for (const line of parts) {
      lines += 1;
      if (!/^\[w1 \d+\] flood-1-f{91}$/.test(line) && !line.startsWith('[warden]') && torn.length < 5) torn.push(line.slice(0, 200));
    }
  });
  const startBytes = bytes;
  const started = performance.now();
  const latencies: number[] = [];
  while (performance.now() - started < 3000) {
    latencies.push(await timedLivez(warden.adminPort));
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const mbPerS = (bytes - startBytes) / 1024 / 1024 / ((performance.now() - started) / 1000);
  t.diagnostic(`read ${mbPerS.toFixed(0)} MB/s of warden output; /livez max ${Math.max(...latencies).toFixed(0)} ms; primary RSS ${(rssBytes(warden.pid) / 1048576).toFixed(0)} MB`);
  assert.deepEqual(torn, [], 'no torn or interleaved lines');
  assert.ok(lines > 10_000, `lines arrived (${lines})`);
  // Bounded loosely for a loaded shared machine; a primary blocked on a full pipe would never answer.
  assert.ok(Math.max(...latencies) < 3000, `/livez answered within 3 s during the flood (max ${Math.max(...latencies).toFixed(0)} ms)`);
  assert.ok(rssBytes(warden.pid) < 400 * 1024 * 1024, 'primary memory bounded');
});

test('one 10 MB line comes out in marked pieces of at most 1 MiB, whole and in order', async (t) => {
  let out = '';
  const warden = await startRaw(t, [fixture('flood.mjs'), '--workers', '1'], { FLOOD: 'bigline' }, (chunk) => {
    out += chunk.toString('latin1');
  });
  await waitFor('the marker after the line', () => out.includes('after-big-line-1\n') || undefined, 20_000);
  const lines = out.split('\n').filter((line) => line.includes('LLLL'));
  // The primary never blocks on its stdout: when this reader falls behind by more than the log
  // queue holds (a busy machine), whole pieces are dropped, and counted. Each piece is written or
  // counted as dropped; only then is every byte there.
  const { body } = await getJson<{ logs: { stdout: { droppedLines: number; droppedBytes: number } } }>(warden.adminPort, '/workers');
  const dropped = body.logs.stdout;
  assert.equal(lines.length + dropped.droppedLines, 10, `ten pieces of 1 MiB, written (${lines.length}) or counted as dropped (${dropped.droppedLines})`);
  let total = 0;
  lines.forEach((line, index) => {
    const match = /^\[w1 \d+( partial)?\] (L+)$/.exec(line);
    assert.ok(match, `piece ${index} is a whole record`);
    // The last piece is the one not marked partial, unless it was among those dropped.
    if (index < lines.length - 1 || dropped.droppedLines === 0) assert.equal(match[1] !== undefined, index < lines.length - 1, 'every piece but the last is marked partial');
    assert.ok((match[2] as string).length <= 1024 * 1024);
    total += (match[2] as string).length;
  });
  assert.equal(total + dropped.droppedLines * 1024 * 1024, 10 * 1024 * 1024, 'every byte written, or counted in a dropped piece');
  const livezMs = await medianLivez(warden.adminPort);
  assert.ok(livezMs < 1000, `/livez answers promptly (median ${livezMs.toFixed(0)} ms)`);
});


test('stdout on a full disk (/dev/full): ENOSPC is counted in /workers, retried without spinning, and warden keeps serving and stops cleanly', async (t) => {
  const full = openSync('/dev/full', 'w');
  t.after(() => closeSync(full));
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [WARDEN, 'serve', fixture('chatty.mjs'), '--workers', '2', '--port', String(port), '--admin-port', String(adminPort)], {
    cwd: ROOT, stdio: ['ignore', full, 'pipe'],
  });
  const owned = ownProcesses(t);
  owned.own(child.pid, 'warden primary');
  child.stderr?.on('data', () => undefined);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await waitFor('ready', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
  const logs = await waitFor('ENOSPC counted', async () => {
    const body = (await getJson<WorkersBody>(adminPort, '/workers')).body;
    for (const worker of body.workers) owned.own(worker.pid ?? undefined, 'worker');
    return body.logs.stdout.droppedLines > 0 ? body.logs.stdout : undefined;
  }, 10_000);
  assert.equal(logs.lastError, 'ENOSPC');
  assert.equal(logs.failing, true, 'the stream knows it is failing (writes wait for the retry)');
  // Still failing a few retries later, the primary idles: one write a second, not a loop of them.
  const before = cpuTicks(child.pid as number);
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const ticks = cpuTicks(child.pid as number) - before;
  t.diagnostic(`primary CPU ticks in 2 s with stdout on a full disk: ${ticks}`);
  // Idle it uses about 2 ticks (10 ms each); retrying at once instead of after 1 s used about 30.
  assert.ok(ticks < 15, `primary used ${ticks} CPU ticks in 2 s with stdout on a full disk`);
  const later = (await getJson<WorkersBody>(adminPort, '/workers')).body.logs.stdout;
  assert.equal(later.lastError, 'ENOSPC');
  assert.ok(later.droppedLines >= logs.droppedLines, 'drops only grow');
  assert.equal((await get(port, '/')).status, 200, 'still serving');
  process.kill(child.pid as number, 'SIGTERM');
  assert.deepEqual(await withDeadline(exited, 15_000, 'warden to exit after SIGTERM'), { code: 0, signal: null }, 'a failing stdout does not make the stop unclean');
});

test('on exit warden waits at most 2 s for log lines a stuck stdout will not take', async (t) => {
  // A FIFO whose read end is held open and never read: once its 64 KiB fill, every write waits.
  const dir = mkdtempSync(join(tmpdir(), 'warden-stuck-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'stdout');
  execFileSync('mkfifo', [fifo]);
  const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  t.after(() => closeSync(reader));
  const writer = openSync(fifo, 'w');
  t.after(() => closeSync(writer));
  const [port, adminPort] = [await freePort(), await freePort()];
  const child = spawn(process.execPath, [WARDEN, 'serve', fixture('chatty.mjs'), '--workers', '2', '--port', String(port), '--admin-port', String(adminPort)], {
    cwd: ROOT, stdio: ['ignore', writer, 'pipe'],
  });
  const owned = ownProcesses(t);
  owned.own(child.pid, 'warden primary');
  child.stderr?.on('data', () => undefined);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  await waitFor('ready', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
  for (const worker of (await getJson<WorkersBody>(adminPort, '/workers')).body.workers) owned.own(worker.pid ?? undefined, 'worker');
  const stopAt = Date.now();
  process.kill(child.pid as number, 'SIGTERM');
  const status = await withDeadline(exited, 15_000, 'warden to exit with its stdout stuck');
  const tookMs = Date.now() - stopAt;
  assert.deepEqual(status, { code: 0, signal: null });
  // Two workers' 800 KB of output cannot fit in the FIFO, so the flush waits its full 2 s (that
  // shows the output was stuck); then warden exits anyway. 8 s leaves room for a loaded machine.
  assert.ok(tookMs >= 1900, `the flush waited for the stuck output (exited ${tookMs} ms after SIGTERM)`);
  assert.ok(tookMs < 8000, `exited ${tookMs} ms after SIGTERM, the 2 s flush bound included`);
});
