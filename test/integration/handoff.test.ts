// A hand-off that comes too late is refused. Connections handed to a worker that was then stopped
// (SIGSTOP) are taken back after the deadline and served by another worker; when the stopped worker
// is resumed and finally reads those old hand-offs, it must close its copies, or two processes would
// read the same connection and a client could be answered by either. With --balance shared nothing
// is handed over: a stopped worker cannot accept, so the other one takes every connection.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { fixture, openConnection, rawRequest, startWarden, waitFor, withDeadline } from './harness.js';

interface HandoffView {
  slot: number;
  pid: number;
  inRotation: boolean;
  pendingHandoffs: number;
}

test('a resumed SIGSTOPped worker refuses the hand-offs it missed: only the worker that took them over serves those connections', async (t) => {
  // --timeout 60: the stopped worker is late (out of rotation), never killed, so it can be resumed.
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2', '--timeout', '60', '--balance', 'handoff']);
  const view = async () => (await warden.workers()).workers as unknown as HandoffView[];
  const [stopped, other] = (await view()).sort((a, b) => a.slot - b.slot) as [HandoffView, HandoffView];
  process.kill(stopped.pid, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(stopped.pid, 'SIGCONT');
    } catch {
      // ESRCH: already gone
    }
  });
  // Connections that send nothing yet: round-robin hands some to the stopped worker.
  const sockets: Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  for (let i = 0; i < 4; i++) sockets.push(await openConnection(warden.port));
  await waitFor('a hand-off to wait on the stopped worker', async () => (await view()).find((w) => w.slot === stopped.slot && w.pendingHandoffs > 0), 5000, 20);
  await waitFor('its hand-offs to be taken back', async () => (await view()).find((w) => w.slot === stopped.slot && w.pendingHandoffs === 0), 10_000);
  process.kill(stopped.pid, 'SIGCONT');
  // Back in rotation means its heartbeats arrive again, so it has read the old hand-offs before them.
  await waitFor('the resumed worker to be back in rotation', async () => (await view()).find((w) => w.slot === stopped.slot && w.pid === stopped.pid && w.inRotation), 10_000);
  const answeredBy: number[] = [];
  for (const socket of sockets) {
    for (let i = 0; i < 5; i++) {
      const { head, body } = await withDeadline(rawRequest(socket, '/'), 5000, 'an answer on a handed-over connection');
      assert.match(head, /^HTTP\/1\.1 200/);
      answeredBy.push((JSON.parse(body) as { pid: number }).pid);
    }
  }
  assert.deepEqual(new Set(answeredBy), new Set([other.pid]), `every request on those connections was answered by worker ${other.pid}, none by the resumed ${stopped.pid}: ${answeredBy.join(', ')}`);
});

test('--balance shared: a SIGSTOPped worker accepts nothing; the other takes every connection, and the resumed one serves none of them', async (t) => {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2', '--timeout', '60', '--balance', 'shared']);
  const view = async () => (await warden.workers()).workers as unknown as HandoffView[];
  const [stopped, other] = (await view()).sort((a, b) => a.slot - b.slot) as [HandoffView, HandoffView];
  process.kill(stopped.pid, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(stopped.pid, 'SIGCONT');
    } catch {
      // ESRCH: already gone
    }
  });
  const sockets: Socket[] = [];
  t.after(() => {
    for (const socket of sockets) socket.destroy();
  });
  for (let i = 0; i < 8; i++) sockets.push(await openConnection(warden.port));
  await waitFor('the stopped worker to leave rotation', async () => (await view()).find((w) => w.slot === stopped.slot && !w.inRotation), 10_000);
  process.kill(stopped.pid, 'SIGCONT');
  await waitFor('the resumed worker to be back in rotation', async () => (await view()).find((w) => w.slot === stopped.slot && w.pid === stopped.pid && w.inRotation), 10_000);
  const answeredBy: number[] = [];
  for (const socket of sockets) {
    for (let i = 0; i < 3; i++) {
      const { head, body } = await withDeadline(rawRequest(socket, '/'), 5000, 'an answer on a connection opened while a worker was stopped');
      assert.match(head, /^HTTP\/1\.1 200/);
      answeredBy.push((JSON.parse(body) as { pid: number }).pid);
    }
  }
  assert.deepEqual(new Set(answeredBy), new Set([other.pid]), `every connection opened while worker ${stopped.pid} was stopped was served by ${other.pid}: ${answeredBy.join(', ')}`);
});
