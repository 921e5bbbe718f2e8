// --heap-snapshot-on-recycle, inside the worker: write a heap snapshot before a memory recycle,
// unless it would be unsafe. Writing one blocks the event loop and needs about the heap's size in
// memory and on disk, so a heap over the limit, or a disk without twice its size free, is skipped.

import { statfsSync } from 'node:fs';
import { join } from 'node:path';
import { getHeapStatistics, writeHeapSnapshot } from 'node:v8';
import type { HeapSnapshotResult } from '../protocol/messages.js';
import { megabytes as mb } from '../units.js';

/** `statfs` is replaceable so the free-space rule can be tested without filling a disk. */
export function takeHeapSnapshot(dir: string, maxHeapBytes: number, statfs: (path: string) => { bavail: number; bsize: number } = statfsSync): HeapSnapshotResult {
  const heapUsed = getHeapStatistics().used_heap_size;
  if (heapUsed > maxHeapBytes) {
    return { skipped: `heap of ${mb(heapUsed)} is over the ${mb(maxHeapBytes)} limit for snapshots` };
  }
  let freeBytes: number;
  try {
    const stats = statfs(dir);
    freeBytes = stats.bavail * stats.bsize;
  } catch (error) {
    return { skipped: `cannot use ${dir}: ${(error as Error).message}` };
  }
  if (freeBytes < 2 * heapUsed) return { skipped: `${dir} has ${mb(freeBytes)} free, less than twice the heap (${mb(heapUsed)})` };
  const started = performance.now();
  const file = join(dir, `warden-w${process.env.WARDEN_WORKER_ID ?? '0'}-${process.pid}-${Date.now()}.heapsnapshot`);
  const path = writeHeapSnapshot(file);
  return { path, bytes: heapUsed, tookMs: Math.round(performance.now() - started) };
}
