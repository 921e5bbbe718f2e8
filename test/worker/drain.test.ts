// Which keep-alive connections a draining worker closes, and when: a connection is quiet from its
// last answer (or the last bytes a check saw it read), and closes after DRAIN_IDLE_MS and three
// checks; one carrying a request never does. Fake sockets and an injected clock, no processes.

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { test } from 'node:test';
import { DRAIN_IDLE_MS } from '../../src/worker/connection-close.js';
import { RequestTracker } from '../../src/worker/requests.js';

class FakeSocket extends EventEmitter {
  bytesRead = 0;
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function setUp() {
  const tracker = new RequestTracker(0);
  const server = new EventEmitter();
  tracker.attach(server as unknown as HttpServer);
  const connect = (at: number) => {
    const socket = new FakeSocket();
    tracker.addSocket(socket as unknown as Socket, at);
    return socket;
  };
  /** A request on `socket`; returns its end(), which answers it now (the tracker's own clock). */
  const request = (socket: FakeSocket) => {
    socket.bytesRead += 80;
    const res = Object.assign(new EventEmitter(), { headersSent: true, statusCode: 200, shouldKeepAlive: true, socket });
    server.emit('request', { socket, method: 'GET', url: '/' }, res);
    return () => res.emit('close');
  };
  const check = (at: number, times = 3) => {
    for (let i = 0; i < times; i++) tracker.closeIdle(at + i);
  };
  return { tracker, connect, request, check };
}

test('a connection idle since long before the drain closes at once; one answered a moment ago waits until it has been quiet for DRAIN_IDLE_MS', () => {
  const { connect, request, check } = setUp();
  const now = performance.now();
  const pooled = connect(now - 10 * DRAIN_IDLE_MS); // accepted long ago and never used since
  const busy = connect(now - 10 * DRAIN_IDLE_MS);
  request(busy)(); // answered now (the tracker's clock): quiet only from now on
  check(now + DRAIN_IDLE_MS / 2);
  assert.equal(pooled.destroyed, true, 'quiet for far longer than DRAIN_IDLE_MS: closed on the third check');
  assert.equal(busy.destroyed, false, 'answered a moment ago: its client may be sending the next request');
  check(now + DRAIN_IDLE_MS + 10);
  assert.equal(busy.destroyed, true, 'quiet for DRAIN_IDLE_MS since its last answer: closed');
});

test('three checks are needed, and bytes read since the last check start the quiet time again', () => {
  const { connect, check } = setUp();
  const socket = connect(performance.now());
  const late = performance.now() + 10 * DRAIN_IDLE_MS;
  check(late, 2);
  assert.equal(socket.destroyed, false, 'two checks are not enough (the read of bytes already there may come between them)');
  socket.bytesRead += 40; // a request on its way: parsed, not yet a request
  check(late + 2);
  assert.equal(socket.destroyed, false, 'bytes read: active again');
  check(late + DRAIN_IDLE_MS - 10);
  assert.equal(socket.destroyed, false);
  check(late + DRAIN_IDLE_MS + 10);
  assert.equal(socket.destroyed, true);
});

test('a connection with a request in flight is never closed as idle', () => {
  const { connect, request, check } = setUp();
  const socket = connect(performance.now());
  const answer = request(socket);
  check(performance.now() + 60 * DRAIN_IDLE_MS);
  assert.equal(socket.destroyed, false, 'its answer is still to come');
  answer();
  check(performance.now() + DRAIN_IDLE_MS + 10);
  assert.equal(socket.destroyed, true, 'answered, then quiet: closed');
});
