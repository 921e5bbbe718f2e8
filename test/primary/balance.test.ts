// The pure choices of the connection path: the least-loaded worker for a hand-off (round-robin among
// equals, never behind an unacknowledged hand-off while another worker is free, passing over workers
// slow to take hand-offs), and who starts or stops accepting from the shared socket.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptorChanges, chooseWorker, stickyWorker, type Candidate } from '../../src/primary/net/balance.js';

const idle = (id: number, extra: Partial<Candidate> = {}): Candidate => ({ id, pending: 0, oldestPendingMs: 0, connections: 0, ...extra });

function picks(candidates: Candidate[], count: number): number[] {
  const order: number[] = [];
  let cursor = 0;
  for (let i = 0; i < count; i++) {
    const choice = chooseWorker(candidates, cursor, 200);
    assert.ok(choice);
    order.push(choice.id);
    cursor = choice.nextCursor;
  }
  return order;
}

test('round-robin over equally loaded workers in rotation', () => {
  assert.deepEqual(picks([idle(1), idle(2), idle(3)], 6), [1, 2, 3, 1, 2, 3]);
});

test('never behind an unacknowledged hand-off while another worker has none, wherever the cursor is', () => {
  // Worker 1's loop is blocked on a slow request: its last hand-off is 5 ms old and unacknowledged.
  const candidates = [idle(1, { pending: 1, oldestPendingMs: 5 }), idle(2, { connections: 12 })];
  for (const cursor of [0, 1]) assert.equal(chooseWorker(candidates, cursor, 200)?.id, 2);
});

test('with no hand-off pending anywhere, the worker with fewer open connections gets it', () => {
  const candidates = [idle(1, { connections: 9 }), idle(2, { connections: 3 }), idle(3, { connections: 3 })];
  assert.equal(chooseWorker(candidates, 0, 200)?.id, 2);
  // Equal load: the first from the cursor, and the cursor moves past it.
  assert.deepEqual(chooseWorker(candidates, 2, 200), { id: 3, nextCursor: 0 });
});

test('fewer pending hand-offs beats fewer connections', () => {
  const candidates = [idle(1, { pending: 2, oldestPendingMs: 10, connections: 0 }), idle(2, { pending: 1, oldestPendingMs: 10, connections: 40 })];
  assert.equal(chooseWorker(candidates, 0, 200)?.id, 2);
});

test('a worker with a hand-off unacknowledged past the limit is passed over even when it looks least loaded', () => {
  const candidates = [idle(1, { pending: 1, oldestPendingMs: 450 }), idle(2, { pending: 3, oldestPendingMs: 20, connections: 50 })];
  for (const cursor of [0, 1]) assert.equal(chooseWorker(candidates, cursor, 200)?.id, 2);
});

test('when every worker is slow, the one with the fewest pending hand-offs gets it; none in rotation, nobody', () => {
  const candidates = [idle(1, { pending: 5, oldestPendingMs: 900 }), idle(2, { pending: 2, oldestPendingMs: 300 })];
  assert.equal(chooseWorker(candidates, 0, 200)?.id, 2);
  assert.equal(chooseWorker([], 0, 200), undefined);
});

test('shared socket: workers entering rotation start accepting, those leaving it stop', () => {
  assert.deepEqual(acceptorChanges(new Set(), [1, 2]), { start: [1, 2], stop: [] });
  assert.deepEqual(acceptorChanges(new Set([1, 2]), [1, 2]), { start: [], stop: [] });
  assert.deepEqual(acceptorChanges(new Set([1, 2]), [2, 3]), { start: [3], stop: [1] });
  assert.deepEqual(acceptorChanges(new Set([1, 2]), []), { start: [], stop: [1, 2] });
});

const workers = (...ids: number[]) => ids.map((id) => ({ id, slot: id }));

test('sticky: one address always maps to the same worker while the rotation is unchanged, in any order', () => {
  const rotation = workers(1, 2, 3, 4);
  const first = stickyWorker('127.0.0.1', rotation);
  assert.ok(first !== undefined && [1, 2, 3, 4].includes(first));
  for (let i = 0; i < 20; i++) assert.equal(stickyWorker('127.0.0.1', rotation), first);
  assert.equal(stickyWorker('127.0.0.1', [...rotation].reverse()), first, 'the order of the rotation does not matter');
});

test('sticky: addresses spread over the workers', () => {
  const counts = new Map<number, number>();
  for (let i = 0; i < 400; i++) {
    const id = stickyWorker(`10.0.${i >> 8}.${i & 255}`, workers(1, 2, 3, 4)) as number;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  assert.equal(counts.size, 4, `every worker gets clients: ${JSON.stringify([...counts])}`);
  for (const [id, count] of counts) assert.ok(count >= 50, `worker ${id} gets a fair share (${count} of 400)`);
});

test('sticky: when a worker leaves rotation only its clients move; its replacement in the same slot gets them back', () => {
  const addresses = Array.from({ length: 200 }, (_, i) => `192.168.1.${i}`);
  const before = new Map(addresses.map((address) => [address, stickyWorker(address, workers(1, 2, 3, 4))]));
  const without3 = new Map(addresses.map((address) => [address, stickyWorker(address, workers(1, 2, 4))]));
  // Worker 7 replaced worker 3 in slot 3.
  const replaced = new Map(addresses.map((address) => [address, stickyWorker(address, [...workers(1, 2, 4), { id: 7, slot: 3 }])]));
  let moved = 0;
  for (const address of addresses) {
    if (before.get(address) === 3) {
      assert.notEqual(without3.get(address), 3);
      assert.equal(replaced.get(address), 7, `${address} goes to the replacement in slot 3`);
      moved += 1;
    } else {
      assert.equal(without3.get(address), before.get(address), `${address} stays on worker ${before.get(address)}`);
      assert.equal(replaced.get(address), before.get(address));
    }
  }
  assert.ok(moved > 0, 'worker 3 had clients to move');
});

test('sticky: of two workers in one slot (a reload) the newer one wins', () => {
  assert.equal(stickyWorker('127.0.0.1', [{ id: 3, slot: 1 }, { id: 9, slot: 1 }]), 9);
  assert.equal(stickyWorker('127.0.0.1', [{ id: 9, slot: 1 }, { id: 3, slot: 1 }]), 9);
});

test('sticky: a worker to avoid is passed over unless it is the only one; no rotation, no worker', () => {
  const rotation = workers(1, 2);
  const home = stickyWorker('127.0.0.1', rotation) as number;
  const other = home === 1 ? 2 : 1;
  assert.equal(stickyWorker('127.0.0.1', rotation, new Set([home])), other);
  assert.equal(stickyWorker('127.0.0.1', workers(home), new Set([home])), home);
  assert.equal(stickyWorker('127.0.0.1', []), undefined);
});
