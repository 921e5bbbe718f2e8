// The CPU-bound bench app: ~2 ms of synchronous hashing per request (calibrated once at load), then
// a tiny body. What a JSON-heavy or template-rendering route costs, without I/O.

import { createHash } from 'node:crypto';
import { count } from './stats.js';

const TARGET_MS = Number(process.env.BENCH_CPU_MS ?? 2);
const block = Buffer.alloc(1024, 7);

function hashRounds(rounds) {
  let digest = block;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(block).update(digest).digest();
  return digest;
}

// Calibrate: how many rounds take TARGET_MS on this machine, now.
let rounds = 200;
for (;;) {
  const started = performance.now();
  hashRounds(rounds);
  const took = performance.now() - started;
  if (took >= 20) {
    rounds = Math.max(1, Math.round((rounds * TARGET_MS) / took));
    break;
  }
  rounds *= 2;
}

export default function cpu(req, res) {
  count(req);
  res.setHeader('x-pid', String(process.pid));
  const digest = hashRounds(rounds);
  res.setHeader('content-type', 'text/plain');
  res.end(`${digest.toString('hex', 0, 4)}\n`);
}
