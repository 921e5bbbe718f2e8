// The requests a worker's app never answered stay in its report after they end: answered 504 by
// warden at --request-timeout, or closed by the client first, with the path but not the query, and
// at most NEVER_ANSWERED_KEPT of them. One in-process node:http server on 127.0.0.1 port 0, no workers.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { NEVER_ANSWERED_KEPT } from '../../src/worker/never-answered.js';
import { RequestTracker } from '../../src/worker/requests.js';

async function serve(t: TestContext, requestTimeoutMs: number) {
  const tracker = new RequestTracker(requestTimeoutMs);
  // /hang is never answered by the app; everything else is, at once.
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (!(req.url ?? '').startsWith('/hang')) res.end('ok');
  });
  tracker.attach(server);
  server.on('connection', (socket) => tracker.addSocket(socket));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const port = (server.address() as AddressInfo).port;
  /** One GET on a new connection; resolves with its status, or 0 if `abortAfterMs` cut it first. */
  const get = (path: string, abortAfterMs?: number) => new Promise<number>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (error) => (abortAfterMs === undefined ? reject(error) : resolve(0)));
    if (abortAfterMs !== undefined) setTimeout(() => req.destroy(), abortAfterMs);
    req.end();
  });
  /** Resolves once the tracker holds `count` requests in flight (each arrival is an I/O event). */
  const inFlight = async (count: number) => {
    const deadline = Date.now() + 5000;
    while (tracker.inFlightCount < count) {
      assert.ok(Date.now() < deadline, `${count} request(s) in flight within 5 s (saw ${tracker.inFlightCount})`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  };
  return { tracker, get, inFlight };
}

test('requests warden answered 504 at --request-timeout are still listed, marked as answered by warden', async (t) => {
  const { tracker, get, inFlight } = await serve(t, 2000);
  assert.equal(await get('/'), 200);
  const answers = [get('/hang?token=secret'), get('/hang/again')];
  await inFlight(2);
  // The clock is passed in: 3 s later by the tracker's reckoning, no waiting.
  tracker.enforceTimeout(performance.now() + 3000);
  assert.deepEqual(await Promise.all(answers), [504, 504]);
  const report = tracker.report();
  assert.equal(report.inFlight, 0, 'nothing is in flight any more');
  assert.equal(report.neverAnswered, 2);
  assert.deepEqual(report.requests.map((r) => [r.method, r.path, r.endedBy]).sort(), [['GET', '/hang', 'warden504'], ['GET', '/hang/again', 'warden504']]);
  assert.ok(report.requests.every((r) => r.headersSent === false), 'the app sent no headers');
});

test('a request the client gave up on is listed as closed before an answer; answered ones are not listed', async (t) => {
  const { tracker, get, inFlight } = await serve(t, 0);
  const abandoned = get('/hang', 50);
  await inFlight(1);
  assert.equal(await abandoned, 0);
  const deadline = Date.now() + 5000;
  while (tracker.inFlightCount > 0) {
    assert.ok(Date.now() < deadline, 'the closed request left the in-flight set within 5 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(await get('/fine'), 200);
  const still = get('/hang?x=1').catch(() => 0); // destroyAll() below cuts it
  await inFlight(1);
  const report = tracker.report();
  assert.equal(report.inFlight, 1);
  assert.equal(report.neverAnswered, 1);
  assert.deepEqual(report.requests.map((r) => [r.path, r.endedBy ?? 'in flight']), [['/hang', 'in flight'], ['/hang', 'connectionClosed']]);
  tracker.enforceTimeout(); // request timeout 0: off, nothing is answered
  assert.equal(tracker.inFlightCount, 1);
  tracker.destroyAll();
  await still;
});

test(`at most ${NEVER_ANSWERED_KEPT} ended unanswered requests are kept, the latest`, async (t) => {
  const { tracker, get, inFlight } = await serve(t, 1000);
  const total = NEVER_ANSWERED_KEPT + 10;
  for (let batch = 0; batch < total; batch += 10) {
    const answers = Array.from({ length: 10 }, (_, i) => get(`/hang/${batch + i}`));
    await inFlight(10);
    tracker.enforceTimeout(performance.now() + 2000);
    assert.ok((await Promise.all(answers)).every((status) => status === 504));
  }
  const report = tracker.report();
  assert.equal(report.neverAnswered, NEVER_ANSWERED_KEPT);
  const kept = new Set(report.requests.map((r) => Number(r.path.split('/')[2])));
  assert.equal(kept.size, NEVER_ANSWERED_KEPT);
  assert.ok([...kept].every((n) => n >= total - NEVER_ANSWERED_KEPT), 'the first ten were dropped');
});
