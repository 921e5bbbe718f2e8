// Settings from flags and environment variables: precedence, parsing and the messages of bad input.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WardenError } from '../../src/errors.js';
import { closest, requiredReady, resolveServeOptions, resolveSettings } from '../../src/config/resolve.js';
import { splitNodeArgs } from '../../src/config/options.js';

const cpus = () => 3;

function usageError(flags: Record<string, string | boolean>, env: Record<string, string> = {}): WardenError {
  try {
    resolveServeOptions(flags, env, cpus);
  } catch (error) {
    assert.ok(error instanceof WardenError, 'throws a WardenError');
    return error;
  }
  assert.fail(`expected ${JSON.stringify(flags)} ${JSON.stringify(env)} to be rejected`);
}

test('defaults match the documented table', () => {
  const options = resolveServeOptions({}, {}, cpus);
  assert.equal(options.workers, 1);
  assert.equal(options.host, '127.0.0.1');
  assert.equal(options.port, 8000);
  assert.equal(options.adminPort, 9000);
  assert.equal(options.gracefulTimeoutMs, 30_000);
  assert.equal(options.timeoutMs, 5000);
  assert.equal(options.requestTimeoutMs, 0);
  assert.equal(options.stuckAfterMs, 10_000);
  assert.deepEqual(options.minReady, { kind: 'all' });
});

test('a flag wins over WARDEN_WORKERS, which wins over WORKERS', () => {
  assert.equal(resolveServeOptions({ workers: '4' }, { WARDEN_WORKERS: '2', WORKERS: '7' }, cpus).workers, 4);
  assert.equal(resolveServeOptions({}, { WARDEN_WORKERS: '2', WORKERS: '7' }, cpus).workers, 2);
  assert.equal(resolveServeOptions({}, { WORKERS: '7' }, cpus).workers, 7);
});

test('PORT and HOST come from the environment; --port and --host win over them', () => {
  const fromEnv = resolveServeOptions({}, { PORT: '3000', HOST: '0.0.0.0' }, cpus);
  assert.equal(fromEnv.port, 3000);
  assert.equal(fromEnv.host, '0.0.0.0');
  const fromFlags = resolveServeOptions({ port: '4000', host: '127.0.0.2' }, { PORT: '3000', HOST: '0.0.0.0' }, cpus);
  assert.equal(fromFlags.port, 4000);
  assert.equal(fromFlags.host, '127.0.0.2');
  const admin = resolveServeOptions({ adminHost: '127.0.0.3' }, { WARDEN_ADMIN_HOST: '0.0.0.0' }, cpus);
  assert.equal(admin.adminHost, '127.0.0.3');
  assert.equal(resolveServeOptions({}, { WARDEN_ADMIN_HOST: '0.0.0.0' }, cpus).adminHost, '0.0.0.0');
});

test('"auto" and 0 mean the usable CPU count', () => {
  assert.equal(resolveServeOptions({ workers: 'auto' }, {}, cpus).workers, 3);
  assert.equal(resolveServeOptions({ workers: '0' }, {}, cpus).workers, 3);
});

test('--workers MIN..MAX starts with MIN and keeps the range, from a flag, the environment or a file', () => {
  const flag = resolveServeOptions({ workers: '2..8' }, {}, cpus);
  assert.deepEqual([flag.workers, flag.workersRange], [2, { min: 2, max: 8 }]);
  assert.deepEqual(resolveServeOptions({}, { WARDEN_WORKERS: ' 1 .. 3 ' }, cpus).workersRange, { min: 1, max: 3 });
  assert.deepEqual(resolveSettings({ cpuCount: cpus, file: { label: 'warden.config.json', values: { workers: '2..4' } } }).options.workersRange, { min: 2, max: 4 });
  assert.deepEqual(resolveServeOptions({ workers: '1..auto' }, {}, cpus).workersRange, { min: 1, max: 3 }, 'MAX "auto" is the count --workers auto picks');
  assert.equal(resolveServeOptions({ workers: '4' }, {}, cpus).workersRange, undefined, 'a plain count is no range');
  assert.deepEqual(resolveServeOptions({ workers: '3..3' }, {}, cpus).workersRange, { min: 3, max: 3 });
  assert.equal(resolveServeOptions({ autoscaleWindow: '2' }, {}, cpus).autoscaleWindowMs, 2000);
  assert.equal(resolveServeOptions({}, {}, cpus).autoscaleWindowMs, 10_000);
});

test('a bad --workers range says which part is wrong and how a range is written', () => {
  const cases: [string, RegExp][] = [
    ['8..2', /^--workers must be a range MIN\.\.MAX of whole numbers, 1 <= MIN <= MAX <= 1024: MIN 8 is more than MAX 2 \(got "8\.\.2"\)$/],
    ['0..4', /MIN must be at least 1/],
    ['a..4', /MIN must be a whole number \(got "a"\)/],
    ['2..x', /MAX must be a whole number or "auto" \(got "x"\)/],
    ['2..', /MAX must be a whole number or "auto" \(got ""\)/],
    ['2..2000', /MAX must be at most 1024/],
    ['4..auto', /MIN 4 is more than MAX 3 \(auto/],
    ['1.5..3', /MIN must be a whole number/],
  ];
  for (const [raw, pattern] of cases) {
    const error = usageError({ workers: raw });
    assert.match(error.message, pattern, raw);
    assert.equal(error.code, 'WARDEN_USAGE', raw);
    assert.match(error.hint ?? '', /--workers 2\.\.8/, `${raw}: the hint shows a valid range`);
  }
  assert.match(usageError({}, { WARDEN_WORKERS: '5..1' }).message, /^--workers \(from WARDEN_WORKERS\) must be a range .*\(got "5\.\.1"\)$/);
  assert.equal(usageError({ minReady: '3', workers: '2..8' }).code, 'WARDEN_CONFIG', '--min-ready is held to MIN');
});

test('bad values are refused with the flag, the rule and the value', () => {
  assert.equal(usageError({ workers: 'abc' }).message, '--workers must be a positive integer (at most 1024), "auto", or a range MIN..MAX such as 2..8 (got "abc")');
  assert.match(usageError({ workers: '1.5' }).message, /--workers .*got "1\.5"/);
  assert.match(usageError({ workers: '-2' }).message, /--workers .*got "-2"/);
  assert.equal(usageError({ port: '70000' }).message, '--port must be a port number from 0 to 65535 (got "70000")');
  assert.match(usageError({}, { WARDEN_WORKERS: 'many' }).message, /^--workers \(from WARDEN_WORKERS\) must be/);
  assert.match(usageError({ gracefulTimeout: '-1' }).message, /--graceful-timeout must be a number of seconds above 0/);
  assert.match(usageError({ minReady: 'most' }).message, /--min-ready must be/);
  assert.equal(usageError({ minReady: '0' }).message, '--min-ready must be "all", a number of workers (at least 1), or a percentage such as "50%" (got "0")', '/readyz 200 with no worker serving is refused');
  assert.equal(usageError({ minReady: '5', workers: '2' }).code, 'WARDEN_CONFIG');
});

test('seconds may have decimals and are kept in milliseconds', () => {
  assert.equal(resolveServeOptions({ timeout: '1.5' }, {}, cpus).timeoutMs, 1500);
  assert.equal(resolveServeOptions({ stuckAfter: '0' }, {}, cpus).stuckAfterMs, 0);
});

test('--min-ready as all, a count or a percentage', () => {
  assert.equal(requiredReady(resolveServeOptions({ workers: '4' }, {}, cpus), 4), 4);
  assert.equal(requiredReady(resolveServeOptions({ workers: '4', minReady: '3' }, {}, cpus), 4), 3);
  assert.equal(requiredReady(resolveServeOptions({ workers: '4', minReady: '50%' }, {}, cpus), 4), 2);
  assert.equal(requiredReady(resolveServeOptions({ workers: '3', minReady: '50%' }, {}, cpus), 3), 2);
});

const file = (values: Record<string, unknown>) => ({ label: 'warden.config.json', values });

test('a config file sits between the environment and the defaults', () => {
  const layer = file({ workers: 2, timeout: 3, gracefulTimeout: 4 });
  const { options, sources } = resolveSettings({ flags: { workers: '5' }, env: { WARDEN_TIMEOUT: '6' }, file: layer, cpuCount: cpus });
  assert.equal(options.workers, 5);
  assert.equal(options.timeoutMs, 6000);
  assert.equal(options.gracefulTimeoutMs, 4000);
  assert.equal(options.bootTimeoutMs, 30_000);
  assert.deepEqual([sources.workers.kind, sources.timeoutMs.kind, sources.gracefulTimeoutMs.kind, sources.bootTimeoutMs.kind], ['flag', 'env', 'file', 'default']);
  assert.equal(sources.gracefulTimeoutMs.name, 'warden.config.json key "gracefulTimeout"');
});

test('file values may be numbers, booleans and lists, and are parsed by the same rules as flags', () => {
  const options = resolveServeOptions({}, {}, cpus, file({ factory: true, workers: 'auto', nodeArgs: ['--max-old-space-size=64', '--title=a b'], minReady: '50%' }));
  assert.equal(options.factory, true);
  assert.equal(options.workers, 3);
  assert.deepEqual(options.nodeArgs, ['--max-old-space-size=64', '--title=a b']);
  assert.deepEqual(options.minReady, { kind: 'percent', percent: 50 });
  assert.throws(() => resolveServeOptions({}, {}, cpus, file({ port: 70000 })), { message: '--port (from warden.config.json key "port") must be a port number from 0 to 65535 (got "70000")' });
  assert.throws(() => resolveServeOptions({}, {}, cpus, file({ port: { n: 1 } })), /--port \(from warden\.config\.json key "port"\) must be a string, a number or a boolean/);
});

test('unknown keys are refused with the nearest known name', () => {
  assert.throws(() => resolveServeOptions({}, {}, cpus, file({ wrokers: 2 })), { message: 'warden.config.json: unknown option "wrokers"; did you mean "workers"?' });
  assert.throws(() => resolveServeOptions({}, {}, cpus, file({ 'graceful-timeout': 2 })), /did you mean "gracefulTimeout"\?/);
  assert.throws(() => resolveServeOptions({}, {}, cpus, file({ colour: 'red' })), { message: 'warden.config.json: unknown option "colour"' });
  assert.equal(closest('probe_path', ['probePath', 'port']), 'probePath');
  assert.equal(closest('zzzzzz', ['port']), undefined);
});

test('--node-args splits like a shell and takes only options', () => {
  assert.deepEqual(splitNodeArgs(`--max-old-space-size=512  --title="my app" '--x=a b' --y=c\\ d`), ['--max-old-space-size=512', '--title=my app', '--x=a b', '--y=c d']);
  assert.equal(splitNodeArgs('--title="open'), undefined);
  assert.deepEqual(resolveServeOptions({}, {}, cpus).nodeArgs, []);
  assert.match(usageError({ nodeArgs: 'app.js' }).message, /--node-args must be Node options, each starting with "-"/);
  assert.match(usageError({ nodeArgs: '--title="open' }).message, /balanced quotes/);
});

test('--balance defaults to shared; --sticky chooses handoff, and an explicit shared with --sticky is refused', () => {
  assert.equal(resolveServeOptions({}, {}, cpus).balance, 'shared');
  assert.equal(resolveServeOptions({ sticky: true }, {}, cpus).balance, 'handoff');
  assert.equal(resolveServeOptions({}, { WARDEN_STICKY: 'true' }, cpus).balance, 'handoff');
  assert.equal(resolveServeOptions({ sticky: true, balance: 'handoff' }, {}, cpus).balance, 'handoff');
  assert.match(usageError({ sticky: true, balance: 'shared' }).message, /--sticky cannot work with --balance shared/);
  assert.match(usageError({ sticky: true }, { WARDEN_BALANCE: 'shared' }).message, /--sticky cannot work with --balance shared/);
  assert.equal(resolveSettings({ flags: { sticky: true }, env: {}, cpuCount: cpus }).sources.balance.name, 'default with --sticky');
});
