// The two ways connections reach workers, end to end: with --balance shared the workers accept from
// the one socket and the primary hands nothing over; with --balance handoff every connection passes
// through the primary. Either way every request is answered and both workers serve.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, getJson, startWarden, waitFor } from './harness.js';

interface Connections { handedOff: number; acceptors: number }

async function connectionStats(adminPort: number): Promise<Connections> {
  return (await getJson<{ connections: Connections }>(adminPort, '/workers')).body.connections;
}

/** 40 requests, 4 at a time, each on a new connection: the pids that answered. */
async function serve40(port: number): Promise<Set<number>> {
  const pids = new Set<number>();
  for (let i = 0; i < 10; i++) {
    const answers = await Promise.all([0, 1, 2, 3].map(() => get(port, '/', 5000)));
    for (const answer of answers) {
      assert.equal(answer.status, 200);
      pids.add((JSON.parse(answer.body) as { pid: number }).pid);
    }
  }
  return pids;
}

test('--balance shared: both workers accept from the shared socket; the primary hands over no connection', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--balance', 'shared']);
  const ready = await waitFor('both workers accepting', async () => {
    const stats = await connectionStats(warden.adminPort);
    return stats.acceptors === 2 ? stats : undefined;
  });
  const pids = await serve40(warden.port);
  const after = await connectionStats(warden.adminPort);
  assert.equal(after.handedOff, ready.handedOff, 'no connection went through the primary');
  // The kernel picks the worker; over 40 connections both get some (4 run at once).
  assert.equal(pids.size, 2, `both workers served (${[...pids].join(', ')})`);
});

test('--balance handoff: the primary hands every connection to a worker', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--balance', 'handoff']);
  const before = await connectionStats(warden.adminPort);
  const pids = await serve40(warden.port);
  const after = await connectionStats(warden.adminPort);
  assert.ok(after.handedOff - before.handedOff >= 40, `every connection was handed over (${after.handedOff - before.handedOff})`);
  assert.equal(after.acceptors, 0);
  assert.equal(pids.size, 2);
});
