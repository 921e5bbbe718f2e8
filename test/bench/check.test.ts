// The bench's own checks (bench/lib/check.js): CI fails when a contender produced no figures, and the
// report marks each target held or missed from the figures, never from who ran.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Spread { median?: number; min?: number; max?: number; n: number }
interface CheckModule {
  missingFigures(result: unknown): string[];
  targets(result: unknown): { target: string; figure: string; status: string }[];
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const check = (await import(new URL('../../../bench/lib/check.js', import.meta.url).href)) as CheckModule;

const s = (median: number | undefined): Spread => (median === undefined ? { n: 0 } : { median, min: median, max: median, n: 1 });

function row(contender: string, load: string, reqPerSec: number | undefined, vsBest: number, failedRuns = 0) {
  return { contender, load, label: contender, failedRuns, reqPerSec: s(reqPerSec), vsBestCluster: s(vsBest) };
}

function mixedRow(contender: string, reqPerSec: number, p99: number | undefined) {
  return { contender, label: contender, reqPerSec: s(reqPerSec), fastP99Ms: s(p99) };
}

function result(overrides: { hello?: unknown[]; mixed?: unknown[]; startup?: Record<string, Spread> } = {}) {
  const contenders = ['cluster-rr', 'cluster-none', 'warden-shared'];
  return {
    contenders,
    throughput: [{
      app: 'hello.js', loads: ['autocannon'],
      rows: overrides.hello ?? [row('cluster-rr', 'autocannon', 1000, 0.95), row('cluster-none', 'autocannon', 1050, 1), row('warden-shared', 'autocannon', 1030, 0.98)],
    }],
    mixed: { rows: overrides.mixed ?? [mixedRow('cluster-rr', 3000, 20), mixedRow('cluster-none', 4900, 11), mixedRow('warden-shared', 5000, 9)] },
    startup: overrides.startup ?? { 'cluster-rr': s(300), 'cluster-none': s(310), 'warden-shared': s(900) },
  };
}

test('a run where every contender has figures misses nothing', () => {
  assert.deepEqual(check.missingFigures(result()), []);
});

test('a contender that did not run, failed a run, served nothing or has no startup figure is named', () => {
  const missing = check.missingFigures(result({
    hello: [row('cluster-rr', 'autocannon', 1000, 1, 1), row('cluster-none', 'autocannon', 0, 1)],
    mixed: [mixedRow('cluster-rr', 3000, 20), mixedRow('cluster-none', 4900, undefined), mixedRow('warden-shared', 5000, 9)],
    startup: { 'cluster-rr': s(300), 'cluster-none': s(310) },
  }));
  assert.deepEqual(missing, [
    'hello.js autocannon: cluster-rr failed 1 run(s)',
    'hello.js autocannon: cluster-none served nothing',
    'hello.js autocannon: warden-shared did not run',
    'mixed: cluster-none has no figures',
    'startup: warden-shared has no figure',
  ]);
});

test('targets are held or missed from the figures', () => {
  const held = check.targets(result());
  const status = (pattern: RegExp) => held.filter((t) => pattern.test(t.target)).map((t) => t.status);
  assert.deepEqual(status(/^hello, autocannon: warden-shared >= 0\.97/), ['held']);
  assert.deepEqual(status(/^mixed load: warden-shared fast p99/), ['held']);
  assert.deepEqual(status(/^mixed load: warden-shared req\/s/), ['held']);

  const missed = check.targets(result({
    hello: [row('cluster-rr', 'autocannon', 1000, 1), row('cluster-none', 'autocannon', 900, 0.9), row('warden-shared', 'autocannon', 960, 0.96)],
    // 12 ms is more than half of RR's 20 ms and more than SCHED_NONE's 11 ms.
    mixed: [mixedRow('cluster-rr', 3000, 20), mixedRow('cluster-none', 4900, 11), mixedRow('warden-shared', 4800, 12)],
  }));
  const missedStatus = (pattern: RegExp) => missed.filter((t) => pattern.test(t.target)).map((t) => t.status);
  assert.deepEqual(missedStatus(/^hello, autocannon: warden-shared/), ['missed']);
  assert.deepEqual(missedStatus(/^mixed load: warden-shared fast p99/), ['missed']);
  assert.deepEqual(missedStatus(/^mixed load: warden-shared req\/s/), ['missed']);
});

test('warden is held against the best of SCHED_NONE and SO_REUSEPORT when SO_REUSEPORT ran, and not measured when this Node skipped it', () => {
  const withKernel = (ratio: number) => ({ ...row('warden-shared', 'autocannon', 1030, 0.98), vsBestKernel: s(ratio) });
  const kernel = (t: { target: string }) => /best of SCHED_NONE and SO_REUSEPORT/.test(t.target);
  const at = (ratio: number) => check.targets(result({ hello: [row('cluster-rr', 'autocannon', 1000, 0.95), row('cluster-none', 'autocannon', 1050, 1), withKernel(ratio)] })).filter(kernel).map((t) => t.status);
  assert.deepEqual(at(1.01), ['held']);
  assert.deepEqual(at(0.99), ['missed']);
  const skipped = check.targets({ ...result(), skipped: { reuseport: 'Node 20.20.2 has no listen({ reusePort })' } }).filter(kernel);
  assert.deepEqual(skipped.map((t) => t.status), ['not measured']);
  assert.match(skipped[0].figure, /Node 20\.20\.2/);
});
