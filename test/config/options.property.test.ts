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
  fc.constantFrom('', ' ', 'auto', 'all', '2..8', '8..2', '0..3', '1..auto', ' 2 .. 4 ', '2..', '..', 'a..b', '1...3', '50%', '0', '-0', '00', ' 007 ', '1e3', '0x10', '1_000', 'Infinity', 'NaN', '10s', '5 ', ' 5', '١٢', 'true', 'off', '/x', 'json',
    'shared', 'HANDOFF', 'query', '512M', '1.5g', '660', '0755', '--inspect', 'a,b, ,c', 'x\0y', '100%', '0.0001'),
  // A number with a unit, a sign or blanks around it: valid for many options, so their values get compared.
  fc.tuple(fc.constantFrom('', ' ', '-'), fc.oneof(fc.nat(3000).map(String), fc.double({ min: 0, max: 1e4, noNaN: true }).map((n) => n.toFixed(3))), fc.constantFrom('', '', 'k', 'M', 'g', 'GB', 's', '%', ' ')).map((parts) => parts.join('')),
);
/** Runs per option: every option gets its own share of inputs, not 300 spread over 40 options. */
const RUNS_PER_OPTION = 100;

type Expected = { ok: true; value: unknown } | { ok: false };
const accept = (value: unknown): Expected => ({ ok: true, value });
const REJECT: Expected = { ok: false };
/** Not decided here (quoting in --node-args): either outcome is let through. */
const UNKNOWN: Expected = { ok: true, value: Symbol('either') };

/**
 * Each option's rule, written again from the README's wording independently of the parser, so that
 * an accepted value is compared with what the rule says it means, and a rejected one with the rule.
 */
const digits = (text: string) => /^[0-9]+$/.test(text);
function secondsRule(allowZero: boolean) {
  return (raw: string): Expected => {
    const text = raw.trim();
    const value = Number(text);
    if (text === '' || !Number.isFinite(value)) return REJECT;
    const ms = Math.round(value * 1000);
    return (allowZero ? value >= 0 : value > 0 && ms >= 1) ? accept(ms) : REJECT;
  };
}
const booleanRule = (raw: string): Expected => {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return accept(true);
  if (['0', 'false', 'no', 'off', ''].includes(text)) return accept(false);
  return REJECT;
};
const hostRule = (raw: string): Expected => (raw.trim() !== '' && !/\s/.test(raw.trim()) ? accept(raw.trim()) : REJECT);
const portRule = (raw: string): Expected => (digits(raw.trim()) && Number(raw.trim()) <= 65535 ? accept(Number(raw.trim())) : REJECT);
const positiveRule = (raw: string): Expected => (digits(raw.trim()) && Number(raw.trim()) >= 1 ? accept(Number(raw.trim())) : REJECT);
const wholeRule = (raw: string): Expected => (digits(raw.trim()) ? accept(Number(raw.trim())) : REJECT);
const pathRule = (maxBytes = Infinity, noTrailingSlash = false) => (raw: string): Expected => {
  const text = raw.trim();
  if (text === '') return accept(undefined);
  if (text.includes('\0') || Buffer.byteLength(text) > maxBytes || (noTrailingSlash && text.endsWith('/'))) return REJECT;
  return accept(text);
};
const listRule = (raw: string): Expected => {
  const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
  return items.some((item) => item.includes('\0')) ? REJECT : accept(items);
};
const oneOf = (...words: string[]) => (raw: string): Expected => (words.includes(raw.trim().toLowerCase()) ? accept(raw.trim().toLowerCase()) : REJECT);
const SIZE: Record<string, number> = { '': 2 ** 20, k: 2 ** 10, kb: 2 ** 10, m: 2 ** 20, mb: 2 ** 20, g: 2 ** 30, gb: 2 ** 30 };

const RULES: Record<string, (raw: string) => Expected> = {
  workers: (raw) => {
    const text = raw.trim().toLowerCase();
    // MIN..MAX starts with MIN (MAX may be "auto"), 1 <= MIN <= MAX <= 1024.
    const range = /^(.*?)\s*\.\.\s*(.*)$/.exec(text);
    if (text.includes('..')) {
      const [min, max] = [range?.[1] ?? '', range?.[2] ?? ''];
      if (!digits(min) || !(digits(max) || max === 'auto')) return REJECT;
      const top = max === 'auto' ? cpus() : Number(max);
      return Number(min) >= 1 && top <= 1024 && Number(min) <= top ? accept(Number(min)) : REJECT;
    }
    if (text === 'auto' || (digits(text) && Number(text) === 0)) return accept(cpus());
    return digits(text) && Number(text) <= 1024 ? accept(Number(text)) : REJECT;
  },
  host: hostRule, 'admin-host': hostRule, port: portRule, 'admin-port': portRule,
  factory: booleanRule, reload: booleanRule, sticky: booleanRule, 'capture-stacks': booleanRule, 'compare-probe': booleanRule,
  'graceful-timeout': secondsRule(false), 'boot-timeout': secondsRule(false), timeout: secondsRule(false),
  'probe-interval': secondsRule(false), 'probe-timeout': secondsRule(false),
  'autoscale-window': secondsRule(false),
  'request-timeout': secondsRule(true), 'stuck-after': secondsRule(true),
  'probe-path': (raw) => (raw.trim() === '' ? accept(undefined) : raw.trim().startsWith('/') ? accept(raw.trim()) : REJECT),
  'probe-failures': positiveRule, 'max-restarts': positiveRule,
  'min-ready': (raw) => {
    const text = raw.trim().toLowerCase();
    if (text === 'all') return accept({ kind: 'all' });
    const percent = /^([0-9]+(\.[0-9]+)?)%$/.exec(text);
    if (percent) return Number(percent[1]) > 0 && Number(percent[1]) <= 100 ? accept({ kind: 'percent', percent: Number(percent[1]) }) : REJECT;
    return digits(text) && Number(text) >= 1 ? accept({ kind: 'count', count: Number(text) }) : REJECT;
  },
  'max-memory': (raw) => {
    const match = /^([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)$/.exec(raw.trim());
    const unit = match === null ? undefined : SIZE[(match[2] as string).toLowerCase()];
    return match === null || unit === undefined ? REJECT : accept(Math.round(Number(match[1]) * unit));
  },
  'profile-dir-max': (raw) => RULES['max-memory']!(raw),
  'heap-snapshot-on-recycle': pathRule(), 'profile-dir': pathRule(), cwd: pathRule(), 'env-file': pathRule(), 'ssl-keyfile': pathRule(), 'ssl-certfile': pathRule(), 'ssl-ca': pathRule(),
  'max-requests': wholeRule, 'max-requests-jitter': wholeRule,
  control: pathRule(107), uds: pathRule(100, true),
  fd: (raw) => (raw.trim() === '' ? accept(undefined) : digits(raw.trim()) && Number(raw.trim()) >= 3 && Number(raw.trim()) <= 65535 ? accept(Number(raw.trim())) : REJECT),
  backlog: (raw) => (digits(raw.trim()) && Number(raw.trim()) >= 1 && Number(raw.trim()) <= 65535 ? accept(Number(raw.trim())) : REJECT),
  'max-concurrency': wholeRule,
  'reload-dir': listRule, 'reload-include': listRule, 'reload-exclude': listRule,
  balance: oneOf('shared', 'handoff'), 'log-format': oneOf('text', 'json'),
  'access-log': (raw) => {
    const text = raw.trim().toLowerCase();
    if (text === 'on' || text === 'query') return accept(text);
    if (['off', 'false', '0', ''].includes(text)) return accept('off');
    return ['true', '1'].includes(text) ? accept('on') : REJECT;
  },
  // Plain words only: quoting and escapes have their own tests (splitNodeArgs).
  'node-args': (raw) => {
    if (/["'\\]/.test(raw)) return UNKNOWN;
    const args = raw.split(/\s+/).filter((arg) => arg !== '');
    return args.every((arg) => arg.startsWith('-')) ? accept(args) : REJECT;
  },
  'uds-mode': (raw) => (/^0?[0-7]{3}$/.test(raw.trim()) ? accept(parseInt(raw.trim(), 8)) : REJECT),
};

test('every option that takes a value has its rule written down here', () => {
  assert.deepEqual(VALUE_OPTIONS.map(flagName).filter((name) => RULES[name] === undefined), []);
});

/** The outcome checked against the rule: the parsed value, a usage error, or a conflict naming the option. */
function checkAgainstRule(spec: OptionSpec, raw: string, result: ReturnType<typeof attempt>): Expected {
  const name = flagName(spec);
  const expected = (RULES[name] as (raw: string) => Expected)(raw);
  if (expected === UNKNOWN) return expected;
  if (result.ok) {
    assert.ok(expected.ok, `--${name} ${JSON.stringify(raw)} was accepted, but the rule rejects it`);
    assert.deepEqual(result.options[spec.key], expected.value, `--${name} ${JSON.stringify(raw)}`);
  } else if (result.error.code === 'WARDEN_CONFIG') {
    // A conflict with another setting's default: the value itself follows the rule, and the message names the option.
    assert.ok(expected.ok, `--${name} ${JSON.stringify(raw)} broke its rule but was reported as a conflict: ${result.error.message}`);
    assert.ok(result.error.message.includes(`--${name}`), `the conflict names --${name}: ${result.error.message}`);
  } else {
    assert.equal(result.error.code, 'WARDEN_USAGE');
    assert.ok(!expected.ok, `--${name} ${JSON.stringify(raw)} was rejected, but the rule accepts it: ${result.error.message}`);
  }
  return expected;
}

test('any value for any option, given as a flag: accepted with the value the rule gives, or a usage error naming the flag and quoting the value', () => {
  for (const spec of VALUE_OPTIONS) {
    fc.assert(fc.property(rawValue, (raw) => {
      const name = flagName(spec);
      const result = attempt({ [camel(name)]: raw });
      checkAgainstRule(spec, raw, result);
      if (result.ok || result.error.code === 'WARDEN_CONFIG') return;
      assert.ok(result.error.message.startsWith(`--${name} must be `), `the message names --${name}: ${result.error.message}`);
      assert.ok(result.error.message.endsWith(`(got "${raw}")`), `the message quotes the input: ${result.error.message}`);
    }), { numRuns: RUNS_PER_OPTION });
  }
});

test('the same value from the environment: the same outcome, and the message names the variable instead', () => {
  const withEnv = VALUE_OPTIONS.filter((spec) => spec.env.length > 0);
  for (const spec of withEnv) {
    fc.assert(fc.property(rawValue.filter((raw) => raw !== ''), (raw) => {
      const variable = spec.env[0] as string;
      const result = attempt({}, { [variable]: raw });
      checkAgainstRule(spec, raw, result);
      if (result.ok || result.error.code === 'WARDEN_CONFIG') return;
      assert.ok(result.error.message.startsWith(`--${flagName(spec)} (from ${variable}) must be `), result.error.message);
    }), { numRuns: RUNS_PER_OPTION });
  }
});

test('the conflicts an option alone can raise are named: each WARDEN_CONFIG above is one of these', () => {
  const conflict = (flags: Record<string, string>) => {
    const result = attempt(flags);
    assert.ok(!result.ok && result.error.code === 'WARDEN_CONFIG', `${JSON.stringify(flags)} is a conflict`);
    return result.error.message;
  };
  assert.match(conflict({ port: '9000' }), /--port and --admin-port are both 9000/);
  assert.match(conflict({ minReady: '99' }), /--min-ready 99 is more than --workers \d+/);
  assert.match(conflict({ maxRequestsJitter: '5' }), /--max-requests-jitter is set but --max-requests is not/);
  assert.match(conflict({ reloadDir: 'src' }), /--reload-dir is set but --reload is not/);
  assert.match(conflict({ sslKeyfile: 'k.pem' }), /--ssl-keyfile is set but --ssl-certfile is not/);
  assert.match(conflict({ sslCa: 'ca.pem' }), /--ssl-ca is set without --ssl-keyfile/);
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
  fc.assert(fc.property(fc.oneof(fc.integer({ min: -5, max: 3000 }).map(String), fc.constantFrom('auto', 'AUTO', ' auto ', '00', ' 000 ', '007')), (raw) => {
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
