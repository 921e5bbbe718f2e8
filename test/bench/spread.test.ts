// The spread bench's arithmetic (bench/spread.js): each worker's share of the answered requests,
// largest first, workers that answered nothing counted as 0, and the largest share over the fair one.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface SpreadModule {
  shares(counts: number[], workers: number): { total: number; fractions: number[]; overFair: number | undefined };
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const spread = (await import(new URL('../../../bench/spread.js', import.meta.url).href)) as SpreadModule;

test('shares: largest first, a worker that answered nothing counts as 0, the largest over the fair share', () => {
  assert.deepEqual(spread.shares([25, 75], 2), { total: 100, fractions: [0.75, 0.25], overFair: 1.5 });
  assert.deepEqual(spread.shares([40], 4), { total: 40, fractions: [1, 0, 0, 0], overFair: 4 }, 'one worker took everything: 4 times the fair share');
  assert.deepEqual(spread.shares([10, 10], 2).overFair, 1, 'even');
  assert.equal(spread.shares([], 2).overFair, undefined, 'no requests: no figure');
});
