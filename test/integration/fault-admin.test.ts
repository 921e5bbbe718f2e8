// The attack surface of a running warden: its admin server survives malformed requests, oversized
// headers and bodies, slow-loris clients, unknown paths and random bytes, without crashing or
// showing a stack; it warns when bound beyond loopback; and a worker's inspector listens only
// during a stack capture. One warden serves every check that does not need its own.

import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import fc from 'fast-check';
import { fixture, get, isAlive, startWarden, waitFor, type RunningWarden } from './harness.js';

const STACK = /\bat .*\.(?:js|ts|mjs|cjs):\d+/;

/** Send raw bytes, half-close, and collect what comes back until the server closes (or 3 s pass). */
function raw(port: number, bytes: Uint8Array | string, { end = true, waitMs = 3000 } = {}): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, waitMs);
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset a connection it refused to read further; what it answered still counts.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.write(bytes, () => {
      if (end) socket.end();
    });
  });
}

async function livezMs(warden: RunningWarden): Promise<number> {
  const started = Date.now();
  const answer = await get(warden.adminPort, '/livez', 5000);
  assert.equal(answer.status, 200, `/livez answers 200 (got ${answer.status})`);
  return Date.now() - started;
}

function statusOf(text: string): number | undefined {
  const match = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  return match === null ? undefined : Number(match[1]);
}

test('the admin server under hostile clients', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2']);
  const assertServing = async () => {
    assert.ok(isAlive(warden.pid), 'the primary is alive');
    await livezMs(warden);
  };

  await t.test('an unknown path gets 404 in JSON, naming the routes, with no stack', async () => {
    const answer = await get(warden.adminPort, '/etc/passwd?x=1');
    assert.equal(answer.status, 404);
    const body = JSON.parse(answer.body) as { error: string; routes: string[] };
    assert.match(body.error, /no route \/etc\/passwd/);
    assert.ok(body.routes.includes('/livez'));
    assert.doesNotMatch(answer.body, STACK);
  });

  await t.test('a request body is refused with 413 without being read, and the connection closes', async () => {
    const started = Date.now();
    const { text, closed } = await raw(warden.adminPort, 'GET /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n', { end: false });
    assert.equal(statusOf(text), 413, `413 for a body (got ${JSON.stringify(text.slice(0, 60))})`);
    assert.ok(closed, 'the server closed the connection instead of waiting for 100 MB');
    assert.ok(Date.now() - started < 2500, `answered at once (${Date.now() - started} ms)`);
    const post = await raw(warden.adminPort, 'POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    assert.equal(statusOf(post.text), 405);
    await assertServing();
  });

  await t.test('headers over 8 KB get 431; a malformed request gets 400; neither shows a stack', async () => {
    const big = await raw(warden.adminPort, `GET /livez HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(12 * 1024)}\r\n\r\n`);
    assert.equal(statusOf(big.text), 431, `431 for 12 KB of headers (got ${JSON.stringify(big.text.slice(0, 60))})`);
    const bad = await raw(warden.adminPort, 'GET /livez HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.equal(statusOf(bad.text), 400);
    for (const { text } of [big, bad]) assert.doesNotMatch(text, STACK);
    await assertServing();
  });

  await t.test('200 slow-loris connections do not delay /livez, and are cut off after the headers timeout', async () => {
    const slow: Socket[] = [];
    const closedAt = new Map<Socket, number>();
    const timers: NodeJS.Timeout[] = [];
    t.after(() => {
      for (const timer of timers) clearInterval(timer);
      for (const socket of slow) socket.destroy();
    });
    const openedAt = Date.now();
    for (let i = 0; i < 200; i++) {
      const socket = connect(warden.adminPort, '127.0.0.1');
      socket.on('error', () => undefined); // reset by the server when it gives up on it: expected
      socket.on('close', () => closedAt.set(socket, Date.now()));
      socket.once('connect', () => {
        socket.write('GET /livez HTTP/1.1\r\nHost: x\r\n');
        // One header line every 400 ms: never finishing, always "active".
        timers.push(setInterval(() => socket.writable && socket.write(`X-${i}: y\r\n`), 400));
      });
      slow.push(socket);
    }
    await waitFor('the slow connections to be open', () => slow.every((socket) => !socket.connecting) || undefined, 5000);
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      latencies.push(await livezMs(warden));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    t.diagnostic(`/livez with 200 slow-loris connections open: max ${Math.max(...latencies)} ms over 20 requests`);
    assert.ok(Math.max(...latencies) < 1000, `/livez stayed fast (${latencies.join(', ')} ms)`);
    await waitFor('every slow connection to be closed by the server', () => closedAt.size === slow.length || undefined, 12_000, 100);
    const longest = Math.max(...[...closedAt.values()].map((at) => at - openedAt));
    t.diagnostic(`the last slow connection was closed ${longest} ms after it opened`);
    assert.ok(longest < 10_000, `cut off by the 5 s headers timeout, not kept (${longest} ms)`);
    await assertServing();
  });

  await t.test('random bytes (fuzz, fixed seed): every answer is an HTTP status line or nothing, never a stack; the primary keeps serving', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 2048 }),
      // Past the request line, into the header parser.
      fc.tuple(fc.constantFrom('GET /livez HTTP/1.1\r\n', 'GET /workers?', 'HEAD / HTTP/1.0\r\nHost:', 'GET /readyz HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'), fc.uint8Array({ maxLength: 1024 }))
        .map(([head, tail]) => Buffer.concat([Buffer.from(head, 'latin1'), tail])),
    );
    let answered = 0;
    await fc.assert(fc.asyncProperty(bytes, async (payload) => {
      const { text } = await raw(warden.adminPort, payload);
      if (text !== '') {
        answered += 1;
        assert.ok(statusOf(text) !== undefined, `an HTTP answer (got ${JSON.stringify(text.slice(0, 60))})`);
      }
      assert.doesNotMatch(text, STACK);
    }), { numRuns: 150, seed: 1313 });
    t.diagnostic(`150 random payloads, ${answered} answered with a status line`);
    await assertServing();
  });

  await t.test('a worker\'s inspector port is closed while it is healthy, and opens on 127.0.0.1 only for a capture', async () => {
    const { workers } = await warden.workers();
    const ports = workers.map((w) => (w as unknown as { inspectPort: number | null }).inspectPort);
    assert.ok(ports.every((port) => typeof port === 'number'), `each worker has an inspector port reserved (${ports.join(', ')})`);
    for (const port of ports as number[]) {
      await assert.rejects(raw(port, 'GET /json/list HTTP/1.1\r\n\r\n'), /ECONNREFUSED/, `nothing listens on inspector port ${port} while the worker is healthy`);
    }
    // A busy loop: warden captures its stack through the inspector, then kills and replaces it.
    get(warden.port, '/spin', 20_000).catch(() => undefined);
    await waitFor('the capture to be logged', () => /Debugger listening on ws:\/\/([\d.]+):/.exec(warden.stderr()) ?? undefined, 20_000);
    const hosts = [...warden.stderr().matchAll(/Debugger listening on ws:\/\/([^:/]+):/g)].map((match) => match[1]);
    assert.ok(hosts.length > 0 && hosts.every((host) => host === '127.0.0.1'), `the inspector listened on 127.0.0.1 only (${hosts.join(', ')})`);
    await waitFor('both slots ready again', async () => (await warden.workers()).workers.filter((w) => w.state === 'ready' && w.inRotation).length === 2 || undefined, 20_000);
    // The stalled worker may still be listed (stopping) while its profile is taken; the ports that
    // must be closed are those of the workers serving now.
    const after = (await warden.workers()).workers.filter((w) => w.state === 'ready').map((w) => (w as unknown as { inspectPort: number | null }).inspectPort as number);
    assert.equal(after.length, 2, 'two workers serve again');
    for (const port of after) await assert.rejects(raw(port, 'GET /json/list HTTP/1.1\r\n\r\n'), /ECONNREFUSED/, `the replacement's inspector port ${port} is closed`);
  });
});

test('an admin server bound beyond loopback warns at startup that it exposes worker details; a loopback one does not', async (t) => {
  const open = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--admin-host', '0.0.0.0'], { waitReady: false });
  const loopback = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--admin-host', '127.0.0.1'], { waitReady: false });
  // The warning goes to stderr, the startup line to stdout: either pipe can be read first.
  await open.expectOutput(/warn: the admin server listens on 0\.0\.0\.0, reachable from other machines: it shows worker pids, file paths and incidents/, 'the warning about a public admin server');
  // The loopback one is stopped and its whole output read (exit waits for both pipes): a warning
  // written late would be in it.
  process.kill(loopback.pid, 'SIGTERM');
  assert.equal((await loopback.exit(15_000)).code, 0);
  assert.doesNotMatch(loopback.output(), /reachable from other machines/);
  process.kill(open.pid, 'SIGTERM');
  assert.equal((await open.exit(15_000)).code, 0);
});
