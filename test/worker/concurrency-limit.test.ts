// --max-concurrency's rule: refuse once the requests in flight reach the limit; 0 is off.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOverLimit } from '../../src/worker/concurrency-limit.js';

test('a request is over the limit once N are in flight; never with the limit off', () => {
  assert.equal(isOverLimit(1, 2), false);
  assert.equal(isOverLimit(2, 2), true);
  assert.equal(isOverLimit(5, 2), true);
  assert.equal(isOverLimit(1_000_000, 0), false);
});
