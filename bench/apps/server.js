// A bench app on its own listener: the plain-node baseline, each node:cluster worker and each PM2
// cluster instance, and each SO_REUSEPORT process (BENCH_REUSEPORT=1, bench/apps/reuseport.js).
// BENCH_APP names the app module in this folder (default hello.js). Prints one line when listening,
// so a parent can wait for it.

import { createServer } from 'node:http';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write(`bench/apps/server.js: PORT must be a port number (got "${process.env.PORT ?? ''}")\n`);
  process.exit(2);
}
const appName = process.env.BENCH_APP ?? 'hello.js';
if (!/^[\w-]+\.js$/.test(appName)) {
  process.stderr.write(`bench/apps/server.js: BENCH_APP must be a file name in bench/apps such as hello.js (got "${appName}")\n`);
  process.exit(2);
}
const { default: app } = await import(new URL(`./${appName}`, import.meta.url).href);
const server = createServer(app);
// reusePort needs Node >= 22.12; older versions ignore the option and the second process fails
// with EADDRINUSE (the bench skips the contender there).
server.listen({ port, host: '127.0.0.1', reusePort: process.env.BENCH_REUSEPORT === '1' }, () => {
  process.stdout.write(`listening on 127.0.0.1:${port} (pid ${process.pid})\n`);
});
