// Property tests (fast-check) over the settings parser: for any input, from a flag or from the
// environment, warden either accepts it with the value the rule says, or rejects it with a
// WardenError that names the input's source and quotes it; conflicting settings are reported.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { flagName, SERVE_OPTIONS, takesValue, type OptionSpec } from '../../src/config/options.js';
import { resolveServeOptions } from '../../src/config/resolve.js';
import { WardenError } from '../../src/errors.js';

const cpus = () => 3;
const RUNS = 300;
const VALUE_OPTIONS = (SERVE_OPTIONS as readonly OptionSpec[]).filter(takesValue);

function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** The outcome of one resolution: the options, or the WardenError (anything else fails the test). */
function attempt(flags: Record<string, string | boolean>, env: Record<string, string> = {}) {
  try {
    return { ok: true as const, options: resolveServeOptions(flags, env, cpus) };
  } catch (error) {
    assert.ok(error instanceof WardenError, `only WardenError escapes the parser, got ${String(error)}`);
    return { ok: false as const, error };
  }
}

/** Inputs people type, and inputs they do not: numbers, units, signs, blanks, unicode. */
const rawValue = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -100_000, max: 100_000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom('', ' ', 'auto', 'all', '50%', '0', '-0', '1e3', '0x10', '1_000', 'Infinity', 'NaN', '10s', '5 ', ' 5', '١٢', 'true', 'off', '/x', 'json'),
);

test('any value for any option, given as a flag: accepted, or a usage error naming the flag and quoting the value', () => {
  fc.assert(fc.property(fc.constantFrom(...VALUE_OPTIONS), rawValue, (spec, raw) => {
    const name = flagName(spec);
    const result = attempt({ [camel(name)]: raw });
    if (result.ok) return;
    const { error } = result;
    if (error.code === 'WARDEN_CONFIG') return; // a conflict with a default, checked below
    assert.equal(error.code, 'WARDEN_USAGE');
    assert.ok(error.message.startsWith(`--${name} must be `), `the message names --${name}: ${error.message}`);
    assert.ok(error.message.endsWith(`(got "${raw}")`), `the message quotes the input: ${error.message}`);
  }), { numRuns: RUNS });
});

test('the same value from the environment: the message names the variable instead', () => {
  const withEnv = VALUE_OPTIONS.filter((spec) => spec.env.length > 0);
  fc.assert(fc.property(fc.constantFrom(...withEnv), rawValue.filter((raw) => raw !== ''), (spec, raw) => {
    const variable = spec.env[0] as string;
    const result = attempt({}, { [variable]: raw });
    if (result.ok || result.error.code === 'WARDEN_CONFIG') return;
    assert.equal(result.error.code, 'WARDEN_USAGE');
    assert.ok(result.error.message.startsWith(`--${spec.flag.replace(/^--/, '').split(' ')[0]} (from ${variable}) must be `), result.error.message);
  }), { numRuns: RUNS });
});

test('a flag always wins over the environment, which wins over the default', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), (fromFlag, fromEnv) => {
    fc.pre(fromFlag !== 9000 && fromEnv !== 9000); // the admin port's default would clash
    const both = attempt({ port: String(fromFlag) }, { PORT: String(fromEnv) });
    assert.ok(both.ok);
    assert.equal(both.options.port, fromFlag);
    const envOnly = attempt({}, { PORT: String(fromEnv) });
    assert.ok(envOnly.ok);
    assert.equal(envOnly.options.port, fromEnv);
  }), { numRuns: RUNS });
});

test('ports: exactly the integers 0..65535 are accepted, as written', () => {
  fc.assert(fc.property(fc.integer({ min: -10, max: 200_000 }), (port) => {
    const result = attempt({ adminPort: String(port) });
    if (port >= 0 && port <= 65535 && port !== 8000) {
      assert.ok(result.ok, `port ${port} accepted`);
      assert.equal(result.options.adminPort, port);
    } else if (port !== 8000) {
      assert.ok(!result.ok && result.error.code === 'WARDEN_USAGE', `port ${port} rejected`);
    }
  }), { numRuns: RUNS });
});

test('durations: any number of seconds >= 0 becomes whole milliseconds; a negative one is rejected', () => {
  fc.assert(fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), (value) => {
    const result = attempt({ requestTimeout: String(value) });
    if (value >= 0) {
      assert.ok(result.ok, `${value} s accepted`);
      assert.equal(result.options.requestTimeoutMs, Math.round(Number(String(value)) * 1000));
      assert.ok(Number.isInteger(result.options.requestTimeoutMs));
    } else {
      assert.ok(!result.ok, `${value} s rejected`);
    }
  }), { numRuns: RUNS });
});

test('a duration that must be above 0 never turns into 0 ms (which would mean "off" or "at once")', () => {
  const positive = VALUE_OPTIONS.filter((spec) => {
    const result = attempt({ [camel(flagName(spec))]: '-1' });
    return !result.ok && result.error.message.includes('a number of seconds above 0');
  });
  assert.ok(positive.length >= 4, `found the positive-duration options (${positive.map(flagName).join(', ')})`);
  fc.assert(fc.property(fc.constantFrom(...positive), fc.double({ min: 0, max: 10, noNaN: true }), (spec, value) => {
    const result = attempt({ [camel(flagName(spec))]: String(value) });
    if (!result.ok) return;
    const ms = result.options[spec.key] as number;
    assert.ok(ms >= 1, `--${flagName(spec)} ${value} gave ${ms} ms`);
  }), { numRuns: RUNS });
});

test('workers: 1..1024 as given, "auto" and 0 mean the CPU count, anything else is rejected', () => {
  fc.assert(fc.property(fc.oneof(fc.integer({ min: -5, max: 3000 }).map(String), fc.constantFrom('auto', 'AUTO', ' auto ')), (raw) => {
    const result = attempt({ workers: raw, minReady: '1' });
    const n = Number(raw);
    if (raw.trim().toLowerCase() === 'auto' || n === 0) assert.ok(result.ok && result.options.workers === 3);
    else if (Number.isInteger(n) && n >= 1 && n <= 1024) assert.ok(result.ok && result.options.workers === n);
    else assert.ok(!result.ok && result.error.code === 'WARDEN_USAGE', `--workers ${raw} rejected`);
  }), { numRuns: RUNS });
});

test('conflicts are reported as configuration errors: --min-ready above --workers, one port for both servers', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 128 }), (workers, minReady) => {
    const result = attempt({ workers: String(workers), minReady: String(minReady) });
    if (minReady > workers) {
      assert.ok(!result.ok && result.error.code === 'WARDEN_CONFIG', `--min-ready ${minReady} > --workers ${workers} rejected`);
      assert.match(result.error.message, new RegExp(`--min-ready ${minReady} is more than --workers ${workers}`));
    } else {
      assert.ok(result.ok);
    }
  }), { numRuns: RUNS });
  fc.assert(fc.property(fc.integer({ min: 1, max: 65535 }), (port) => {
    const result = attempt({ port: String(port), adminPort: String(port) });
    assert.ok(!result.ok && result.error.code === 'WARDEN_CONFIG', `--port ${port} = --admin-port rejected`);
  }), { numRuns: 100 });
});
