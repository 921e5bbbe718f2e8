// --uds PATH: warden serves on a unix domain socket, in both balance modes: real HTTP over the socket,
// a stale socket file replaced, a live one refused, a reload under load with no failed request, the
// file removed on exit.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, getJson, ownProcesses, ROOT, runCli, WARDEN, waitFor, withDeadline } from './harness.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-uds-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** One GET over the unix socket: status and pid. */
function getVia(socketPath: string, path = '/', agent: Agent | false = false, timeoutMs = 5000): Promise<{ status: number; pid: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, pid: (JSON.parse(body) as { pid: number }).pid }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path} over ${socketPath} took over ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

interface UdsWarden {
  pid: number;
  adminPort: number;
  output: () => string;
  exit: () => Promise<{ code: number | null; signal: string | null }>;
}

async function startOnSocket(t: TestContext, socketPath: string, args: string[], options: { env?: NodeJS.ProcessEnv; control?: boolean } = {}): Promise<UdsWarden> {
  const dir = tempDir(t);
  const control = options.control === false ? [] : ['--control', join(dir, 'control.sock')];
  const child = spawn(process.execPath, [WARDEN, 'serve', fixture('faults.mjs'), '--uds', socketPath, '--admin-port', '0', ...control, ...args], {
    cwd: ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const processes = ownProcesses(t);
  processes.own(child.pid, 'warden primary');
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const match = await waitFor('the startup line', () => new RegExp(`on unix:${socketPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(admin http://127\\.0\\.0\\.1:(\\d+)`).exec(output) ?? undefined, 15_000)
    .catch((error: Error) => {
      throw new Error(`${error.message}\noutput:\n${output}`);
    });
  const adminPort = Number(match[1]);
  await waitFor('all workers ready', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
  const { body } = await getJson<{ workers: { pid: number | null }[] }>(adminPort, '/workers');
  for (const worker of body.workers) processes.own(worker.pid ?? undefined, 'worker');
  return { pid: child.pid as number, adminPort, output: () => output, exit: () => withDeadline(exited, 30_000, 'warden to exit') };
}

/** Loops of GETs over the socket, new connection or keep-alive, until stopped. */
function loadVia(socketPath: string) {
  let running = true;
  const failures: string[] = [];
  let ok = 0;
  const loops = [false, false, true, true].map(async (keepAlive) => {
    const agent = keepAlive ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    while (running) {
      try {
        const answer = await getVia(socketPath, '/', agent, 5000);
        if (answer.status === 200) ok += 1;
        else failures.push(`status ${answer.status}`);
      } catch (error) {
        failures.push(`${keepAlive ? 'keep-alive' : 'new connection'}: ${(error as Error).message}`);
      }
    }
    if (agent) agent.destroy();
  });
  return {
    answered: () => ok,
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

for (const balance of ['handoff', 'shared'] as const) {
  test(`--uds with --balance ${balance}: HTTP over the socket, a stale file replaced, a reload under load fails nothing, the file removed on exit`, async (t) => {
    const dir = tempDir(t);
    const socketPath = join(dir, 'app.sock');
    // A stale socket file: its process was killed and never unlinked it.
    const stale = spawnSync(process.execPath, ['-e', "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))", socketPath]);
    assert.equal(stale.signal, 'SIGKILL');
    assert.ok(lstatSync(socketPath).isSocket(), 'the stale socket file is there');

    const warden = await startOnSocket(t, socketPath, ['--workers', '2', '--balance', balance]);
    assert.match(warden.output(), new RegExp(`on unix:${socketPath}`), 'the startup line names the socket');
    assert.equal((lstatSync(socketPath).mode & 0o777).toString(8), '666', 'the default --uds-mode');
    const first = await getVia(socketPath);
    assert.equal(first.status, 200);
    const { body } = await getJson<{ primary: { listen: { path?: string } }; connections: { acceptors: number } }>(warden.adminPort, '/workers');
    assert.equal(body.primary.listen.path, socketPath, '/workers names the socket');
    if (balance === 'shared') {
      await waitFor('both workers accepting from the socket', async () => (await getJson<{ connections: { acceptors: number } }>(warden.adminPort, '/workers')).body.connections.acceptors === 2 || undefined);
    }
    const before = new Set((await getJson<{ workers: { pid: number }[] }>(warden.adminPort, '/workers')).body.workers.map((w) => w.pid));

    const load = loadVia(socketPath);
    await waitFor('load flowing over the socket', () => load.answered() >= 10 || undefined, 15_000);
    process.kill(warden.pid, 'SIGHUP');
    await waitFor('the reload to complete', async () => {
      const view = (await getJson<{ primary: { reload: { last: { outcome: string } | null } } }>(warden.adminPort, '/workers')).body;
      return view.primary.reload.last?.outcome === 'completed' || undefined;
    }, 60_000);
    const atReload = load.answered();
    await waitFor('load flowing after the reload', () => load.answered() >= atReload + 10 || undefined, 15_000);
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${ok + failures.length} requests over the socket failed during the reload`);
    assert.ok(ok >= 20, `requests went through during the reload (${ok})`);
    const after = await getVia(socketPath);
    assert.equal(after.status, 200);
    assert.equal(before.has(after.pid), false, 'a new worker answers after the reload');
    assert.ok(existsSync(socketPath), 'the socket file stayed through the reload');

    process.kill(warden.pid, 'SIGTERM');
    assert.deepEqual(await warden.exit(), { code: 0, signal: null }, warden.output());
    assert.equal(existsSync(socketPath), false, 'the socket file is removed on exit');
  });
}

test('--uds without --control: `warden status` and `warden scale` find the warden by its socket path, relative or absolute', async (t) => {
  const dir = tempDir(t);
  const socketPath = join(dir, 'app.sock');
  const env = { XDG_RUNTIME_DIR: tempDir(t) };
  const warden = await startOnSocket(t, socketPath, ['--workers', '1'], { env, control: false });
  assert.match(warden.output(), new RegExp(`control ${env.XDG_RUNTIME_DIR}/warden-\\d+/control-uds-[0-9a-f]{12}\\.sock`), 'the default control socket, named after the --uds path');
  const status = await runCli(t, ['status', '--uds', relative(ROOT, socketPath), '--json'], { env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { workers: unknown[] }).workers.length, 1, 'a relative path, resolved from the working directory');
  const scale = await runCli(t, ['scale', '2', '--uds', socketPath], { env, timeoutMs: 60_000 });
  assert.equal(scale.code, 0, scale.stderr);
  const { body } = await getJson<{ workers: { state: string }[] }>(warden.adminPort, '/workers');
  assert.equal(body.workers.filter((w) => w.state === 'ready').length, 2);
  const elsewhere = await runCli(t, ['status', '--uds', join(dir, 'other.sock')], { env });
  assert.notEqual(elsewhere.code, 0, 'another path names another warden');
  process.kill(warden.pid, 'SIGTERM');
  assert.deepEqual(await warden.exit(), { code: 0, signal: null }, warden.output());
});

test('--uds on a socket another process serves: refused with a clear error, and that process keeps its socket', async (t) => {
  const dir = tempDir(t);
  const socketPath = join(dir, 'busy.sock');
  // warden's probe connects and closes at once: writing to it may fail with EPIPE or ECONNRESET.
  const other = createServer((socket) => socket.on('error', () => undefined).end('mine\n'));
  await new Promise<void>((resolve) => other.listen(socketPath, resolve));
  t.after(() => other.close());
  const outcome = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', socketPath, '--admin-port', '0', '--control', join(dir, 'control.sock')]);
  assert.equal(outcome.code, 1, outcome.stderr);
  assert.match(outcome.stderr, new RegExp(`cannot listen on ${socketPath} for the service: another process is serving on`));
  assert.ok(lstatSync(socketPath).isSocket(), 'the live socket file is still there');
  const reply = await withDeadline(new Promise<string>((resolve, reject) => {
    let text = '';
    const socket = connect(socketPath);
    socket.setEncoding('utf8').on('data', (data: string) => (text += data)).once('end', () => resolve(text)).once('error', reject);
  }), 5000, 'the other server to answer');
  assert.equal(reply, 'mine\n', 'and still reaches its own server');
});

test('--uds refuses a path that is not a socket, and conflicts with --port, PORT and --sticky', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'plain-file');
  writeFileSync(file, 'keep me');
  const notSocket = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', file, '--admin-port', '0', '--control', join(dir, 'c.sock')]);
  assert.notEqual(notSocket.code, 0);
  assert.match(notSocket.stderr, /exists and is not a socket/);
  assert.ok(existsSync(file), 'the file is left alone');
  const withPort = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', join(dir, 'a.sock'), '--port', '8123']);
  assert.notEqual(withPort.code, 0);
  assert.match(withPort.stderr, /--uds and --port are both set \(--port from --port\)/);
  const withEnv = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', join(dir, 'a.sock')], { env: { PORT: '8124' } });
  assert.match(withEnv.stderr, /--uds and --port are both set \(--port from PORT\)/);
  const sticky = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', join(dir, 'a.sock'), '--sticky']);
  assert.match(sticky.stderr, /--sticky cannot work with --uds/);
  const mode = await runCli(t, ['serve', fixture('faults.mjs'), '--uds', join(dir, 'a.sock'), '--uds-mode', '999']);
  assert.match(mode.stderr, /--uds-mode must be an octal file mode/);
});
