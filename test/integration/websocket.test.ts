// WebSocket upgrades are not requests: a worker holding open WebSockets, and answering nothing else,
// has no request in flight and is never judged stuck, even alone and with a short --stuck-after.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { fixture, get, startWarden, waitFor, withDeadline } from './harness.js';

interface CountsView {
  pid: number;
  inFlight: number;
  connections: number;
  served: number;
  restarts: number;
  state: string;
  inRotation: boolean;
  incidents: { kind: string }[];
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
  // The verdict is in /workers as soon as it is made; its log line may come later.
  assert.equal(after.state, 'ready');
  assert.equal(after.inRotation, true, 'never taken out of rotation');
  assert.deepEqual(after.incidents, [], 'no incident recorded');
  assert.doesNotMatch(warden.output(), /stuck|unhealthy/);
  assert.equal((await get(warden.port, '/')).status, 200);
  await waitFor('the plain request to be counted', async () => ((await warden.workers()).workers[0] as unknown as CountsView).served >= 1 || undefined, 5000);
});

interface UpgradedView {
  pid: number;
  state: string;
  upgraded: number;
}

/** Connect, read the greeting, and record how and when the socket closes. */
async function connect(t: TestContext, port: number) {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/`);
  t.after(() => socket.terminate());
  const closed = new Promise<{ code: number; at: number }>((resolve) => socket.once('close', (code) => resolve({ code, at: Date.now() })));
  const [hello] = await withDeadline(once(socket, 'message'), 5000, 'the WebSocket greeting');
  return { socket, closed, pid: (JSON.parse(String(hello)) as { pid: number }).pid };
}

async function echo(socket: WebSocket, text: string): Promise<string> {
  socket.send(text);
  const [data] = await withDeadline(once(socket, 'message'), 5000, `the echo of ${text}`);
  return String(data);
}

for (const [shape, file] of [['server', 'websocket.mjs'], ['fastify', 'websocket-fastify.cjs'], ['self-listen', 'websocket-self-listen.cjs']] as const) {
  test(`a ws server on the app's http server works through warden (${shape} shape) and shows in /workers as upgraded`, async (t) => {
    const warden = await startWarden(t, [fixture(file), '--workers', '1']);
    const client = await connect(t, warden.port);
    assert.equal(await echo(client.socket, 'hello'), 'hello');
    const view = await waitFor('/workers to count the upgraded connection', async () => {
      const worker = (await warden.workers()).workers[0] as unknown as UpgradedView;
      return worker.upgraded === 1 ? worker : undefined;
    }, 5000);
    assert.equal(view.pid, client.pid);
    const metrics = await get(warden.adminPort, '/metrics');
    assert.match(metrics.body, /^warden_worker_upgraded_connections\{[^}]*slot="1"[^}]*\} 1$/m, 'the metric counts it');
    client.socket.close(1000);
    assert.equal((await withDeadline(client.closed, 5000, 'the close')).code, 1000);
    await waitFor('the count to drop to 0', async () => ((await warden.workers()).workers[0] as unknown as UpgradedView).upgraded === 0 || undefined, 5000);
  });
}

test('a reload leaves an open WebSocket connected until --graceful-timeout, then closes it with 1001 going away', async (t) => {
  const warden = await startWarden(t, [fixture('websocket.mjs'), '--workers', '1', '--graceful-timeout', '4']);
  const client = await connect(t, warden.port);
  const reloadAt = Date.now();
  process.kill(warden.pid, 'SIGHUP');
  const replaced = await waitFor('a new worker to serve', async () => {
    const answer = JSON.parse((await get(warden.port, '/')).body) as { pid: number };
    return answer.pid !== client.pid ? answer.pid : undefined;
  }, 20_000);
  assert.notEqual(replaced, client.pid);
  // The old worker is draining and the new one serves: the WebSocket is still there and answers. Its
  // count of upgraded connections comes with its next heartbeat (every 250 ms), which on a fast
  // machine can be after the whole reload: wait for it, well within the graceful timeout.
  let draining: UpgradedView[] = [];
  const seen = await waitFor('the old worker to show its WebSocket while draining', async () => {
    draining = (await warden.workers()).workers as unknown as UpgradedView[];
    return draining.some((worker) => worker.pid === client.pid && worker.state === 'draining' && worker.upgraded === 1) || undefined;
  }, 2000).catch(() => false);
  assert.ok(seen, `the old worker drains with its WebSocket: ${JSON.stringify(draining)}`);
  assert.equal(await echo(client.socket, 'during the reload'), 'during the reload');
  const closed = await withDeadline(client.closed, 15_000, 'the WebSocket to be closed');
  assert.equal(closed.code, 1001, 'a close frame with 1001 going away');
  assert.ok(closed.at - reloadAt >= 2500, `open until near the graceful timeout (closed after ${closed.at - reloadAt} ms)`);
  await waitFor('the old worker to exit', async () => !(await warden.workers()).workers.some((worker) => worker.pid === client.pid) || undefined, 10_000);
  // Its exit line comes after the kill line would have been written.
  await warden.expectOutput(new RegExp(`\\(pid ${client.pid}\\) (exited|was killed)`), 'the old worker\'s exit in the log');
  assert.doesNotMatch(warden.output(), /did not finish draining/, 'the worker exited on its own, before the kill');
  // Its client reconnects and reaches the new worker.
  const again = await connect(t, warden.port);
  assert.equal(again.pid, replaced);
});

test('SIGTERM stop closes an open WebSocket with 1001 at the graceful timeout, then warden exits 0', async (t) => {
  const warden = await startWarden(t, [fixture('websocket.mjs'), '--workers', '1', '--graceful-timeout', '3']);
  const client = await connect(t, warden.port);
  const stopAt = Date.now();
  process.kill(warden.pid, 'SIGTERM');
  const closed = await withDeadline(client.closed, 10_000, 'the WebSocket to be closed');
  assert.equal(closed.code, 1001);
  assert.ok(closed.at - stopAt >= 1800, `closed near the graceful timeout (after ${closed.at - stopAt} ms)`);
  assert.deepEqual(await warden.exit(10_000), { code: 0, signal: null }, `warden exits 0; output:\n${warden.output()}`);
  assert.doesNotMatch(warden.output(), /did not finish draining|killing it/);
  await warden.processes.expectAllGone('after the stop');
});
