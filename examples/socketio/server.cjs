// socket.io on warden's workers, self-listening. Serve with --sticky: socket.io's long-polling
// transport sends each session's requests on several connections, which must reach the worker that
// holds the session. GET /slow?ms=N answers after N ms; the "whoami" event answers with the pid.
// Run: warden serve server.cjs --workers 2 --sticky
const http = require('node:http');
const { Server } = require('socket.io');

const server = http.createServer((request, response) => {
  const url = new URL(request.url, 'http://x');
  const reply = () => {
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ pid: process.pid, worker: process.env.WARDEN_WORKER_ID ?? null }));
  };
  if (url.pathname === '/slow') setTimeout(reply, Number(url.searchParams.get('ms') ?? 0));
  else if (url.pathname === '/') reply();
});
const io = new Server(server);
io.on('connection', (socket) => {
  socket.on('whoami', (answer) => answer({ pid: process.pid, worker: process.env.WARDEN_WORKER_ID ?? null }));
});

server.listen(process.env.PORT ?? 3000);
