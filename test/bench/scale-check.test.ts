// The scale experiment's goals (bench/lib/scale-check.js): each judged from the figures at the worker
// counts the issue names, "not measured" when the run did not reach them, never held by default.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Row { workers: number; contender: string; rounds: number; startupMs?: number; idleCpuPercent?: number; loadCpuPercent?: number; primaryRssMb?: number; workerRssMb?: number; reloadMs?: number }
interface ScaleCheckModule {
  summarizeScale(runs: unknown[]): (Row & { failed: string[] })[];
  scaleTargets(rows: Row[]): { target: string; figure: string; status: string }[];
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const check = (await import(new URL('../../../bench/lib/scale-check.js', import.meta.url).href)) as ScaleCheckModule;

const cluster = (workers: number, startupMs: number): Row => ({ workers, contender: 'cluster-none', rounds: 1, startupMs, idleCpuPercent: 0, loadCpuPercent: 0, primaryRssMb: 43, workerRssMb: 46 });
const warden = (workers: number, over: Partial<Row> = {}): Row => ({ workers, contender: 'warden', rounds: 1, startupMs: 300, idleCpuPercent: 0.1, loadCpuPercent: 0.2, primaryRssMb: 50, workerRssMb: 48, reloadMs: 800, ...over });
const statusOf = (targets: { target: string; status: string }[], start: string) => targets.find((t) => t.target.startsWith(start))?.status;

test('a fleet inside every bound holds every goal', () => {
  const rows = [1, 2, 8, 32, 64].flatMap((n) => [cluster(n, 300), warden(n)]);
  const targets = check.scaleTargets(rows);
  assert.deepEqual(targets.filter((t) => t.status !== 'held').map((t) => t.target), []);
});

test('idle CPU over the bound at 64 workers misses the idle goal, and start-up over 1.2 x misses start-up', () => {
  const rows = [1, 2, 8, 32, 64].flatMap((n) => [cluster(n, 300), warden(n, n === 64 ? { idleCpuPercent: 1.5 } : n === 8 ? { startupMs: 400 } : {})]);
  const targets = check.scaleTargets(rows);
  assert.equal(statusOf(targets, 'primary CPU idle'), 'missed');
  assert.equal(statusOf(targets, 'every worker answering'), 'missed');
  assert.equal(statusOf(targets, 'primary CPU under'), 'held');
});

test('goals at worker counts the run did not reach are not measured', () => {
  const targets = check.scaleTargets([cluster(1, 300), warden(1), cluster(8, 300), warden(8, { reloadMs: 1000 })]);
  assert.equal(statusOf(targets, 'primary CPU idle'), 'not measured');
  assert.equal(statusOf(targets, 'primary CPU under'), 'not measured');
  assert.equal(statusOf(targets, 'a reload of 8 workers'), 'missed', '1000 ms > 3 x 300 ms');
  assert.equal(statusOf(targets, 'every worker answering'), 'held', 'judged at 1 and 8, the counts measured');
});

test('runs are summarised per worker count and contender, failed runs kept apart', () => {
  const rows = check.summarizeScale([
    { workers: 8, contender: 'warden', label: 'warden', startupMs: 500, idleCpuPercent: 1 },
    { workers: 8, contender: 'warden', label: 'warden', startupMs: 700, idleCpuPercent: 3 },
    { workers: 8, contender: 'warden', label: 'warden', failed: 'boom' },
  ]);
  assert.equal(rows.length, 1);
  assert.equal(rows[0].startupMs, 600);
  assert.equal(rows[0].idleCpuPercent, 2);
  assert.deepEqual(rows[0].failed, ['boom']);
});
