// --heap-snapshot-on-recycle's safety skips, in this process: a heap over the limit, a directory
// that cannot be used, a disk with less than twice the heap free. Each is skipped with the reason,
// and no file is written.

import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { getHeapStatistics } from 'node:v8';
import { takeHeapSnapshot } from '../../src/worker/heap-snapshot.js';

const GIB = 1024 ** 3;

function emptyDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'warden-heap-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('a heap over the limit is not snapshotted', (t) => {
  const dir = emptyDir(t);
  const result = takeHeapSnapshot(dir, 1024);
  assert.ok('skipped' in result, JSON.stringify(result));
  assert.match(result.skipped, /^heap of \d+ MB is over the 0 MB limit for snapshots$/);
  assert.deepEqual(readdirSync(dir), []);
});

test('a directory that cannot be used is named, with the error', () => {
  const dir = join(tmpdir(), 'warden-heap-test-does-not-exist', 'deeper');
  const result = takeHeapSnapshot(dir, GIB);
  assert.ok('skipped' in result, JSON.stringify(result));
  assert.match(result.skipped, new RegExp(`^cannot use ${dir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ENOENT`));
});

test('a disk with less than twice the heap free is skipped, one with enough is used', (t) => {
  const dir = emptyDir(t);
  const heap = getHeapStatistics().used_heap_size;
  const tight = takeHeapSnapshot(dir, GIB, () => ({ bavail: Math.floor((1.5 * heap) / 4096), bsize: 4096 }));
  assert.ok('skipped' in tight, JSON.stringify(tight));
  assert.match(tight.skipped, /has \d+ MB free, less than twice the heap \(\d+ MB\)$/);
  assert.deepEqual(readdirSync(dir), [], 'nothing written');
  const roomy = takeHeapSnapshot(dir, GIB, () => ({ bavail: Math.ceil((4 * heap) / 4096), bsize: 4096 }));
  assert.ok('path' in roomy, JSON.stringify(roomy));
  assert.deepEqual(readdirSync(dir), [roomy.path.slice(dir.length + 1)], 'the snapshot file is in the directory');
});
