// N independent node processes on one port with SO_REUSEPORT (`listen({ reusePort: true })`, Node
// >= 22.12): the kernel hashes each new connection to one listener, no primary is in the path. This
// launcher only starts BENCH_WORKERS copies of server.js and starts a new one when one exits (as
// bench/apps/cluster.js does for node:cluster); it is the contender's "primary" for CPU and RSS.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const workers = Number(process.env.BENCH_WORKERS ?? 2);
const server = fileURLToPath(new URL('./server.js', import.meta.url));
const children = new Set();
let isStopping = false;
let listening = 0;

function startOne() {
  const child = spawn(process.execPath, [server], { env: { ...process.env, BENCH_REUSEPORT: '1' }, stdio: ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  let hasListened = false;
  createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', (line) => {
    if (hasListened || !line.startsWith('listening on')) return;
    hasListened = true;
    listening += 1;
    if (listening === workers) process.stdout.write(`reuseport ready: ${workers} processes (pid ${process.pid})\n`);
  });
  child.once('exit', (code, signal) => {
    children.delete(child);
    if (isStopping) {
      if (children.size === 0) process.exit(0);
      return;
    }
    process.stdout.write(`process ${child.pid} exited (${signal ?? code}); starting a new one\n`);
    startOne();
  });
}

process.on('SIGTERM', () => {
  isStopping = true;
  if (children.size === 0) process.exit(0);
  for (const child of children) child.kill('SIGKILL');
});
for (let i = 0; i < workers; i++) startOne();
