// The admin server on its own: a route that throws gives a bare 500 (the error goes to the log, never
// to the client), and which hosts count as loopback for the startup warning.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdminServer, isLoopbackHost } from '../../src/primary/admin/admin-server.js';
import { get } from '../integration/harness.js';

test('a route that throws answers 500 without the error text or stack, and reports the error', async (t) => {
  const seen: unknown[] = [];
  const server = new AdminServer({
    '/boom': () => {
      throw new Error('secret detail at /srv/app/db.js:12');
    },
    '/livez': () => ({ status: 200, body: { live: true } }),
  }, (error) => seen.push(error));
  const { port } = await server.listen('127.0.0.1', 0);
  t.after(() => server.close());
  const answer = await get(port, '/boom');
  assert.equal(answer.status, 500);
  assert.deepEqual(JSON.parse(answer.body), { error: 'internal error' });
  assert.doesNotMatch(answer.body, /secret|db\.js/);
  assert.equal(seen.length, 1, 'the error is handed to the logger');
  assert.equal((await get(port, '/livez')).status, 200, 'the server keeps serving');
});

test('loopback hosts: 127.0.0.0/8, ::1 and localhost; anything else is reachable from outside', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.0.0.5', '192.168.1.1', '::ffff:10.0.0.1', 'example.internal', '128.0.0.1']) assert.equal(isLoopbackHost(host), false, host);
});
