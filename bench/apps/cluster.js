// A plain node:cluster primary, written the way most apps do it: fork N workers running server.js,
// fork a new one whenever a worker exits. BENCH_SCHED picks the connection distribution:
// "rr" (the default on Linux: the primary accepts and hands sockets round-robin) or "none" (every
// worker accepts on the shared listening socket and the kernel picks).

import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';

const workers = Number(process.env.BENCH_WORKERS ?? 2);
// Must be set before the first fork; node reads it once.
cluster.schedulingPolicy = process.env.BENCH_SCHED === 'none' ? cluster.SCHED_NONE : cluster.SCHED_RR;
cluster.setupPrimary({ exec: fileURLToPath(new URL('./server.js', import.meta.url)), silent: false });

let isStopping = false;
let listening = 0;
cluster.on('listening', () => {
  listening += 1;
  if (listening === workers) process.stdout.write(`cluster ready: ${workers} workers (pid ${process.pid})\n`);
});
cluster.on('exit', (worker, code, signal) => {
  if (isStopping) return;
  process.stdout.write(`worker ${worker.process.pid} exited (${signal ?? code}); forking a new one\n`);
  cluster.fork();
});
process.on('SIGTERM', () => {
  isStopping = true;
  const alive = Object.values(cluster.workers ?? {}).filter(Boolean);
  if (alive.length === 0) process.exit(0);
  // Reap every worker before exiting, so none is left to init as a zombie.
  let left = alive.length;
  for (const worker of alive) {
    worker.process.once('exit', () => {
      left -= 1;
      if (left === 0) process.exit(0);
    });
    worker.process.kill('SIGKILL');
  }
});
for (let i = 0; i < workers; i++) cluster.fork();
