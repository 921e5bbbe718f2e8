// The pure choices of the connection path: the least-loaded worker for a hand-off (round-robin among
// equals, never behind an unacknowledged hand-off while another worker is free, passing over workers
// slow to take hand-offs), and who starts or stops accepting from the shared socket.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { acceptorChanges, chooseWorker, type Candidate } from '../../src/primary/balance.js';

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
