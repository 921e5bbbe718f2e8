// WebSocket upgrades are not requests: a worker holding open WebSockets, and answering nothing else,
// has no request in flight and is never judged stuck, even alone and with a short --stuck-after.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import WebSocket from 'ws';
import { fixture, get, startWarden, waitFor, withDeadline } from './harness.js';

interface CountsView {
  pid: number;
  inFlight: number;
  connections: number;
  served: number;
  restarts: number;
}

test('open WebSockets are not counted as requests in flight, and their worker is not recycled as stuck', async (t) => {
  const warden = await startWarden(t, [fixture('websocket.mjs'), '--workers', '1', '--stuck-after', '1']);
  const before = (await warden.workers()).workers[0] as unknown as CountsView;
  const sockets = await Promise.all([0, 1, 2].map(async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${warden.port}/`);
    t.after(() => socket.terminate());
    const [hello] = await withDeadline(once(socket, 'message'), 5000, 'the WebSocket greeting');
    assert.equal((JSON.parse(String(hello)) as { pid: number }).pid, before.pid);
    return socket;
  }));
  const counts = await waitFor('the worker to report its three connections', async () => {
    const view = (await warden.workers()).workers[0] as unknown as CountsView;
    return view.connections >= 3 ? view : undefined;
  }, 5000);
  assert.equal(counts.inFlight, 0, 'an upgraded connection is not a request in flight');
  // Past --stuck-after several times over, with the three upgrades never "answered".
  await new Promise((resolve) => setTimeout(resolve, 4000));
  for (const socket of sockets) {
    socket.send('still there?');
    const [echo] = await withDeadline(once(socket, 'message'), 5000, 'an echo');
    assert.equal(String(echo), 'still there?');
  }
  const after = (await warden.workers()).workers[0] as unknown as CountsView;
  assert.equal(after.pid, before.pid, 'not recycled');
  assert.equal(after.restarts, 0);
  assert.doesNotMatch(warden.output(), /stuck|unhealthy/);
  assert.equal((await get(warden.port, '/')).status, 200);
  await waitFor('the plain request to be counted', async () => ((await warden.workers()).workers[0] as unknown as CountsView).served >= 1 || undefined, 5000);
});
