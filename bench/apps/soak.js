// The soak app (bench/soak.js): tiny answers with the pid in `x-pid`, and the faults the chaos loop
// asks for on a keep-alive connection of its own, so they hit the worker that answered /pid on it:
//   /pid     the pid of this worker            /health  200, also while poisoned
//   /spin    blocks the event loop forever     /poison  from now on every other request hangs
//   /leak    keeps 32 MB more (Buffers: RSS grows until --max-memory recycles the worker)
// Every connection this worker gets is logged to $BENCH_STATS_DIR/<pid>.conns as "<client port> <ms since
// epoch>": in hand-off mode when warden's IPC message hands it over (before the app has read a byte,
// so a connection the worker took and died with is on record), in shared mode on its first request.
// The soak matches a failed request's local port with these lines to tell which worker held it.

import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.BENCH_STATS_DIR;
const log = dir === undefined || dir === '' ? undefined : openSync(join(dir, `${process.pid}.conns`), 'a');
// <pid>.json tells the bench's startWarden() that this worker has loaded the app.
if (log !== undefined) writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ pid: process.pid }));
const seenSockets = new WeakSet();
const kept = [];
let isPoisoned = false;

function logConnection(port) {
  // One write(2) per connection, O_APPEND: on record even when the worker is SIGKILLed next.
  if (log !== undefined && port !== undefined) writeSync(log, `${port} ${Date.now()}\n`);
}

process.on('message', (message, handle) => {
  if (message?.warden !== 1 || message.act !== 'conn' || handle === undefined) return;
  const out = {};
  if (handle.getpeername?.(out) === 0) logConnection(out.port);
});
process.on('exit', () => {
  if (log !== undefined) closeSync(log);
});

export default function soak(req, res) {
  if (!seenSockets.has(req.socket)) {
    seenSockets.add(req.socket);
    if (process.env.SOAK_BALANCE === 'shared') logConnection(req.socket.remotePort);
  }
  res.setHeader('x-pid', String(process.pid));
  if (req.url === '/health') return res.end('ok\n');
  if (isPoisoned) return;
  switch (req.url) {
    case '/pid':
      return res.end(String(process.pid));
    case '/spin':
      for (;;) {
        // A busy loop: no I/O, no timers, no heartbeat, until warden kills the process.
      }
    case '/poison':
      isPoisoned = true;
      return res.end(`poisoned ${process.pid}\n`);
    case '/leak':
      kept.push(Buffer.alloc(32 * 1024 * 1024, 1));
      return res.end(`kept ${kept.length * 32} MB\n`);
    default:
      res.setHeader('content-type', 'text/plain');
      return res.end('hello\n');
  }
}
