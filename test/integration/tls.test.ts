// HTTPS with --ssl-keyfile/--ssl-certfile: a certificate made by openssl for this test, a real TLS
// handshake from a client that trusts only that certificate, for each app shape that serves.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { once } from 'node:events';
import WebSocket from 'ws';
import { WARDEN, fixture, get, startWarden, waitFor, withDeadline } from './harness.js';

let dir = '';
let cert: Buffer;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'warden-tls-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    '-days', '1', '-subj', '/CN=warden-test', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 30_000 });
  cert = readFileSync(join(dir, 'cert.pem'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** One HTTPS GET that trusts only the test's certificate; the peer certificate's CN comes back. */
function httpsGet(port: number, path = '/'): Promise<{ status: number; body: string; cn: string; authorized: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca: cert, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => {
        const socket = res.socket as TLSSocket;
        resolve({ status: res.statusCode ?? 0, body, cn: String(socket.getPeerCertificate().subject?.CN), authorized: socket.authorized });
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('HTTPS GET took over 5 s')));
    req.on('error', reject);
    req.end();
  });
}

const SHAPES: [string, string][] = [
  ['a request listener', 'worker-env.mjs'],
  ['a Fastify instance', 'shapes/fastify.cjs'],
  ['a fetch handler (Hono)', 'shapes/hono.mjs'],
  ['a script that calls listen(PORT) itself', 'shapes/self-listen.cjs'],
];

for (const [name, app] of SHAPES) {
  test(`HTTPS for ${name}: a verified TLS handshake on the shared port`, async (t) => {
    const warden = await startWarden(t, [fixture(app), '--workers', '2', '--ssl-keyfile', join(dir, 'key.pem'), '--ssl-certfile', join(dir, 'cert.pem')]);
    await warden.expectOutput(/on https:\/\/127\.0\.0\.1:\d+/);
    for (let i = 0; i < 2; i++) {
      const answer = await httpsGet(warden.port);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(answer.authorized, true);
      assert.equal(answer.cn, 'warden-test');
    }
    await assert.rejects(get(warden.port, '/', 3000), 'plain HTTP on the HTTPS port gets no answer');
    const { workers } = await warden.workers();
    assert.ok(workers.every((worker) => worker.state === 'ready'), 'a failed handshake does not hurt a worker');
  });
}

test('probes go through TLS too, and keep the workers healthy', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '1', '--ssl-keyfile', join(dir, 'key.pem'), '--ssl-certfile', join(dir, 'cert.pem'),
    '--probe-path', '/probe', '--probe-interval', '0.5', '--probe-timeout', '0.5', '--probe-failures', '2']);
  const first = (await warden.workers()).workers[0]?.pid;
  // The app counts the probes it answered: with probing off, or probes failing the handshake, none arrive.
  await waitFor('the app to have answered 4 probes', async () => (JSON.parse((await httpsGet(warden.port, '/probes')).body) as { probes: number }).probes >= 4 || undefined, 15_000);
  const { workers } = await warden.workers();
  assert.equal(workers[0]?.pid, first, 'the worker was not recycled for failed probes');
  assert.doesNotMatch(warden.output(), /probe/i);
});

/** A root CA, an intermediate signed by it and a leaf for 127.0.0.1 signed by the intermediate, in `dir`. */
function makeChain(): { root: Buffer; leafKey: string; leafCert: string; intermediate: string } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore', timeout: 30_000 });
  writeFileSync(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  writeFileSync(join(dir, 'leaf.ext'), 'basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n');
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-days', '1', '-subj', '/CN=warden-root',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'int.key', '-out', 'int.csr', '-subj', '/CN=warden-intermediate');
  ssl('x509', '-req', '-in', 'int.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-CAcreateserial', '-out', 'int.pem', '-days', '1', '-extfile', 'ca.ext');
  ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=warden-leaf');
  ssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'int.pem', '-CAkey', 'int.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'leaf.ext');
  return { root: readFileSync(join(dir, 'root.pem')), leafKey: join(dir, 'leaf.key'), leafCert: join(dir, 'leaf.pem'), intermediate: join(dir, 'int.pem') };
}

/** Whether a client that trusts only `ca` verifies the server's chain, and why not. */
async function verifiedBy(port: number, ca: Buffer): Promise<{ authorized: boolean; error: string | undefined }> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca, rejectUnauthorized: false });
  try {
    await withDeadline(once(socket, 'secureConnect'), 5000, 'the TLS handshake');
    return { authorized: socket.authorized, error: socket.authorizationError ? String(socket.authorizationError) : undefined };
  } finally {
    socket.destroy();
  }
}

test('--ssl-ca: the intermediate CA is sent with the certificate, so a client that trusts only the root verifies it; without it the chain is incomplete', async (t) => {
  const chain = makeChain();
  const withCa = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1', '--ssl-keyfile', chain.leafKey, '--ssl-certfile', chain.leafCert, '--ssl-ca', chain.intermediate]);
  assert.deepEqual(await verifiedBy(withCa.port, chain.root), { authorized: true, error: undefined });
  const without = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1', '--ssl-keyfile', chain.leafKey, '--ssl-certfile', chain.leafCert]);
  const missing = await verifiedBy(without.port, chain.root);
  assert.equal(missing.authorized, false, 'the leaf alone does not reach the root');
  assert.match(missing.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/i);
});

test('a key without a certificate, or a file that is not PEM, is refused before any worker starts', () => {
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate\n');
  const run = (...args: string[]) => spawnSync(process.execPath, [WARDEN, 'serve', fixture('worker-env.mjs'), '--port', '0', '--admin-port', '0', ...args], { encoding: 'utf8', timeout: 20_000 });
  const noCert = run('--ssl-keyfile', join(dir, 'key.pem'));
  assert.equal(noCert.status, 2);
  assert.match(noCert.stderr, /--ssl-keyfile is set but --ssl-certfile is not/);
  const junk = run('--ssl-keyfile', join(dir, 'key.pem'), '--ssl-certfile', join(dir, 'junk.pem'));
  assert.equal(junk.status, 2);
  assert.match(junk.stderr, /--ssl-keyfile\/--ssl-certfile: cannot use .*junk\.pem/);
});

test('HTTPS: a slow request in flight at SIGTERM is answered in full; the idle TLS connection beside it is closed', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '1', '--ssl-keyfile', join(dir, 'key.pem'), '--ssl-certfile', join(dir, 'cert.pem'), '--graceful-timeout', '30']);
  // An idle keep-alive TLS connection, to show the drain still closes what carries no request.
  const idle = tlsConnect({ host: '127.0.0.1', port: warden.port, ca: cert });
  t.after(() => idle.destroy());
  await withDeadline(once(idle, 'secureConnect'), 5000, 'the idle TLS handshake');
  const idleClosed = once(idle, 'close').then(() => Date.now());
  const slow = httpsGet(warden.port, '/slow?ms=3000').then((answer) => ({ ...answer, at: Date.now() }));
  await waitFor('the slow request to be in flight', async () => ((await warden.workers()).workers[0] as unknown as { inFlight: number }).inFlight > 0 || undefined);
  const stoppedAt = Date.now();
  process.kill(warden.pid, 'SIGTERM');
  // The decrypted socket carries the request: the drain must not take the TCP socket under it for
  // idle (no byte arrives on it while the app works for 3 s).
  const answer = await withDeadline(slow, 10_000, 'the slow answer');
  assert.equal(answer.status, 200, answer.body);
  // Closed by the drain, not by the worker's exit after the slow answer.
  const idleClosedAt = await withDeadline(idleClosed, 10_000, 'the idle TLS connection to close');
  assert.ok(idleClosedAt < answer.at, `the idle TLS connection closed ${idleClosedAt - stoppedAt} ms after SIGTERM, before the slow answer (${answer.at - stoppedAt} ms)`);
  assert.equal((await warden.exit(15_000)).code, 0);
});

test('HTTPS: a WebSocket over TLS (wss) works and counts as upgraded in /workers', async (t) => {
  const warden = await startWarden(t, [fixture('websocket.mjs'), '--workers', '1', '--ssl-keyfile', join(dir, 'key.pem'), '--ssl-certfile', join(dir, 'cert.pem')]);
  const socket = new WebSocket(`wss://127.0.0.1:${warden.port}/`, { ca: cert });
  t.after(() => socket.terminate());
  const [hello] = await withDeadline(once(socket, 'message'), 5000, 'the WebSocket greeting');
  const { workers } = await warden.workers();
  assert.equal((JSON.parse(String(hello)) as { pid: number }).pid, workers[0]?.pid, 'the greeting comes from the worker');
  await waitFor('/workers to count the upgraded connection', async () => ((await warden.workers()).workers[0] as unknown as { upgraded: number }).upgraded === 1 || undefined, 5000);
});
