// --max-concurrency with real processes: a worker holding N requests answers the next one 503 with
// Retry-After at once (the app never sees it); open WebSockets are not counted; once the slow
// requests finish, requests are served again.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { fixture, get, getJson, startWarden, waitFor } from './harness.js';

for (const mode of ['shared', 'handoff'] as const) {
  test(`--balance ${mode}: past --max-concurrency 2 a request gets 503 and Retry-After at once; WebSockets are not counted`, async (t) => {
    const warden = await startWarden(t, [fixture('slow-websocket.mjs'), '--workers', '1', '--balance', mode, '--max-concurrency', '2']);
    const sockets: WebSocket[] = [];
    t.after(() => sockets.forEach((socket) => socket.terminate()));
    for (let i = 0; i < 3; i++) {
      const socket = new WebSocket(`ws://127.0.0.1:${warden.port}/`);
      sockets.push(socket);
      await once(socket, 'message');
    }
    const slow = [get(warden.port, '/slow?ms=4000', 15_000), get(warden.port, '/slow?ms=4000', 15_000)];
    await waitFor('two requests in flight', async () => {
      const body = (await getJson<{ workers: { inFlight: number }[] }>(warden.adminPort, '/workers')).body;
      return (body.workers[0]?.inFlight ?? 0) >= 2;
    }, 10_000);
    const started = Date.now();
    const refused = await get(warden.port, '/');
    const tookMs = Date.now() - started;
    assert.equal(refused.status, 503, 'the third request is refused (three open WebSockets did not count)');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(refused.headers.connection, 'close');
    assert.ok(tookMs < 2000, `answered at once, not after the slow requests (${tookMs} ms)`);
    for (const answer of await Promise.all(slow)) assert.equal(answer.status, 200, 'the requests in flight finish');
    assert.equal((await get(warden.port, '/')).status, 200, 'with room again, requests are served');
    await waitFor('the 503 in warden_worker_requests_total', async () => /^warden_worker_requests_total\{[^}]*status_class="5xx"[^}]*\} 1$/m.test((await get(warden.adminPort, '/metrics')).body), 5_000);
  });
}
