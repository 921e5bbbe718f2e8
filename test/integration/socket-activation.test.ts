// Serving on inherited sockets, in both balance modes: systemd socket activation through
// systemd-socket-activate (the service and admin sockets named by LISTEN_FDNAMES; the connection
// that started warden is answered), `--fd N` with a socket the test binds and passes as fd 3, and a
// restart on a socket held across it (bench/lib/socket-holder.py plays systemd's part) failing nothing.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { join } from 'node:path';
import { ROOT, WARDEN, fixture, get, getJson, ownProcesses, waitFor, withDeadline, freePort } from './harness.js';
import { toolOrSkip } from './systemd-tools.js';


function collect(child: ReturnType<typeof spawn>): () => string {
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  return () => output;
}

for (const mode of ['shared', 'handoff'] as const) {
  test(`--balance ${mode}: systemd socket activation serves the service and admin sockets it is given, the first connection included`, async (t) => {
    if (!toolOrSkip(t, 'systemd-socket-activate')) return;
    const [port, adminPort] = [await freePort(), await freePort()];
    const owned = ownProcesses(t);
    // systemd-socket-activate execs the command on the first connection, so its pid is warden's.
    const child = spawn('systemd-socket-activate', [
      '-l', `127.0.0.1:${port}`, '-l', `127.0.0.1:${adminPort}`, '--fdname=service:admin', '-E', 'PATH', '-E', 'HOME',
      process.execPath, WARDEN, 'serve', fixture('worker-env.mjs'), '--workers', '2', '--balance', mode, '--port', '1', '--admin-port', '2',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    owned.own(child.pid, 'systemd-socket-activate, then the warden primary');
    const output = collect(child);
    await waitFor('systemd-socket-activate to listen', () => /Listening on 127\.0\.0\.1:\d+ as 4/.test(output()), 10_000);

    const first = await get(port, '/', 20_000);
    assert.equal(first.status, 200, 'the connection that started warden waited in the queue and was answered');
    await waitFor('the startup line', () => /warden \S+ serving/.test(output()), 10_000);
    assert.match(output(), new RegExp(`on http://127\\.0\\.0\\.1:${port} \\(admin http://127\\.0\\.0\\.1:${adminPort}`), 'warden serves on the inherited ports, not --port 1 / --admin-port 2');
    await waitFor('/readyz 200 on the inherited admin socket', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
    const workers = (await getJson<{ workers: { pid: number | null }[] }>(adminPort, '/workers')).body.workers;
    for (const worker of workers) owned.own(worker.pid ?? undefined, 'worker');
    assert.equal(workers.length, 2);
    const pids = new Set<number>();
    for (let i = 0; i < 40 && pids.size < 2; i++) pids.add((JSON.parse((await get(port, '/')).body) as { pid: number }).pid);
    assert.equal(pids.size, 2, 'both workers answer on the inherited socket');

    process.kill(child.pid as number, 'SIGTERM');
    const [code] = (await withDeadline(once(child, 'exit'), 30_000, 'warden to stop')) as [number | null];
    assert.equal(code, 0, output());
  });

  test(`--balance ${mode}: --fd 3 serves on a socket passed as descriptor 3, and the test's own copy can be closed`, async (t) => {
    const server = createServer();
    server.listen({ host: '127.0.0.1', port: 0 });
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const owned = ownProcesses(t);
    const child = spawn(process.execPath, [WARDEN, 'serve', fixture('worker-env.mjs'), '--workers', '2', '--balance', mode, '--fd', '3', '--admin-port', '0'],
      { stdio: ['ignore', 'pipe', 'pipe', fd] });
    owned.own(child.pid, 'warden primary');
    // The test must not accept from its copy: warden's is the one that serves.
    server.close();
    const output = collect(child);
    const match = await waitFor('the startup line', () => /on http:\/\/127\.0\.0\.1:(\d+) \(admin http:\/\/127\.0\.0\.1:(\d+)/.exec(output()) ?? undefined, 15_000);
    assert.equal(Number(match[1]), port, 'the startup line names the inherited socket\'s port');
    const adminPort = Number(match[2]);
    await waitFor('/readyz 200', async () => (await getJson(adminPort, '/readyz')).status === 200, 20_000);
    for (const worker of (await getJson<{ workers: { pid: number | null }[] }>(adminPort, '/workers')).body.workers) owned.own(worker.pid ?? undefined, 'worker');
    assert.equal((await get(port, '/')).status, 200);
    process.kill(child.pid as number, 'SIGTERM');
    const [code] = (await withDeadline(once(child, 'exit'), 30_000, 'warden to stop')) as [number | null];
    assert.equal(code, 0, output());
  });
}

test('--fd of a descriptor that is not a socket fails naming it, with exit 1', async (t) => {
  const owned = ownProcesses(t);
  const child = spawn(process.execPath, [WARDEN, 'serve', fixture('worker-env.mjs'), '--fd', '9', '--admin-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  owned.own(child.pid, 'warden primary');
  const output = collect(child);
  const [code] = (await withDeadline(once(child, 'exit'), 15_000, 'warden to exit')) as [number | null];
  assert.equal(code, 1);
  assert.match(output(), /cannot listen on file descriptor 9 for the service/);
});

for (const mode of ['shared', 'handoff'] as const) {
  test(`--balance ${mode}: restarted on a held socket (stop, then start, as systemctl restart), warden refuses and fails no request sent meanwhile`, async (t) => {
    if (!toolOrSkip(t, 'python3')) return;
    const [port, adminPort] = [await freePort(), await freePort()];
    const owned = ownProcesses(t);
    const holder = spawn('python3', [join(ROOT, 'bench', 'lib', 'socket-holder.py'), String(port), '511', '--',
      process.execPath, WARDEN, 'serve', fixture('worker-env.mjs'), '--workers', '2', '--balance', mode, '--fd', '3', '--admin-port', String(adminPort)],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    owned.own(holder.pid, 'socket holder');
    const output = collect(holder);
    const primaryPid = async () => {
      const answer = await getJson<{ primary: { pid: number; phase: string }; workers: { pid: number | null; inRotation: boolean }[] }>(adminPort, '/workers').catch(() => undefined);
      if (answer === undefined || answer.status !== 200 || answer.body.primary.phase !== 'running' || !answer.body.workers.some((worker) => worker.inRotation)) return undefined;
      for (const worker of answer.body.workers) owned.own(worker.pid ?? undefined, 'worker');
      owned.own(answer.body.primary.pid, 'warden primary');
      return answer.body.primary.pid;
    };
    const first = await waitFor('the first warden in rotation', primaryPid, 20_000);

    const outcomes = { ok: 0, other: [] as string[] };
    let isLoading = true;
    const loop = async () => {
      while (isLoading) {
        const answer = await get(port, '/', 20_000).catch((error: Error) => ({ status: 0, body: (error as NodeJS.ErrnoException).code ?? error.message }));
        if (answer.status === 200) outcomes.ok += 1;
        else outcomes.other.push(`${answer.status} ${answer.body.slice(0, 80)}`);
      }
    };
    const loops = [loop(), loop(), loop(), loop()];
    await waitFor('requests served before the restart', () => outcomes.ok >= 20, 10_000);
    process.kill(holder.pid as number, 'SIGHUP');
    await waitFor('the old warden to exit', () => /holder: \d+ exited with 0/.test(output()), 30_000);
    const second = await waitFor('a new warden in rotation', async () => {
      const pid = await primaryPid();
      return pid !== undefined && pid !== first ? pid : undefined;
    }, 30_000);
    const atRestart = outcomes.ok;
    await waitFor('requests served after the restart', () => outcomes.ok >= atRestart + 20, 10_000);
    isLoading = false;
    await Promise.all(loops);
    assert.notEqual(second, first);
    assert.deepEqual(outcomes.other, [], `every request was answered 200 (${outcomes.ok} were)\n${output()}`);
  });
}
