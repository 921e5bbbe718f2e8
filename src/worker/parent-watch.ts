// No worker outlives its primary. Started under setpriv (Linux), a worker gets SIGKILL from the
// kernel when its parent dies, whatever it is doing, stopped or not. Without it this thread is the
// fallback for a worker whose main thread is blocked (busy loop, Atomics.wait) when the primary dies:
// it sees the parent pid change and kills its own process. A stopped process runs no thread at all;
// see docs/operations.md (orphans).

import { Worker } from 'node:worker_threads';

const WATCH_SOURCE = `
const { workerData } = require('node:worker_threads');
const parent = workerData.parent;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, workerData.intervalMs);
`;

/**
 * True when this process's parent is not the primary that started it: the primary died between
 * forking and this line (before the parent-death signal was set, or before any watch could start).
 */
export function isOrphaned(primaryPid: number): boolean {
  return process.ppid !== primaryPid;
}

/** The fallback: a tiny thread (its own V8 isolate, ~8 MB) that polls the parent pid. */
export function watchParent(primaryPid: number, intervalMs = 500): void {
  const thread = new Worker(WATCH_SOURCE, {
    eval: true,
    // The pid the primary announced, not process.ppid now: that may already be init's.
    workerData: { parent: primaryPid, intervalMs },
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    stdout: false,
    stderr: false,
  });
  thread.unref();
}
