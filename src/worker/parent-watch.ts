// No worker outlives its primary. The IPC 'disconnect' event covers a healthy worker; this thread
// covers one whose main thread is blocked (busy loop, Atomics.wait) when the primary dies, e.g. of
// SIGKILL: it sees the parent pid change and kills its own process. A process stopped with SIGSTOP
// runs no thread at all; see docs/operations.md (orphans).

import { Worker } from 'node:worker_threads';

const WATCH_SOURCE = `
const { workerData } = require('node:worker_threads');
const parent = workerData.parent;
setInterval(() => {
  if (process.ppid !== parent) process.kill(process.pid, 'SIGKILL');
}, workerData.intervalMs);
`;

export function watchParent(intervalMs = 500): void {
  const thread = new Worker(WATCH_SOURCE, {
    eval: true,
    workerData: { parent: process.ppid, intervalMs },
    // A watchdog must stay tiny: it only polls one number.
    resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 2 },
    stdout: false,
    stderr: false,
  });
  thread.unref();
}
