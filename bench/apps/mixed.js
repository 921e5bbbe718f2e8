// The mixed bench app (the single-worker trap): 1 request in 1,000 runs 100 ms of synchronous work
// on the event loop (a slow JSON parse, a sync crypto call); the others answer at once. A slow
// response carries `x-slow: 1` so the client can report the fast requests' latency on their own.

import { count } from './stats.js';

const SLOW_EVERY = Number(process.env.BENCH_SLOW_EVERY ?? 1000);
const SLOW_MS = Number(process.env.BENCH_SLOW_MS ?? 100);

export default function mixed(req, res) {
  count(req);
  res.setHeader('x-pid', String(process.pid));
  if (req.url !== '/health' && Math.random() * SLOW_EVERY < 1) {
    const until = performance.now() + SLOW_MS;
    while (performance.now() < until) {
      // Synchronous work: nothing else runs on this worker's loop meanwhile.
    }
    res.setHeader('x-slow', '1');
  }
  res.setHeader('content-type', 'text/plain');
  res.end('ok\n');
}
