// What --uds does with the file already at its path: bind, replace a stale socket, or refuse.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { socketPathVerdict } from '../../src/primary/net/unix-socket.js';
import { requestedPath } from '../../src/app/listen-intercept.js';

test('no file: bind; a socket nobody accepts on: replace it', () => {
  assert.deepEqual(socketPathVerdict('/run/a.sock', { exists: false }), { action: 'bind' });
  assert.deepEqual(socketPathVerdict('/run/a.sock', { exists: true, isSocket: true, connect: 'refused' }), { action: 'replace' });
});

test('a live socket (or one too busy to answer), a plain file, or an unknown state: refuse, naming the path', () => {
  for (const connect of ['accepted', 'timed-out'] as const) {
    const verdict = socketPathVerdict('/run/a.sock', { exists: true, isSocket: true, connect });
    assert.equal(verdict.action, 'refuse');
    assert.match(verdict.action === 'refuse' ? verdict.reason : '', /another process is serving on \/run\/a\.sock/);
  }
  const file = socketPathVerdict('/run/a.sock', { exists: true, isSocket: false });
  assert.match(file.action === 'refuse' ? file.reason : '', /is not a socket/);
  const denied = socketPathVerdict('/run/a.sock', { exists: true, isSocket: true, connect: { error: 'EACCES' } });
  assert.match(denied.action === 'refuse' ? denied.reason : '', /cannot tell .* EACCES/);
});

test("a self-listening app's listen() on the socket path is recognised in each form", () => {
  assert.equal(requestedPath(['/run/a.sock']), '/run/a.sock');
  assert.equal(requestedPath([{ path: '/run/a.sock' }, () => undefined]), '/run/a.sock');
  assert.equal(requestedPath(['8000']), undefined);
  assert.equal(requestedPath([8000]), undefined);
  assert.equal(requestedPath([{ port: 8000 }]), undefined);
});
