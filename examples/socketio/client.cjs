// A long-polling client (the transport that needs --sticky): connects, asks "whoami" COUNT times,
// prints one JSON line with the pids that answered. usage: node client.cjs http://127.0.0.1:PORT [COUNT]
const { io } = require('socket.io-client');

const socket = io(process.argv[2], { transports: ['polling'], reconnection: false, timeout: 5000 });
const count = Number(process.argv[3] ?? 5);
socket.on('connect_error', (error) => {
  console.log(JSON.stringify({ ok: false, error: error.message }));
  process.exit(1);
});
socket.on('connect', async () => {
  const pids = new Set();
  for (let i = 0; i < count; i++) pids.add((await socket.timeout(5000).emitWithAck('whoami')).pid);
  console.log(JSON.stringify({ ok: true, pids: [...pids] }));
  socket.close();
});
