// Handed-over connections behave like ones node:http accepted itself: TCP_NODELAY is on, so a
// response written in two pieces is not held back ~40 ms by Nagle's algorithm.

import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { test } from 'node:test';
import { fixture, startWarden } from './harness.js';

test('a response written in two pieces on a keep-alive connection is not delayed by Nagle', async (t) => {
  const warden = await startWarden(t, [fixture('two-writes.mjs'), '--workers', '2']);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const get = () => new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: warden.port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('error', reject);
    req.end();
  });
  await get();
  const count = 20;
  const started = performance.now();
  for (let i = 0; i < count; i++) await get();
  const perRequest = (performance.now() - started) / count;
  t.diagnostic(`${perRequest.toFixed(1)} ms per request`);
  assert.ok(perRequest < 25, `${perRequest.toFixed(1)} ms per request (Nagle would make it ~40 ms)`);
});
