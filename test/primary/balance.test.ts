// The pure choice of the next worker: round-robin, passing over workers slow to take hand-offs.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseWorker } from '../../src/primary/balance.js';

test('round-robin over the workers in rotation', () => {
  const candidates = [{ id: 1, pending: 0, oldestPendingMs: 0 }, { id: 2, pending: 0, oldestPendingMs: 0 }, { id: 3, pending: 0, oldestPendingMs: 0 }];
  const order: number[] = [];
  let cursor = 0;
  for (let i = 0; i < 6; i++) {
    const choice = chooseWorker(candidates, cursor, 200);
    assert.ok(choice);
    order.push(choice.id);
    cursor = choice.nextCursor;
  }
  assert.deepEqual(order, [1, 2, 3, 1, 2, 3]);
});

test('a worker with a hand-off unacknowledged past the limit is passed over', () => {
  const candidates = [{ id: 1, pending: 3, oldestPendingMs: 450 }, { id: 2, pending: 0, oldestPendingMs: 0 }];
  for (const cursor of [0, 1]) assert.equal(chooseWorker(candidates, cursor, 200)?.id, 2);
});

test('when every worker is slow, the one with the fewest pending hand-offs gets it; none in rotation, nobody', () => {
  const candidates = [{ id: 1, pending: 5, oldestPendingMs: 900 }, { id: 2, pending: 2, oldestPendingMs: 300 }];
  assert.equal(chooseWorker(candidates, 0, 200)?.id, 2);
  assert.equal(chooseWorker([], 0, 200), undefined);
});
