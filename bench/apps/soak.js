// The soak app (bench/soak.js): tiny answers with the pid in `x-pid`, and the faults the chaos loop
// asks for on a keep-alive connection of its own, so they hit the worker that answered /pid on it:
//   /pid     the pid of this worker            /health  200, also while poisoned
//   /spin    blocks the event loop forever     /poison  from now on every other request hangs
//   /leak    keeps 32 MB more (Buffers: RSS grows until --max-memory recycles the worker)
// Every connection this worker gets is logged to $BENCH_STATS_DIR/<pid>.conns as "<client port> <ms since
// epoch>" on the server's `connection` event, which warden emits as soon as the worker accepted the
// connection from the shared socket or took its hand-off, before the app has read a byte: a
// connection the worker took and then froze or died with is on record. The soak matches a failed
// request's local port with these lines to tell which worker held it. So the app exports its own
// http.Server (one of the shapes warden serves) to reach that event.

import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

const dir = process.env.BENCH_STATS_DIR;
const log = dir === undefined || dir === '' ? undefined : openSync(join(dir, `${process.pid}.conns`), 'a');
// <pid>.json tells the bench's startWarden() that this worker has loaded the app.
if (log !== undefined) writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify({ pid: process.pid }));
const kept = [];
let isPoisoned = false;

function logConnection(port) {
  // One write(2) per connection, O_APPEND: on record even when the worker is SIGKILLed next.
  if (log !== undefined && port !== undefined) writeSync(log, `${port} ${Date.now()}\n`);
}

process.on('exit', () => {
  if (log !== undefined) closeSync(log);
});

function soak(req, res) {
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

const server = createServer(soak);
server.on('connection', (socket) => logConnection(socket.remotePort));
export default server;
