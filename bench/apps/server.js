// hello.js on its own listener: the plain-node baseline, each node:cluster worker and each PM2
// cluster instance. Prints one line when listening, so a parent can wait for it.

import { createServer } from 'node:http';
import hello from './hello.js';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write(`bench/apps/server.js: PORT must be a port number (got "${process.env.PORT ?? ''}")\n`);
  process.exit(2);
}
const server = createServer(hello);
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${port} (pid ${process.pid})\n`);
});
