// The verdict matrix's figures and targets (bench/lib/verdict-report.js), from plain numbers: what
// counts as a recycle, the clock of "out of rotation" (the first request left unanswered), and
// which rows hold their target.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Entry { pid: number; slot?: number; firstSeenAt: number; outAt: number[]; backAt: number[]; outReasons: string[]; longestWaitMs: number; diedAt?: number; exitReason?: string; inRotationAt?: number }
interface Figures {
  recycles: number; recycleReasons: string[]; quarantines: number; failed: number; unansweredAtEnd: number; longestWaitS: number;
  victim?: { firstUnansweredS?: number; outOfRotationS?: number; replacedS?: number; stillReceivingAtEnd: boolean; peerAnswered: boolean };
}
interface ReportModule {
  runFigures(input: unknown): Figures;
  groupTarget(cell: unknown, contender: string, runs: unknown[]): { status: string; figure: string };
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const report = (await import(new URL('../../../bench/lib/verdict-report.js', import.meta.url).href)) as ReportModule;

const entry = (pid: number, slot: number | undefined, fields: Partial<Entry> = {}): Entry => ({ pid, slot, firstSeenAt: 0, outAt: [], backAt: [], outReasons: [], longestWaitMs: 0, inRotationAt: 0, ...fields });
const healthy = { kind: 'healthy' };
const underLoad = { kind: 'caught' };
const sparse = { kind: 'caught', sparse: true };

test('a worker that died, or was followed in its slot by a newer one, is a recycle; one that left rotation and came back is a quarantine only', () => {
  const figures = report.runFigures({
    cell: healthy, startedAt: 100, endedAt: 14_100, records: [], arrivals: { 1: 30, 2: 0 }, lateArrivals: {},
    watched: {
      pids: [
        entry(1, 1, { outAt: [5000], outReasons: ['draining: stuck'], longestWaitMs: 10_300, exitReason: 'stuck' }),
        entry(3, 1, { firstSeenAt: 5100, inRotationAt: 5600 }),
        entry(2, 2, { outAt: [4000], backAt: [6000] }),
      ],
    },
  });
  assert.equal(figures.recycles, 1);
  assert.deepEqual(figures.recycleReasons, ['stuck']);
  assert.equal(figures.quarantines, 2);
  assert.equal(figures.longestWaitS, 10.3);
});

test('a poisoned worker: seconds count from the first request after the poison left unanswered, a cut one included', () => {
  const records = [
    { start: 900, end: 910, pid: 2 },
    { start: 1200, end: 1210, pid: 2 },
    { start: 1500, end: 7000, failure: 'aborted' },
    { start: 1600, end: 6600, failure: 'timeout' },
  ];
  const figures = report.runFigures({
    cell: sparse, startedAt: 0, endedAt: 7000, records, victim: { pid: 1, at: 1000 }, arrivals: { 1: 2, 2: 1 }, lateArrivals: { 1: 0 },
    watched: { pids: [entry(1, 1, { outAt: [3500], diedAt: 6000 }), entry(2, 2), entry(3, 1, { firstSeenAt: 3600, inRotationAt: 4500 })] },
  });
  assert.equal(figures.victim?.firstUnansweredS, 0.5);
  assert.equal(figures.victim?.outOfRotationS, 2);
  assert.equal(figures.victim?.replacedS, 3);
  assert.equal(figures.victim?.peerAnswered, true);
  assert.equal(figures.victim?.stillReceivingAtEnd, false);
  assert.equal(figures.failed, 1, 'the timeout failed; the request cut at the end is not counted as failed');
  assert.equal(figures.unansweredAtEnd, 1);
});

test('targets: a healthy row holds only with 0 recycles in every run; under load both bounds; sparse only where a peer answered', () => {
  assert.equal(report.groupTarget(healthy, 'warden-shared', [{ recycles: 0 }, { recycles: 0 }]).status, 'held');
  assert.equal(report.groupTarget(healthy, 'warden-shared', [{ recycles: 0 }, { recycles: 1 }]).status, 'missed');
  assert.equal(report.groupTarget(underLoad, 'warden-shared', [{ victim: { outOfRotationS: 1.9, replacedS: 2.9 } }]).status, 'held');
  assert.equal(report.groupTarget(underLoad, 'warden-shared', [{ victim: { outOfRotationS: 1.9, replacedS: 3.1 } }]).status, 'missed');
  assert.equal(report.groupTarget(underLoad, 'warden-handoff', [{ victim: { outOfRotationS: 1.9 } }]).status, 'missed', 'never replaced misses');
  assert.equal(report.groupTarget(sparse, 'warden-shared', [{ victim: { firstUnansweredS: 0.1, outOfRotationS: 2.5, peerAnswered: true } }]).status, 'held');
  assert.equal(report.groupTarget(sparse, 'warden-shared', [{ victim: { firstUnansweredS: 0.1, outOfRotationS: 3.5, peerAnswered: true } }]).status, 'missed');
  assert.equal(report.groupTarget(sparse, 'warden-shared', [{ victim: { firstUnansweredS: undefined, peerAnswered: true } }]).status, 'n/a', 'no request reached the victim');
  const pm2 = report.groupTarget(underLoad, 'pm2', [{ victim: { stillReceivingAtEnd: true } }]);
  assert.equal(pm2.status, 'n/a');
  assert.match(pm2.figure, /still receiving requests at the end in 1 of 1/);
});
