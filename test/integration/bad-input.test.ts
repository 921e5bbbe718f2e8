// Bad input: each gets one clear message naming the cause and a non-zero exit, within seconds.

import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { fixture, ownProcesses, runCli } from './harness.js';

const serve = (app: string, ...flags: string[]) => ['serve', app, '--port', '0', '--admin-port', '0', ...flags];

const USAGE: [string, string[], RegExp][] = [
  ['an unknown flag', ['serve', 'app.js', '--wrokers', '2'], /unknown option '--wrokers'/],
  ['--workers abc', serve(fixture('slow.mjs'), '--workers', 'abc'), /--workers must be a positive integer \(at most 1024\), "auto", or a range MIN\.\.MAX such as 2\.\.8 \(got "abc"\)/],
  ['--workers 1.5', serve(fixture('slow.mjs'), '--workers', '1.5'), /--workers must be .*\(got "1\.5"\)/],
  ['--port 70000', ['serve', fixture('slow.mjs'), '--port', '70000'], /--port must be a port number from 0 to 65535 \(got "70000"\)/],
  ['--balance random', serve(fixture('slow.mjs'), '--balance', 'random'), /--balance must be "shared" .* or "handoff" .*\(got "random"\)/],
  ['a missing module argument', ['serve'], /no app to serve\n  hint: give the path of your app module/],
  ['WARDEN_WORKERS=lots', serve(fixture('slow.mjs')), /--workers \(from WARDEN_WORKERS\) must be/],
];

for (const [name, args, message] of USAGE) {
  test(`usage error: ${name} -> exit 2 and a message saying what to fix`, async (t) => {
    const outcome = await runCli(t, args, { env: name.startsWith('WARDEN_WORKERS') ? { WARDEN_WORKERS: 'lots' } : {} });
    assert.equal(outcome.code, 2, `exit code 2; stderr: ${outcome.stderr}`);
    assert.match(outcome.stderr, /^warden: /);
    assert.match(outcome.stderr, message);
  });
}

const BOOT: [string, string, string[], RegExp][] = [
  ['a module that does not exist', 'does-not-exist.js', [], /cannot load app "does-not-exist\.js": no such file/],
  // Each pattern names the cause, not only the module path that every message repeats.
  ['a syntax error', fixture('bad/syntax-error.js'), [], /syntax-error\.js": SyntaxError: Unexpected token ';' \(.*syntax-error\.js:4:18\)/],
  ['a module that throws at import', fixture('bad/throws-at-import.cjs'), [], /it threw while being imported: Error: WARDEN_FIXTURE_DATABASE_URL is not set/],
  // warden waits for a late listen() up to (nearly) --boot-timeout, and then the loader says why.
  ['a module with no usable export', fixture('bad/no-export.mjs'), ['--boot-timeout', '2'], /no usable export: it has no default export \(exports: none\), and no server called listen\(\d+\) within 1500 ms/],
  ['an export name that is missing', `${fixture('shapes/listener.mjs')}:nope`, [], /it has no export named "nope" \(exports: default\)/],
  ['a factory that rejects', fixture('bad/factory-rejects.mjs'), ['--factory'], /the factory rejected: Error: cannot reach the database/],
  ['a factory that is not a function', fixture('bad/factory-not-function.mjs'), ['--factory'], /--factory was given, but its default export is an object with keys port, not a function/],
  ['a module importing a missing package', fixture('bad/missing-dependency.mjs'), [], /Cannot find (package|module)/],
  // The script keeps a 60 s timer pending; the wait for its listen() ends just before --boot-timeout.
  ['a script that never listens before the boot timeout', fixture('bad/never-listens.mjs'), ['--boot-timeout', '2'], /cannot load app ".*never-listens\.mjs": no usable export: .*no server called listen\(\d+\) within 1500 ms/],
];

for (const [name, app, flags, message] of BOOT) {
  test(`boot failure: ${name} -> one clear error and exit 3 within seconds, no worker left`, async (t) => {
    const processes = ownProcesses(t);
    const outcome = await runCli(t, serve(app, '--workers', '2', ...flags), { owned: processes });
    assert.equal(outcome.code, 3, `exit code 3; stderr:\n${outcome.stderr}`);
    assert.match(outcome.stderr, message);
    if (flags.includes('--boot-timeout')) {
      assert.ok(outcome.ms >= 1500, `warden waited for a late listen() (gave up after ${outcome.ms} ms)`);
    }
    await processes.expectAllGone('after warden exited 3');
    const finalLines = outcome.stderr.split('\n').filter((line) => line.startsWith('warden: '));
    assert.equal(finalLines.length, 1, `exactly one final error line:\n${outcome.stderr}`);
    assert.ok(outcome.ms < 15_000, `gave up after ${outcome.ms} ms`);
    assert.doesNotMatch(outcome.stderr + outcome.stdout, /restarting worker/, 'no restart loop');
  });
}

test('a worker that exits before ready: exit 3, and the hint to run the app alone keeps the arguments after --', async (t) => {
  const outcome = await runCli(t, [...serve(fixture('bad/exits-at-boot.cjs'), '--workers', '1'), '--', 'start', '--hostname', 'my host']);
  assert.equal(outcome.code, 3, outcome.stderr);
  assert.match(outcome.stderr, /exited with code 7 before it was ready/);
  assert.match(outcome.stderr, /hint: see the worker output above, or run `node \S*exits-at-boot\.cjs start --hostname 'my host'`/);
});

test('an app that binds a port of its own: exit 3, and the hint says to listen on PORT', async (t) => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const outcome = await runCli(t, serve(fixture('bad/own-port.cjs'), '--workers', '2'), { env: { FIXTURE_PORT: String(port) } });
  assert.equal(outcome.code, 3, outcome.stderr);
  assert.match(outcome.stderr, /warden: cannot start app ".*own-port\.cjs": Error: listen EADDRINUSE/);
  assert.match(outcome.stderr, /hint: the app binds a port of its own; make it listen on process\.env\.PORT/);
});

test('a port already in use: the error names host:port and warden exits non-zero', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const outcome = await runCli(t, ['serve', fixture('slow.mjs'), '--port', String(port), '--admin-port', '0']);
  assert.equal(outcome.code, 1);
  assert.match(outcome.stderr, new RegExp(`warden: cannot listen on 127\\.0\\.0\\.1:${port} for the service: EADDRINUSE`));
  assert.match(outcome.stderr, /hint: another process is using/);
});

// 192.0.2.1 (TEST-NET-1) is no address of this machine: binding it fails, and no traffic leaves.
for (const [flag, what] of [['--host', 'service'], ['--admin-host', 'admin server']] as const) {
  test(`${flag} is the address the ${what} binds: one that is not local fails naming it`, async (t) => {
    const outcome = await runCli(t, ['serve', fixture('slow.mjs'), '--port', '0', '--admin-port', '0', flag, '192.0.2.1']);
    assert.equal(outcome.code, 1, outcome.stderr);
    assert.match(outcome.stderr, new RegExp(`warden: cannot listen on 192\\.0\\.2\\.1:0 for the ${what}: EADDRNOTAVAIL`));
    assert.match(outcome.stderr, /hint: 192\.0\.2\.1 is not an address of this machine/);
  });
}
