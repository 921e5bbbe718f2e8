// The CPU-bound bench app: a fixed amount of synchronous hashing per request (BENCH_CPU_ROUNDS
// SHA-256 rounds over 1 KB, default 1,500: ~2 ms on the machine the bench was written on, an AMD EPYC
// core), then a tiny body. A fixed amount, not a fixed time: a busy neighbour must not make the
// requests cheaper. What a JSON-heavy or template-rendering route costs, without I/O.

import { createHash } from 'node:crypto';
import { count } from './stats.js';

const rounds = Number(process.env.BENCH_CPU_ROUNDS ?? 1500);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`BENCH_CPU_ROUNDS must be a positive integer (got "${process.env.BENCH_CPU_ROUNDS}")`);
const block = Buffer.alloc(1024, 7);

function hashRounds() {
  let digest = block;
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(block).update(digest).digest();
  return digest;
}

export default function cpu(req, res) {
  count(req);
  res.setHeader('x-pid', String(process.pid));
  const digest = hashRounds();
  res.setHeader('content-type', 'text/plain');
  res.end(`${digest.toString('hex', 0, 4)}\n`);
}
