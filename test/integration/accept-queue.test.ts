// warden_accept_queue_length with real processes: while the only worker is frozen (--balance shared:
// nobody accepts), connections wait in the kernel's queue and the figure in /metrics, /workers and
// `warden status` rises with them; it is 0 while the worker accepts.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { fixture, get, getJson, runCli, startWarden, waitFor } from './harness.js';

async function metricValue(port: number, name: string): Promise<number | undefined> {
  const answer = await get(port, '/metrics');
  const line = answer.body.split('\n').find((text) => text.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

test('--balance shared: the accept queue rises while every worker is frozen, in /metrics, /workers and warden status', { skip: process.platform !== 'linux' }, async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '1', '--balance', 'shared', '--timeout', '60', '--stuck-after', '0', '--backlog', '64']);
  assert.equal(await metricValue(warden.adminPort, 'warden_accept_queue_length'), 0, 'nothing waits while the worker accepts');

  void get(warden.port, '/spin', 60_000).catch(() => undefined);
  await warden.expectOutput(/\/spin pid \d+/);
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  for (let i = 0; i < 6; i++) {
    const socket = connect(warden.port, '127.0.0.1');
    socket.on('error', () => undefined);
    sockets.push(socket);
    await once(socket, 'connect');
  }
  const queued = await waitFor('warden_accept_queue_length to reach 6', async () => {
    const value = await metricValue(warden.adminPort, 'warden_accept_queue_length');
    return value !== undefined && value >= 6 ? value : undefined;
  }, 10_000);
  assert.ok(queued >= 6, `the metric counts the waiting connections (${queued})`);
  const body = (await getJson<{ acceptQueue: { length: number | null; backlog: number } }>(warden.adminPort, '/workers')).body;
  assert.ok((body.acceptQueue.length ?? 0) >= 6, `/workers has it too (${JSON.stringify(body.acceptQueue)})`);
  assert.equal(body.acceptQueue.backlog, 64, '--backlog is reported');
  const status = await runCli(t, ['status', '--control', warden.control]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /queue ([6-9]|\d\d+)\/64/, `warden status shows the queue:\n${status.stdout}`);
});
