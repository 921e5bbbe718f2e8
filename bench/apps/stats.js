// Per-process request and connection counters for every bench app, written to
// $BENCH_STATS_DIR/<pid>.json every 100 ms (a /stats route would only reach whichever worker the
// balancer picked). The bench reads them for served-per-worker and connections-per-request.

import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const statsDir = process.env.BENCH_STATS_DIR;
export const counts = { pid: process.pid, slot: process.env.WARDEN_WORKER_ID ?? null, requests: 0, connections: 0 };
const seenSockets = new WeakSet();

function writeStats() {
  const file = join(statsDir, `${process.pid}.json`);
  // Write then rename, so the bench never reads half a file.
  writeFileSync(`${file}.tmp`, JSON.stringify(counts));
  renameSync(`${file}.tmp`, file);
}

if (statsDir !== undefined && statsDir !== '') {
  writeStats();
  setInterval(writeStats, 100).unref();
}

/** Count a request (and its connection, the first time it is seen). */
export function count(req) {
  if (!seenSockets.has(req.socket)) {
    seenSockets.add(req.socket);
    counts.connections += 1;
  }
  counts.requests += 1;
}
