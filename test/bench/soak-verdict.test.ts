// The soak's decisions (bench/lib/soak-verdict.js): a failed request is explained only by a fault on
// the worker that held it while it was in flight; the chaos loop is repeatable from its seed and
// keeps scaling within bounds.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Request { mode: 'keepalive' | 'newconn'; start: number; end: number; localPort: number; failure?: string }
interface Fault { kind: string; pid?: number; at: number; goneAt?: number; held?: number[] }
interface VerdictModule {
  createRandom(seed: number): () => number;
  chooseAction(random: () => number, bounds: { target: number; min: number; max: number }): { kind: string; step?: number };
  indexConnections(logs: Record<string, string>): Map<number, { at: number; pid: number }[]>;
  workerOf(index: Map<number, { at: number; pid: number }[]>, request: Request): number | undefined;
  loggedAround(index: Map<number, { at: number; pid: number }[]>, request: Request): { pid: number; msAfterStart: number }[];
  verdictDeadlinesMs(settings: { timeoutMs: number; stuckAfterMs: number; slackMs?: number }): Record<string, number>;
  attributeFailures(failures: Request[], faults: Fault[], index: Map<number, { at: number; pid: number }[]>, deadlinesMs: Record<string, number>): { explained: (Request & { kind: string; pid?: number; seenBy?: string })[]; unexplained: Request[] };
  rssGrowth(every5s: number[]): { perMinute: (number | null)[]; fromMinute: number; toMinute: number; growthMb: number | null; status: string };
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const verdict = (await import(new URL('../../../bench/lib/soak-verdict.js', import.meta.url).href)) as VerdictModule;

const T = 1_700_000_000_000;
const DEADLINES = verdict.verdictDeadlinesMs({ timeoutMs: 3000, stuckAfterMs: 3000 });
// Worker 11 got port 40000 at T and (a later connection on the same port) worker 22 at T+60 s.
const index = verdict.indexConnections({ 11: `40000 ${T}\n40001 ${T + 5}\n`, 22: `40000 ${T + 60_000}\n` });

test('a request is matched to the worker that got its connection, by port and time', () => {
  assert.equal(verdict.workerOf(index, { mode: 'keepalive', start: T + 1000, end: T + 1010, localPort: 40000 }), 11);
  assert.equal(verdict.workerOf(index, { mode: 'keepalive', start: T + 61_000, end: T + 61_010, localPort: 40000 }), 22, 'a reused port belongs to its latest connection');
  assert.equal(verdict.workerOf(index, { mode: 'newconn', start: T + 30_000, end: T + 30_010, localPort: 40001 }), undefined, 'a new connection logged long before the request is not this one');
  assert.equal(verdict.workerOf(index, { mode: 'newconn', start: T - 2, end: T + 8, localPort: 40001 }), 11);
  assert.equal(verdict.workerOf(index, { mode: 'newconn', start: T, end: T + 8, localPort: 49999 }), undefined, 'an unlogged port has no worker');
});

test('a failed request is explained only by a fault on its worker while it was in flight', () => {
  const failures: Request[] = [
    { mode: 'keepalive', start: T + 900, end: T + 1100, localPort: 40000, failure: 'ECONNRESET' }, // on 11 across the kill
    { mode: 'keepalive', start: T + 1200, end: T + 1300, localPort: 40000, failure: 'ECONNRESET' }, // put on 11's connection after 11 was gone
    { mode: 'keepalive', start: T + 700, end: T + 800, localPort: 40000, failure: 'ECONNRESET' }, // on 11, ended before its kill
    { mode: 'keepalive', start: T + 61_000, end: T + 61_100, localPort: 40000, failure: 'ECONNRESET' }, // on 22, which was never faulted
    { mode: 'newconn', start: T + 2, end: T + 800, localPort: 40001, failure: 'http 504' }, // on 11, before its kill, during a reload
    { mode: 'newconn', start: T + 2, end: T + 3000, localPort: 49999, failure: 'ECONNRESET' }, // no worker logged it
  ];
  const faults: Fault[] = [{ kind: 'kill', pid: 11, at: T + 1000, goneAt: T + 1150 }, { kind: 'reload', at: T + 500 }, { kind: 'leak', pid: 22, at: T + 60_500, goneAt: T + 62_000 }, { kind: 'kill', pid: 33, at: T + 61_050, goneAt: T + 61_060 }];
  const { explained, unexplained } = verdict.attributeFailures(failures, faults, index, DEADLINES);
  assert.deepEqual(explained.map((r) => [r.start - T, r.kind]), [[900, 'kill'], [1200, 'kill']], 'a connection dies with its worker: a request put on it after the kill fails by the kill');
  assert.deepEqual(unexplained.map((r) => r.start - T), [700, 61_000, 2, 2], 'before the fault, a graceful recycle (and a kill of another worker), a reload, an unknown worker');
});

test('a fault explains only the failures that began before its verdict was due: a sick worker left in rotation is not excused', () => {
  assert.deepEqual(DEADLINES, { kill: 2000, stop: 5000, spin: 5000, poison: 5000 });
  // Worker 11 poisoned at T+1000: with --stuck-after 3 s it must be out of rotation by T+4000 (+2 s slack).
  const failures: Request[] = [
    { mode: 'keepalive', start: T + 5500, end: T + 9000, localPort: 40000, failure: 'timeout' }, // began within the deadline
    { mode: 'keepalive', start: T + 6500, end: T + 9000, localPort: 40000, failure: 'timeout' }, // began after it: still in rotation
  ];
  const { explained, unexplained } = verdict.attributeFailures(failures, [{ kind: 'poison', pid: 11, at: T + 1000, goneAt: T + 9500 }], index, DEADLINES);
  assert.deepEqual(explained.map((r) => r.start - T), [5500]);
  assert.deepEqual(unexplained.map((r) => r.start - T), [6500], 'a request that reached the sick worker after the verdict was due');
});

test('a new-connection request belongs to the first connection logged on its port after it began, a keep-alive one to the last before it ended', () => {
  // Port 41000: worker 11 took a connection at T+10; once it had been reset, the port was reused for
  // a connection worker 22 took at T+5020.
  const reused = verdict.indexConnections({ 11: `41000 ${T + 10}\n`, 22: `41000 ${T + 5020}\n` });
  assert.equal(verdict.workerOf(reused, { mode: 'newconn', start: T, end: T + 5000, localPort: 41000 }), 11);
  assert.equal(verdict.workerOf(reused, { mode: 'keepalive', start: T + 4000, end: T + 5000, localPort: 41000 }), 22, 'within the clock slack of its end');
  assert.equal(verdict.workerOf(reused, { mode: 'keepalive', start: T + 4000, end: T + 4900, localPort: 41000 }), 11);
  assert.deepEqual(verdict.loggedAround(reused, { mode: 'newconn', start: T, end: T + 5000, localPort: 41000 }), [{ pid: 11, msAfterStart: 10 }, { pid: 22, msAfterStart: 5020 }]);
});

test('a connection its worker accepted but never told its app of is explained by what the kernel said the victim held', () => {
  const failures: Request[] = [
    { mode: 'newconn', start: T + 990, end: T + 4200, localPort: 45000, failure: 'ECONNRESET' }, // held by 33 at its SIGSTOP, in no log
    { mode: 'newconn', start: T + 1010, end: T + 4200, localPort: 45001, failure: 'ECONNRESET' }, // its port is listed, but it was opened after the list was read
    { mode: 'newconn', start: T + 990, end: T + 4200, localPort: 45002, failure: 'ECONNRESET' }, // held by nobody: lost in the accept queue
  ];
  const faults: Fault[] = [
    { kind: 'stop', pid: 33, at: T + 1000, goneAt: T + 4190, held: [45000, 45001] },
    { kind: 'reload', at: T + 995, held: [45002] }, // a reload fails no request, whatever it lists
  ];
  const { explained, unexplained } = verdict.attributeFailures(failures, faults, index, DEADLINES);
  assert.deepEqual(explained.map((r) => [r.localPort, r.kind, r.pid, r.seenBy]), [[45000, 'stop', 33, 'kernel']]);
  assert.deepEqual(unexplained.map((r) => r.localPort), [45001, 45002]);
  const logged = verdict.attributeFailures([{ mode: 'keepalive', start: T + 900, end: T + 1100, localPort: 40000, failure: 'ECONNRESET' }], [{ kind: 'kill', pid: 11, at: T + 1000, goneAt: T + 1150, held: [40000] }], index, DEADLINES);
  assert.equal(logged.explained[0]?.seenBy, undefined, 'a connection the app logged is attributed by its log');
});

test('the chaos loop repeats from its seed and scales only within its bounds', () => {
  const run = (seed: number, bounds: { target: number; min: number; max: number }) => {
    const random = verdict.createRandom(seed);
    return Array.from({ length: 200 }, () => verdict.chooseAction(random, bounds));
  };
  assert.deepEqual(run(7, { target: 3, min: 2, max: 4 }), run(7, { target: 3, min: 2, max: 4 }), 'same seed, same actions');
  assert.notDeepEqual(run(7, { target: 3, min: 2, max: 4 }), run(8, { target: 3, min: 2, max: 4 }), 'another seed, other actions');
  const kinds = new Set(run(7, { target: 3, min: 2, max: 4 }).map((a) => a.kind));
  assert.deepEqual([...kinds].sort(), ['kill', 'leak', 'poison', 'reload', 'scale', 'spin', 'stop'], 'every kind comes up');
  for (const action of run(9, { target: 4, min: 2, max: 4 })) if (action.kind === 'scale') assert.equal(action.step, -1, 'at the maximum it only shrinks');
  for (const action of run(9, { target: 2, min: 2, max: 4 })) if (action.kind === 'scale') assert.equal(action.step, 1, 'at the minimum it only grows');
  assert.ok(run(9, { target: 2, min: 2, max: 2 }).every((a) => a.kind !== 'scale'), 'no room: no scale');
});

test('the primary\'s RSS growth is taken from minute 5 to the last full minute, on per-minute medians', () => {
  // 30 minutes of 5-s samples: climbing 1 MB a minute through warm-up, then 0.05 MB a minute.
  const samples = [50];
  for (let i = 1; i <= 360; i++) samples.push(i <= 60 ? 50 + i / 12 : 55 + (i - 60) / 240);
  const growth = verdict.rssGrowth(samples);
  assert.equal(growth.perMinute.length, 30, 'one figure per full minute');
  assert.equal(growth.fromMinute, 5);
  assert.equal(growth.toMinute, 30);
  assert.ok(growth.growthMb !== null && growth.growthMb > 1 && growth.growthMb < 2, `growth after warm-up ${growth.growthMb} MB`);
  assert.equal(growth.status, 'held');
  samples.push(...Array.from({ length: 12 }, () => 70));
  assert.equal(verdict.rssGrowth(samples).status, 'missed', 'a last minute 15 MB up misses the 2 MB bound');
});

test('a soak of 5 minutes or less does not claim an RSS growth after warm-up', () => {
  const growth = verdict.rssGrowth(Array.from({ length: 61 }, () => 60));
  assert.equal(growth.growthMb, null);
  assert.match(growth.status, /^not measured/);
});
