// Each supported app shape, unchanged, served by `warden serve --workers 2`: two worker PIDs answer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { answeringPids, fixture, startWarden } from './harness.js';

const SHAPES: [string, string, string[]][] = [
  ['a node:http request listener (Express)', 'shapes/express.cjs', []],
  ['a plain request listener function', 'shapes/listener.mjs', []],
  ['a Koa app', 'shapes/koa.mjs', []],
  ['a Fastify instance that is not listening', 'shapes/fastify.cjs', []],
  ['a fetch handler object (Hono)', 'shapes/hono.mjs', []],
  ['an http.Server that is not listening', 'shapes/server.cjs', []],
  ['an async factory (--factory)', 'shapes/factory-async.mjs', ['--factory']],
  ['a script that calls listen(PORT) itself', 'shapes/self-listen.cjs', []],
  ['a script that calls listen() after a delay', 'shapes/self-listen-late.mjs', []],
  ['a named export (module:export)', 'shapes/named-export.mjs:app', []],
  ['a TypeScript module', 'shapes/typed.ts', []],
  ['an ES module in TypeScript (.mts)', 'shapes/typed.mts', []],
  ['a CommonJS module in TypeScript (.cts)', 'shapes/typed-cjs.cts', []],
  ['a TypeScript module with an enum (tsx where Node cannot strip it)', 'shapes/typed-enum.ts', []],
];

for (const [name, spec, flags] of SHAPES) {
  test(`serves ${name} on two workers`, async (t) => {
    const [file, exportName] = spec.split(':') as [string, string | undefined];
    const warden = await startWarden(t, [`${fixture(file)}${exportName ? `:${exportName}` : ''}`, '--workers', '2', ...flags]);
    const pids = await answeringPids(warden.port, 2);
    assert.equal(pids.size, 2, `two distinct worker pids answer (got ${[...pids].join(', ')})`);
    const { workers } = await warden.workers();
    assert.deepEqual(new Set(workers.map((w) => w.pid)), pids, 'the answering pids are the workers /workers lists');
  });
}
