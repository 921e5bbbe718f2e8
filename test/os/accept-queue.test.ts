// The /proc/net/tcp{,6} reader behind warden_accept_queue_length: the parser on sample text (IPv4,
// IPv6, v4-mapped, a non-LISTEN line, a header), matching by inode or port, and the real queue of a
// listening socket this test fills without accepting (Linux only). The reader stops at the first line
// that is not LISTEN, so a host with many connections costs no more than one with few.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { test } from 'node:test';
import { acceptQueueOf, endOfListenLines, parseListenSockets, readAcceptQueue, readListenSockets } from '../../src/os/accept-queue.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F40 00000000:0000 0A 00000200:00000003 00:00000000 00000000  1000        0 263545 1 00000000073a5120 100 0 0 10 0
   1: 00000000:2328 00000000:0000 0A 00000080:00000000 00:00000000 00000000     0        0 263544 1 0000000066982f41 100 0 0 10 0
   2: 0100007F:1F40 0100007F:D2C4 01 00000000:00000000 00:00000000 00000000  1000        0 270001 1 0000000000000000 20 4 30 10 -1
`;

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F40 00000000000000000000000000000000:0000 0A 00000200:00000001 00:00000000 00000000  1000        0 300001 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F41 00000000000000000000000000000000:0000 0A 00000010:00000002 00:00000000 00000000  1000        0 300002 1 0000000000000000 100 0 0 10 0
   2: 00000000000000000000000000000000:1F42 00000000000000000000000000000000:0000 0A 00001000:00000000 00:00000000 00000000  1000        0 300003 1 0000000000000000 100 0 0 10 0
`;

test('LISTEN lines of /proc/net/tcp: address, port and queued (rx_queue), other states skipped', () => {
  assert.deepEqual(parseListenSockets(TCP), [
    { address: '127.0.0.1', port: 8000, queued: 3, inode: 263545 },
    { address: '0.0.0.0', port: 9000, queued: 0, inode: 263544 },
  ]);
});

test('IPv6 lines: ::1, a v4-mapped address and ::', () => {
  assert.deepEqual(parseListenSockets(TCP6).map(({ address, port, queued }) => ({ address, port, queued })), [
    { address: '::1', port: 8000, queued: 1 },
    { address: '::ffff:127.0.0.1', port: 8001, queued: 2 },
    { address: '::', port: 8002, queued: 0 },
  ]);
});

test('text of another form yields nothing', () => {
  assert.deepEqual(parseListenSockets(''), []);
  assert.deepEqual(parseListenSockets('garbage\n 0: zz:zz 0 0A x'), []);
});

test('matching: by inode when known, else every LISTEN socket on the port (summed), none is null', () => {
  const sockets = [...parseListenSockets(TCP), ...parseListenSockets(TCP6)];
  assert.equal(acceptQueueOf(sockets, { port: 8000, inode: 263545 }), 3);
  assert.equal(acceptQueueOf(sockets, { port: 8000 }), 4);
  assert.equal(acceptQueueOf(sockets, { port: 1234 }), null);
  assert.equal(acceptQueueOf(sockets, { port: 8000, inode: 1 }), null);
});

/** A reader over `text` as a file, counting the bytes it hands out. */
function fileOf(text: string): { read: (buffer: Buffer) => number; bytesRead: () => number } {
  const bytes = Buffer.from(text, 'latin1');
  let offset = 0;
  return {
    read: (buffer) => {
      const length = bytes.copy(buffer, 0, offset, Math.min(bytes.length, offset + buffer.length));
      offset += length;
      return length;
    },
    bytesRead: () => offset,
  };
}

test('the LISTEN lines end at the first complete socket line in another state', () => {
  assert.equal(endOfListenLines(TCP), TCP.indexOf('   2:'));
  assert.equal(endOfListenLines(TCP.slice(0, TCP.indexOf('   2:') + 20)), undefined, 'a line cut short is not judged yet');
  assert.equal(endOfListenLines(TCP6), undefined, 'only LISTEN lines: read on to the end');
  assert.equal(endOfListenLines(''), undefined);
});

test('reading a host with 100,000 connections stops after the LISTEN lines', () => {
  const established = '   9: 0100007F:1F40 0100007F:D2C4 06 00000000:00000000 03:00000ABC 00000000     0        0 0 3 0000000000000000\n';
  const file = fileOf(TCP + established.repeat(100_000));
  assert.deepEqual(readListenSockets(file.read), parseListenSockets(TCP));
  assert.ok(file.bytesRead() <= 16 * 1024, `one chunk read of a ${(TCP.length + established.length * 100_000) / 1e6} MB file (read ${file.bytesRead()} bytes)`);
});

test('LISTEN lines cut across chunks are read whole', () => {
  for (const chunkBytes of [1, 7, 50, 4096]) {
    assert.deepEqual(readListenSockets(fileOf(TCP).read, chunkBytes), parseListenSockets(TCP), `chunks of ${chunkBytes} bytes`);
    assert.deepEqual(readListenSockets(fileOf(TCP6).read, chunkBytes), parseListenSockets(TCP6), `tcp6, chunks of ${chunkBytes} bytes`);
  }
  assert.deepEqual(readListenSockets(fileOf('').read), []);
});

test('a listening socket nobody accepts from: the queue read from /proc grows with each connection', { skip: process.platform !== 'linux' }, async (t) => {
  // A child listens, prints its port, then blocks its event loop: the kernel completes handshakes
  // that nobody accepts.
  const source = `const s = require('node:net').createServer();
s.listen({ host: '127.0.0.1', port: 0, backlog: 8 }, () => {
  process.stdout.write(s.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30000));
});`;
  const child = spawn(process.execPath, ['-e', source], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { if (child.exitCode === null) process.kill(child.pid as number, 'SIGKILL'); });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  const port = Number(chunk.toString().trim());
  const sockets: Socket[] = [];
  t.after(() => sockets.forEach((socket) => socket.destroy()));
  assert.equal(readAcceptQueue({ port }), 0, 'the socket is in /proc/net/tcp, its queue empty');
  for (let i = 0; i < 3; i++) {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
  }
  assert.equal(readAcceptQueue({ port }), 3, 'three connections wait in the queue');
});
