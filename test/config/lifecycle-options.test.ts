// The lifecycle settings: --max-memory sizes with units, --max-requests and its jitter, --control,
// --reload and its lists, and how `warden scale` reads its target.

import assert from 'node:assert/strict';
import { relative } from 'node:path';
import { test } from 'node:test';
import { parseScaleTarget, controlPathFor } from '../../src/cli/control-command.js';
import { WardenError } from '../../src/errors.js';
import { resolveServeOptions } from '../../src/config/resolve.js';

const cpus = () => 2;

function rejected(flags: Record<string, string | boolean | string[]>, env: Record<string, string> = {}): WardenError {
  try {
    resolveServeOptions(flags, env, cpus);
  } catch (error) {
    assert.ok(error instanceof WardenError);
    return error;
  }
  assert.fail(`expected ${JSON.stringify(flags)} to be rejected`);
}

test('--max-memory takes PM2-style sizes; a plain number is megabytes', () => {
  const bytes = (raw: string) => resolveServeOptions({ maxMemory: raw }, {}, cpus).maxMemoryBytes;
  assert.equal(bytes('512M'), 512 * 1024 ** 2);
  assert.equal(bytes('1G'), 1024 ** 3);
  assert.equal(bytes('1.5G'), 1.5 * 1024 ** 3);
  assert.equal(bytes('300K'), 300 * 1024);
  assert.equal(bytes('150mb'), 150 * 1024 ** 2);
  assert.equal(bytes('150'), 150 * 1024 ** 2);
  assert.equal(bytes('0'), 0);
  assert.equal(resolveServeOptions({}, { WARDEN_MAX_MEMORY: '2G' }, cpus).maxMemoryBytes, 2 * 1024 ** 3);
});

test('an unparsable --max-memory is a usage error naming the flag and the accepted forms', () => {
  for (const raw of ['12XB', 'lots', '-5M', '1 2M', '']) {
    if (raw === '') continue;
    const error = rejected({ maxMemory: raw });
    assert.equal(error.code, 'WARDEN_USAGE');
    assert.equal(error.message, `--max-memory must be a size such as 512M, 1.5G or 300K (a plain number is megabytes; 0 turns it off) (got "${raw}")`);
  }
  assert.match(rejected({}, { WARDEN_MAX_MEMORY: '9Q' }).message, /^--max-memory \(from WARDEN_MAX_MEMORY\) must be a size/);
});

test('--max-requests and --max-requests-jitter are whole numbers; jitter without a limit is refused', () => {
  const options = resolveServeOptions({ maxRequests: '200', maxRequestsJitter: '50' }, {}, cpus);
  assert.deepEqual([options.maxRequests, options.maxRequestsJitter], [200, 50]);
  assert.equal(resolveServeOptions({}, {}, cpus).maxRequests, 0, 'off by default');
  assert.match(rejected({ maxRequests: '1.5' }).message, /^--max-requests must be a whole number, 0 or more \(got "1\.5"\)$/);
  const conflict = rejected({ maxRequestsJitter: '50' });
  assert.equal(conflict.code, 'WARDEN_CONFIG');
  assert.match(conflict.message, /--max-requests-jitter is set but --max-requests is not/);
});

test('--reload lists: repeated flags, comma-separated variables, defaults; --reload-dir needs --reload', () => {
  const options = resolveServeOptions({ reload: true, reloadDir: ['src', 'lib'], reloadExclude: ['**/*.test.js'] }, {}, cpus);
  assert.deepEqual(options.reloadDirs, ['src', 'lib']);
  assert.deepEqual(options.reloadExclude, ['**/*.test.js']);
  assert.ok(options.reloadInclude.includes('**/*.ts'), 'TypeScript sources reload by default');
  assert.deepEqual(resolveServeOptions({ reload: true }, { WARDEN_RELOAD_DIR: 'a,b' }, cpus).reloadDirs, ['a', 'b']);
  assert.deepEqual(resolveServeOptions({}, {}, cpus).reloadDirs, []);
  assert.equal(resolveServeOptions({}, {}, cpus).reload, false);
  assert.match(rejected({ reloadDir: ['src'] }).message, /--reload-dir is set but --reload is not/);
});

test('--control takes a unix socket path within the kernel limit', () => {
  assert.equal(resolveServeOptions({ control: '/run/app/warden.sock' }, {}, cpus).control, '/run/app/warden.sock');
  assert.equal(resolveServeOptions({}, {}, cpus).control, undefined, 'derived from the port when not given');
  assert.match(rejected({ control: `/tmp/${'x'.repeat(120)}` }).message, /^--control must be a unix socket path of at most 107 bytes/);
});

test('warden scale reads a count or a step, and refuses nonsense before asking the primary', () => {
  assert.deepEqual(parseScaleTarget('4'), { workers: 4 });
  assert.deepEqual(parseScaleTarget('+1'), { delta: 1 });
  assert.deepEqual(parseScaleTarget('-2'), { delta: -2 });
  assert.throws(() => parseScaleTarget('0'), /at least 1 worker is needed/);
  assert.throws(() => parseScaleTarget('1025'), /at most 1024 workers \(got "1025"\)/);
  assert.throws(() => parseScaleTarget('+0'), /a step of 0 changes nothing/);
  assert.throws(() => parseScaleTarget('two'), /must be a number of workers or a step \(got "two"\)/);
});

test('commands find the control socket by --control, WARDEN_CONTROL, or the service port', () => {
  assert.equal(controlPathFor({ control: '/x.sock', port: '9' }, { WARDEN_CONTROL: '/y.sock' }), '/x.sock');
  assert.equal(controlPathFor({}, { WARDEN_CONTROL: '/y.sock' }), '/y.sock');
  assert.match(controlPathFor({ port: '3000' }, { XDG_RUNTIME_DIR: '/run/user/1000' }), /^\/run\/user\/1000\/warden-\d+\/control-3000\.sock$/);
  assert.match(controlPathFor({}, { PORT: '4000', XDG_RUNTIME_DIR: '/run/user/1000' }), /control-4000\.sock$/);
  assert.match(controlPathFor({}, { XDG_RUNTIME_DIR: '/run/user/1000' }), /control-8000\.sock$/, 'the default service port');
  assert.throws(() => controlPathFor({ port: '70000' }, {}), /--port must be the service port of the warden to reach, 1 to 65535 \(got "70000"\)/);
  // --uds: named by the absolute path, as the primary names it.
  const run = { XDG_RUNTIME_DIR: '/run/user/1000' };
  const byUds = controlPathFor({ uds: '/srv/app/app.sock' }, run);
  assert.match(byUds, /^\/run\/user\/1000\/warden-\d+\/control-uds-[0-9a-f]{12}\.sock$/);
  assert.equal(controlPathFor({ uds: relative(process.cwd(), '/srv/app/app.sock') }, run), byUds, 'a relative path finds the same warden');
  assert.equal(controlPathFor({}, { ...run, WARDEN_UDS: '/srv/app/app.sock' }), byUds, 'WARDEN_UDS when no --port is given');
  assert.match(controlPathFor({ port: '3000' }, { ...run, WARDEN_UDS: '/srv/app/app.sock' }), /control-3000\.sock$/, '--port wins over WARDEN_UDS');
  assert.notEqual(controlPathFor({ uds: '/srv/other.sock' }, run), byUds);
});
