// The control channel's messages, parsed without sockets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultControlPath, parseControlReply, parseControlRequest } from '../../src/control/protocol.js';

test('requests: reload, status, and scale to a count or by a step', () => {
  assert.deepEqual(parseControlRequest('{"cmd":"reload"}'), { cmd: 'reload' });
  assert.deepEqual(parseControlRequest('{"cmd":"status"}'), { cmd: 'status' });
  assert.deepEqual(parseControlRequest('{"cmd":"scale","workers":3}'), { cmd: 'scale', workers: 3 });
  assert.deepEqual(parseControlRequest('{"cmd":"scale","delta":-1}'), { cmd: 'scale', delta: -1 });
});

test('bad requests are refused with the reason, never thrown', () => {
  assert.equal(parseControlRequest('{'), 'malformed request: not JSON');
  assert.equal(parseControlRequest('[1]'), 'malformed request: expected a JSON object');
  assert.equal(parseControlRequest('null'), 'malformed request: expected a JSON object');
  assert.equal(parseControlRequest('{"cmd":"shutdown"}'), 'unknown command "shutdown"; known: reload, scale, status, profile');
  assert.match(parseControlRequest('{"cmd":"scale"}') as string, /^malformed scale request/);
  assert.match(parseControlRequest('{"cmd":"scale","workers":2.5}') as string, /^malformed scale request/);
  assert.match(parseControlRequest('{"cmd":"scale","delta":0}') as string, /^malformed scale request/);
  assert.match(parseControlRequest('{"cmd":"scale","workers":2,"delta":1}') as string, /^malformed scale request/);
});

test('replies: progress and done; anything else is ignored', () => {
  assert.deepEqual(parseControlReply('{"type":"progress","message":"slot 1"}'), { type: 'progress', message: 'slot 1' });
  assert.deepEqual(parseControlReply('{"type":"done","ok":false,"message":"failed"}'), { type: 'done', ok: false, message: 'failed' });
  assert.equal(parseControlReply('{"type":"done","message":"no ok"}'), undefined);
  assert.equal(parseControlReply('garbage'), undefined);
});

test('the default socket: one per service port, in a per-user directory under XDG_RUNTIME_DIR or the temp dir', () => {
  assert.equal(defaultControlPath(8000, { XDG_RUNTIME_DIR: '/run/user/1000/' }, 1000, '/tmp'), '/run/user/1000/warden-1000/control-8000.sock');
  assert.equal(defaultControlPath(8001, {}, 1000, '/tmp'), '/tmp/warden-1000/control-8001.sock');
  assert.equal(defaultControlPath(8001, { XDG_RUNTIME_DIR: '' }, 0, '/var/tmp'), '/var/tmp/warden-0/control-8001.sock');
});

test('a profile request names a slot from 1 and seconds from 0.1 to 60', () => {
  assert.deepEqual(parseControlRequest('{"cmd":"profile","slot":2,"seconds":1.5}'), { cmd: 'profile', slot: 2, seconds: 1.5 });
  assert.match(parseControlRequest('{"cmd":"profile","slot":0,"seconds":1}') as string, /^malformed profile request: "slot"/);
  assert.match(parseControlRequest('{"cmd":"profile","slot":1}') as string, /^malformed profile request: "seconds" must be a number from 0\.1 to 60/);
  assert.match(parseControlRequest('{"cmd":"profile","slot":1,"seconds":61}') as string, /^malformed profile request: "seconds"/);
});
