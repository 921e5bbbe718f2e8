// A hand-off that comes too late is refused. Connections handed to a worker that was then stopped
// (SIGSTOP) are taken back after the deadline and served by another worker; when the stopped worker
// is resumed and finally reads those old hand-offs, it must close its copies, or two processes would
// read the same connection and a client could be answered by either. With --balance shared nothing
// is handed over: a stopped worker cannot accept, so the other one takes every connection.

import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { fixture, openConnection, rawRequest, startWarden, waitFor, withDeadline } from './harness.js';

interface HandoffView {
  slot: number;
  pid: number;
  inRotation: boolean;
  pendingHandoffs: number;
}

/**
 * Two workers of the slow fixture in `balance` mode, with --timeout 60 so that a stopped worker is
 * late (out of rotation) and never killed, and can be resumed; the first one is SIGSTOPped. The
 * sockets a test opens go into `sockets` and are destroyed when it ends; the stopped worker gets
 * SIGCONT then too, whatever happened.
 */
async function withOneStopped(t: TestContext, balance: 'handoff' | 'shared') {
  const warden = await startWarden(t, [fixture('slow.mjs'), '--workers', '2', '--timeout', '60', '--balance', balance]);
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
  const resume = async () => {
    process.kill(stopped.pid, 'SIGCONT');
    // Back in rotation means its heartbeats arrive again, so it has read what was queued to it before them.
    await waitFor('the resumed worker to be back in rotation', async () => (await view()).find((w) => w.slot === stopped.slot && w.pid === stopped.pid && w.inRotation), 10_000);
  };
  return { warden, view, stopped, other, sockets, resume };
}

/** Send `perSocket` requests on each socket, in turn; the pid that answered each one. */
async function answeredBy(sockets: Socket[], perSocket: number, what: string): Promise<number[]> {
  const pids: number[] = [];
  for (const socket of sockets) {
    for (let i = 0; i < perSocket; i++) {
      const { head, body } = await withDeadline(rawRequest(socket, '/'), 5000, what);
      assert.match(head, /^HTTP\/1\.1 200/);
      pids.push((JSON.parse(body) as { pid: number }).pid);
    }
  }
  return pids;
}

test('a resumed SIGSTOPped worker refuses the hand-offs it missed: only the worker that took them over serves those connections', async (t) => {
  const { warden, view, stopped, other, sockets, resume } = await withOneStopped(t, 'handoff');
  // Connections that send nothing yet: round-robin hands some to the stopped worker.
  for (let i = 0; i < 4; i++) sockets.push(await openConnection(warden.port));
  await waitFor('a hand-off to wait on the stopped worker', async () => (await view()).find((w) => w.slot === stopped.slot && w.pendingHandoffs > 0), 5000, 20);
  await waitFor('its hand-offs to be taken back', async () => (await view()).find((w) => w.slot === stopped.slot && w.pendingHandoffs === 0), 10_000);
  await resume();
  const pids = await answeredBy(sockets, 5, 'an answer on a handed-over connection');
  assert.deepEqual(new Set(pids), new Set([other.pid]), `every request on those connections was answered by worker ${other.pid}, none by the resumed ${stopped.pid}: ${pids.join(', ')}`);
});

test('--balance shared: a SIGSTOPped worker accepts nothing; the other takes every connection, and the resumed one serves none of them', async (t) => {
  const { warden, view, stopped, other, sockets, resume } = await withOneStopped(t, 'shared');
  for (let i = 0; i < 8; i++) sockets.push(await openConnection(warden.port));
  await waitFor('the stopped worker to leave rotation', async () => (await view()).find((w) => w.slot === stopped.slot && !w.inRotation), 10_000);
  await resume();
  const pids = await answeredBy(sockets, 3, 'an answer on a connection opened while a worker was stopped');
  assert.deepEqual(new Set(pids), new Set([other.pid]), `every connection opened while worker ${stopped.pid} was stopped was served by ${other.pid}: ${pids.join(', ')}`);
});
