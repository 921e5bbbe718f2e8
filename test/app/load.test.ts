// Tests for loadApp (src/app/load.ts) as a worker runs it: each fixture is loaded in a child process
// (test/fixtures/load-harness.mjs) that feeds sockets into the loaded server with emit('connection');
// the test sends real HTTP requests. warden's port is really held here, as the primary holds it.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test, type TestContext } from 'node:test';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const harness = fileURLToPath(new URL('../../../test/fixtures/load-harness.mjs', import.meta.url));
const READY_TIMEOUT_MS = 20_000;
const TEST_TIMEOUT_MS = 60_000;
const WORKER_ID = '3';

interface Ready {
  ready: true;
  port: number;
  shape: string;
  viaFactory: boolean;
  address: unknown;
}
interface Failed {
  error: { code: string; message: string; hint?: string; cause?: string };
}

// Held for the whole file on all interfaces: a fixture whose listen() really bound it would fail.
const wardenPort = net.createServer();
before(async () => {
  wardenPort.listen(0);
  await once(wardenPort, 'listening');
});
after(() => wardenPort.close());

function heldPort(): number {
  return (wardenPort.address() as net.AddressInfo).port;
}

/** Starts the harness on a fixture and resolves with its one JSON line, or rejects at the deadline. */
async function loadInChild(t: TestContext, fixture: string, args: string[] = []): Promise<{ child: ChildProcess; line: Ready | Failed }> {
  const child = spawn(process.execPath, [harness, `test/fixtures/${fixture}`, '--port', String(heldPort()), ...args], {
    cwd: repoRoot,
    env: { ...process.env, WARDEN_WORKER_ID: WORKER_ID },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const line = await new Promise<Ready | Failed>((resolve, reject) => {
    const deadline = setTimeout(() => reject(new Error(`no line from the harness within ${READY_TIMEOUT_MS} ms; stderr: ${stderr}`)), READY_TIMEOUT_MS);
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const newline = stdout.indexOf('\n');
      if (newline === -1) return;
      clearTimeout(deadline);
      resolve(JSON.parse(stdout.slice(0, newline)) as Ready | Failed);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(deadline);
      reject(new Error(`harness exited (code ${code}, signal ${signal}) before printing; stderr: ${stderr}`));
    });
  });
  return { child, line };
}

async function getJson(port: number): Promise<{ status: number; body: unknown }> {
  const response = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/some/path?x=1', agent: false }, resolve).on('error', reject);
  });
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return { status: response.statusCode ?? 0, body: JSON.parse(text) as unknown };
}

function assertReady(line: Ready | Failed): Ready {
  if ('error' in line) assert.fail(`load failed: ${line.error.message}`);
  return line;
}

function assertFailed(line: Ready | Failed): Failed['error'] {
  if (!('error' in line)) assert.fail(`expected a load error, got shape ${line.shape}`);
  return line.error;
}

describe('loadApp serves each app shape through emit(connection)', { concurrency: 4 }, () => {
  const cases: Array<{ name: string; fixture: string; args?: string[]; shape: string; replyShape: string; viaFactory?: boolean }> = [
    { name: 'an Express app (CommonJS) is served as a request listener', fixture: 'shapes/express.cjs', shape: 'listener', replyShape: 'express' },
    { name: 'a plain request listener (ESM) is served', fixture: 'shapes/listener.mjs', shape: 'listener', replyShape: 'listener' },
    { name: 'a Koa app is served through callback()', fixture: 'shapes/koa.mjs', shape: 'koa', replyShape: 'koa' },
    { name: 'a Fastify instance is made ready and its server is used', fixture: 'shapes/fastify.cjs', shape: 'fastify', replyShape: 'fastify' },
    { name: 'a Hono app is served as a fetch handler', fixture: 'shapes/hono.mjs', shape: 'fetch', replyShape: 'hono' },
    { name: 'an http.Server that is not listening is used as is', fixture: 'shapes/server.cjs', shape: 'server', replyShape: 'server' },
    { name: 'an async factory is awaited and its Express app served', fixture: 'shapes/factory-async.mjs', args: ['--factory'], shape: 'listener', replyShape: 'factory-async', viaFactory: true },
    { name: 'a script calling listen(process.env.PORT) has its server captured', fixture: 'shapes/self-listen.cjs', shape: 'self-listen', replyShape: 'self-listen' },
    { name: 'a script that listens after a 300 ms timer is waited for', fixture: 'shapes/self-listen-late.mjs', shape: 'self-listen', replyShape: 'self-listen-late' },
    { name: 'a server the app started itself is preferred over its usable export', fixture: 'shapes/fastify-self-listen.mjs', shape: 'self-listen', replyShape: 'fastify-self-listen' },
    { name: 'a TypeScript module with types and an interface is loaded', fixture: 'shapes/typed.ts', shape: 'listener', replyShape: 'typed' },
    { name: 'a CommonJS TypeScript module (.cts) is loaded', fixture: 'shapes/typed-cjs.cts', shape: 'server', replyShape: 'typed-cjs' },
    { name: 'a named export given after ":" is used instead of the default', fixture: 'shapes/named-export.mjs', args: ['--export', 'app'], shape: 'listener', replyShape: 'named-export' },
  ];
  for (const c of cases) {
    test(c.name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { child, line } = await loadInChild(t, c.fixture, c.args);
      const ready = assertReady(line);
      assert.equal(ready.shape, c.shape, 'shape reported by loadApp');
      assert.equal(ready.viaFactory, c.viaFactory ?? false, 'viaFactory');
      assert.deepEqual(ready.address, { address: '127.0.0.1', family: 'IPv4', port: heldPort() }, 'server.address()');

      const { status, body } = await getJson(ready.port);

      assert.equal(status, 200);
      assert.deepEqual(body, { pid: child.pid, worker: WORKER_ID, shape: c.replyShape });
    });
  }
});

describe('loadApp fails with WARDEN_APP_LOAD naming the module and the cause', { concurrency: 4 }, () => {
  const cases: Array<{ name: string; fixture: string; args?: string[]; module?: string; includes: string[]; hint?: string }> = [
    {
      name: 'a syntax error in an ES module gives file:line:column',
      fixture: 'bad/syntax-error.js',
      includes: ["SyntaxError: Unexpected token ';'", '(test/fixtures/bad/syntax-error.js:4:18)'],
      hint: 'run `node ./test/fixtures/bad/syntax-error.js`',
    },
    {
      name: 'a syntax error in a CommonJS module gives file:line:column',
      fixture: 'bad/syntax-error.cjs',
      includes: ["SyntaxError: Unexpected token ';'", '(test/fixtures/bad/syntax-error.cjs:4:18)'],
    },
    {
      name: 'a module that throws at import reports the error and where it was thrown',
      fixture: 'bad/throws-at-import.cjs',
      includes: ['it threw while being imported', 'Error: WARDEN_FIXTURE_DATABASE_URL is not set', 'throws-at-import.cjs:3:9'],
    },
    {
      name: 'an unusable export says what it is',
      fixture: 'bad/unusable-export.mjs',
      includes: ['no usable export', 'its default export is a number (42)'],
      hint: 'process.env.PORT',
    },
    {
      name: 'a rejecting factory reports the rejection',
      fixture: 'bad/factory-rejects.mjs',
      args: ['--factory'],
      includes: ['the factory rejected', 'cannot reach the database'],
    },
    {
      name: 'a factory that is not a function is refused before calling it',
      fixture: 'bad/factory-not-function.mjs',
      args: ['--factory'],
      includes: ['--factory was given', 'an object with keys port', 'not a function'],
    },
    {
      name: 'a missing file is reported as not found',
      fixture: 'bad/does-not-exist.mjs',
      includes: ['file not found', 'ENOENT'],
    },
    {
      name: 'an import that cannot be resolved names the package',
      fixture: 'bad/missing-dependency.mjs',
      includes: ['cannot resolve an import', "'warden-fixture-no-such-package'"],
    },
    {
      name: 'a missing named export lists the exports that exist',
      fixture: 'shapes/named-export.mjs',
      args: ['--export', 'nope'],
      module: './test/fixtures/shapes/named-export.mjs:nope',
      includes: ['no export named "nope"', '(exports: app, default)'],
    },
    {
      name: 'a script with pending work that never listens fails after listenWaitMs',
      fixture: 'bad/never-listens.mjs',
      args: ['--listen-wait-ms', '300'],
      includes: ['no usable export', 'no server called listen(', 'within 300 ms'],
    },
  ];
  for (const c of cases) {
    test(c.name, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { child, line } = await loadInChild(t, c.fixture, c.args);
      const error = assertFailed(line);
      assert.equal(error.code, 'WARDEN_APP_LOAD');
      const module = c.module ?? `./test/fixtures/${c.fixture}`;
      assert.ok(error.message.startsWith(`cannot load app "${module}": `), `names the module: ${error.message}`);
      for (const text of c.includes) assert.ok(error.message.includes(text), `message has ${JSON.stringify(text)}: ${error.message}`);
      assert.ok((error.hint ?? '').length > 0, 'has a hint');
      if (c.hint !== undefined) assert.ok(error.hint?.includes(c.hint), `hint has ${JSON.stringify(c.hint)}: ${error.hint}`);
      const [code] = (await once(child, 'exit')) as [number | null];
      assert.equal(code, 1, 'harness exits 1 on a load error');
    });
  }

  test('a script with no export that never listens fails after listenWaitMs, not at once on a guess', { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const listenWaitMs = 500;
    const startedAt = Date.now();
    const { line } = await loadInChild(t, 'bad/no-export.mjs', ['--listen-wait-ms', String(listenWaitMs)]);
    const elapsedMs = Date.now() - startedAt;
    const error = assertFailed(line);
    assert.equal(error.code, 'WARDEN_APP_LOAD');
    assert.ok(error.message.startsWith('cannot load app "./test/fixtures/bad/no-export.mjs": no usable export'), error.message);
    assert.ok(error.message.includes(`no server called listen(${heldPort()}) within ${listenWaitMs} ms`), error.message);
    assert.ok(elapsedMs >= listenWaitMs, `waited the whole ${listenWaitMs} ms (failed after ${elapsedMs} ms)`);
  });
});

describe('a script that listens after async file work is never refused', () => {
  // 3000 awaited open()/close() pairs before listen(): a guess from the process's pending resources
  // once refused this app in 8 of 8 boots. Booted 8 times, it must be served every time.
  for (let run = 1; run <= 8; run++) {
    test(`boot ${run} of 8 serves it`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
      const { line } = await loadInChild(t, 'shapes/listen-after-file-work.cjs', ['--listen-wait-ms', '20000']);
      const ready = assertReady(line);
      assert.equal(ready.shape, 'self-listen');
      const { status } = await getJson(ready.port);
      assert.equal(status, 200);
    });
  }
});

