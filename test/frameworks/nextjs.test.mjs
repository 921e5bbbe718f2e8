// Next.js 16 under warden: `next start` (a package command, found in node_modules/.bin) and the
// `output: 'standalone'` server. `next start` exits at once on its own SIGINT/SIGTERM handlers, so
// Ctrl-C is the case that matters: warden's workers must not see the terminal's SIGINT.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { ctrlCWithRequestsInFlight, exampleDir, install, run, serveReloadStop } from './lib.mjs';

const ENV = { NEXT_TELEMETRY_DISABLED: '1' };

before(() => {
  install('nextjs');
  if (!existsSync(join(exampleDir('nextjs'), '.next', 'standalone', 'server.js'))) {
    run('nextjs', 'node_modules/.bin/next', ['build'], { ...ENV, NEXT_OUTPUT: 'standalone' });
  }
});

test('next start: 2 workers, reloads under load fail no request, SIGTERM exits 0 with no process left', async (t) => {
  await serveReloadStop(t, 'nextjs', ['next', '--', 'start'], { env: ENV, path: '/slow?ms=0' });
});

test('next start: Ctrl-C with 4 slow requests in flight finishes all 4 and exits 0', async (t) => {
  await ctrlCWithRequestsInFlight(t, 'nextjs', ['next', '--', 'start'], '/slow?ms=3000', { env: ENV });
});

test("output: 'standalone': .next/standalone/server.js is served as a self-listening app", async (t) => {
  const figures = await serveReloadStop(t, 'nextjs', ['.next/standalone/server.js'], { env: { ...ENV, HOSTNAME: '127.0.0.1' }, path: '/slow?ms=0', reloads: 1 });
  assert.equal(figures.failedRequests, 0);
});
