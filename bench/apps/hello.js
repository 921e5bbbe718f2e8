// The benchmark app: a plain node:http request listener with a tiny body, served unchanged by every
// contender (warden loads this export; server.js listens with it for plain node, node:cluster and PM2).
// Each process counts its requests and connections into $BENCH_STATS_DIR/<pid>.json, because a /stats
// route would only reach whichever worker the balancer picked. Fault routes for bench/freeze.js:
//   /pid     the pid of the process that answered (so a keep-alive connection can pick its target)
//   /spin    blocks the event loop forever (for (;;) {})
//   /poison  from now on this process answers only /health; every other request hangs forever
//   /health  200 "ok", also while poisoned (an app health route that checks nothing, as many do)

import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const statsDir = process.env.BENCH_STATS_DIR;
const counts = { pid: process.pid, slot: process.env.WARDEN_WORKER_ID ?? null, requests: 0, connections: 0 };
const seenSockets = new WeakSet();
let isPoisoned = false;

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

export default function hello(req, res) {
  if (!seenSockets.has(req.socket)) {
    seenSockets.add(req.socket);
    counts.connections += 1;
  }
  res.setHeader('x-pid', String(process.pid));
  if (req.url === '/health') {
    res.end('ok\n');
    return;
  }
  if (isPoisoned) return;
  counts.requests += 1;
  switch (req.url) {
    case '/pid':
      res.end(String(process.pid));
      return;
    case '/spin':
      for (;;) {
        // A busy loop: no I/O, no timers, no heartbeat, until the process is killed.
      }
    case '/poison':
      isPoisoned = true;
      res.end(`poisoned ${process.pid}\n`);
      return;
    default:
      res.setHeader('content-type', 'text/plain');
      res.end('hello\n');
  }
}
