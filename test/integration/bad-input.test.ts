// Bad input: each gets one clear message naming the cause and a non-zero exit, within seconds.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { ROOT, WARDEN, descendants, fixture, killQuietly } from './harness.js';

interface Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Run the warden CLI to completion (killed after 20 s), with no stdin, as CI does. */
function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.execPath, [WARDEN, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      for (const pid of descendants(child.pid as number)) killQuietly(pid);
      killQuietly(child.pid as number);
    }, 20_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

const serve = (app: string, ...flags: string[]) => ['serve', app, '--port', '0', '--admin-port', '0', ...flags];

const USAGE: [string, string[], RegExp][] = [
  ['an unknown flag', ['serve', 'app.js', '--wrokers', '2'], /unknown option '--wrokers'/],
  ['--workers abc', serve(fixture('slow.mjs'), '--workers', 'abc'), /--workers must be a positive integer \(at most 1024\) or "auto" \(got "abc"\)/],
  ['--workers 1.5', serve(fixture('slow.mjs'), '--workers', '1.5'), /--workers must be .*\(got "1\.5"\)/],
  ['--port 70000', ['serve', fixture('slow.mjs'), '--port', '70000'], /--port must be a port number from 0 to 65535 \(got "70000"\)/],
  ['--balance random', serve(fixture('slow.mjs'), '--balance', 'random'), /--balance must be "shared" .* or "handoff" .*\(got "random"\)/],
  ['a missing module argument', ['serve'], /missing required argument 'module'/],
  ['WARDEN_WORKERS=lots', serve(fixture('slow.mjs')), /WARDEN_WORKERS must be/],
];

for (const [name, args, message] of USAGE) {
  test(`usage error: ${name} -> exit 2 and a message saying what to fix`, async () => {
    const outcome = await run(args, name.startsWith('WARDEN_WORKERS') ? { WARDEN_WORKERS: 'lots' } : {});
    assert.equal(outcome.code, 2, `exit code 2; stderr: ${outcome.stderr}`);
    assert.match(outcome.stderr, /^warden: /);
    assert.match(outcome.stderr, message);
  });
}

const BOOT: [string, string, string[], RegExp][] = [
  ['a module that does not exist', 'does-not-exist.js', [], /cannot load app "does-not-exist\.js": no such file/],
  ['a syntax error', fixture('bad/syntax-error.js'), [], /SyntaxError/],
  ['a module that throws at import', fixture('bad/throws-at-import.cjs'), [], /throws-at-import/],
  ['a module with no usable export', fixture('bad/no-export.mjs'), [], /no usable export/],
  ['an export name that is missing', `${fixture('shapes/listener.mjs')}:nope`, [], /nope/],
  ['a factory that rejects', fixture('bad/factory-rejects.mjs'), ['--factory'], /factory/],
  ['a factory that is not a function', fixture('bad/factory-not-function.mjs'), ['--factory'], /not a function/],
  ['a module importing a missing package', fixture('bad/missing-dependency.mjs'), [], /Cannot find (package|module)/],
  ['a script that never listens before the boot timeout', fixture('bad/never-listens.mjs'), ['--boot-timeout', '2'], /(did not become ready within 2\.0s|no usable export)/],
];

for (const [name, app, flags, message] of BOOT) {
  test(`boot failure: ${name} -> one clear error and exit 3 within seconds`, async () => {
    const outcome = await run(serve(app, '--workers', '2', ...flags));
    assert.equal(outcome.code, 3, `exit code 3; stderr:\n${outcome.stderr}`);
    assert.match(outcome.stderr, message);
    const finalLines = outcome.stderr.split('\n').filter((line) => line.startsWith('warden: '));
    assert.equal(finalLines.length, 1, `exactly one final error line:\n${outcome.stderr}`);
    assert.ok(outcome.ms < 15_000, `gave up after ${outcome.ms} ms`);
    assert.doesNotMatch(outcome.stderr + outcome.stdout, /restarting worker/, 'no restart loop');
  });
}

test('an app that binds a port of its own: exit 3, and the hint says to listen on PORT', async () => {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const outcome = await run(serve(fixture('bad/own-port.cjs'), '--workers', '2'), { FIXTURE_PORT: String(port) });
  assert.equal(outcome.code, 3, outcome.stderr);
  assert.match(outcome.stderr, /warden: cannot start app ".*own-port\.cjs": Error: listen EADDRINUSE/);
  assert.match(outcome.stderr, /hint: the app binds a port of its own; make it listen on process\.env\.PORT/);
});

test('a port already in use: the error names host:port and warden exits non-zero', async (t) => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(() => blocker.close());
  const port = (blocker.address() as AddressInfo).port;
  const outcome = await run(['serve', fixture('slow.mjs'), '--port', String(port), '--admin-port', '0']);
  assert.equal(outcome.code, 1);
  assert.match(outcome.stderr, new RegExp(`warden: cannot listen on 127\\.0\\.0\\.1:${port} for the service: EADDRINUSE`));
  assert.match(outcome.stderr, /hint: another process is using/);
});
