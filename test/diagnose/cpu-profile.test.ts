// Reading a CPU profile without a process: self time per function from a small hand-written profile,
// V8's own entries, the text for the incident, and which saved profiles go when the cap is passed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatTopFunctions, profilesToRemove, topFunctions, type CpuProfile, type ProfileNode } from '../../src/diagnose/cpu-profile.js';

function node(id: number, functionName: string, url: string, lineNumber: number, children: number[] = []): ProfileNode {
  return { id, callFrame: { functionName, scriptId: String(id), url, lineNumber, columnNumber: 0 }, children };
}

// (root) -> main -> spin, (root) -> (idle), (root) -> (garbage collector); two closures of `handler`
// (nodes 6 and 7, same file and line) must add up.
const nodes = [
  node(1, '(root)', '', -1, [2, 4, 5, 6, 7]),
  node(2, 'main', 'file:///srv/app.js', 0, [3]),
  node(3, 'spin', 'file:///srv/app.js', 11),
  node(4, '(idle)', '', -1),
  node(5, '(garbage collector)', '', -1),
  node(6, 'handler', 'file:///srv/routes.js', 4),
  node(7, 'handler', 'file:///srv/routes.js', 4),
];

test('self time per function, largest first, with 1-based file:line and the share of the sampled time', () => {
  // 10 samples 1 ms apart: spin 5, handler 2 (two nodes), main 1, gc 1, idle 1 (not work, not listed).
  const samples = [3, 3, 3, 3, 3, 6, 7, 2, 5, 4];
  const profile: CpuProfile = { nodes, startTime: 0, endTime: 10_000, samples, timeDeltas: samples.map(() => 1000) };
  const top = topFunctions(profile);
  assert.deepEqual(top.map((entry) => [entry.functionName, entry.url, entry.lineNumber, entry.selfMs]), [
    ['spin', '/srv/app.js', 12, 5],
    ['handler', '/srv/routes.js', 5, 2],
    ['(garbage collector)', '', 0, 1],
    ['main', '/srv/app.js', 1, 1],
  ]);
  assert.equal(top[0]?.selfPercent, 50, 'the idle sample counts in the sampled time');
  assert.equal(topFunctions(profile, 1).length, 1, 'limited');
});

test("a sample lasts until the next one: uneven gaps weigh each sample by its own time", () => {
  // spin, then main 9 ms later, then spin 1 ms later: spin took 9 ms, main 1 ms, the last spin the mean gap (5 ms).
  const profile: CpuProfile = { nodes, startTime: 0, endTime: 15_000, samples: [3, 2, 3], timeDeltas: [0, 9000, 1000] };
  assert.deepEqual(topFunctions(profile).map((entry) => [entry.functionName, entry.selfMs]), [['spin', 14], ['main', 1]]);
});

test('a profile without samples falls back to the hit counts', () => {
  const withHits = nodes.map((entry) => ({ ...entry, hitCount: entry.id === 3 ? 3 : entry.id === 2 ? 1 : 0 }));
  const top = topFunctions({ nodes: withHits, startTime: 0, endTime: 4000 });
  assert.deepEqual(top.map((entry) => [entry.functionName, entry.selfMs, entry.selfPercent]), [['spin', 3, 75], ['main', 1, 25]]);
});

test('an empty profile has no top functions', () => {
  assert.deepEqual(topFunctions({ nodes: [node(1, '(root)', '', -1)], startTime: 0, endTime: 0, samples: [], timeDeltas: [] }), []);
});

test('the incident text names share, time, function and file:line', () => {
  const text = formatTopFunctions([
    { functionName: 'spin', url: '/srv/app.js', lineNumber: 12, selfMs: 812.3, selfPercent: 81.2 },
    { functionName: '(garbage collector)', url: '', lineNumber: 0, selfMs: 4, selfPercent: 0.4 },
  ]);
  assert.equal(text, ' 81.2 %     812.3 ms  spin (/srv/app.js:12)\n  0.4 %       4.0 ms  (garbage collector)');
});

test('the oldest profiles go first until the rest fit the cap; the one just written always stays', () => {
  const files = [
    { name: 'a.cpuprofile', sizeBytes: 50, mtimeMs: 1 },
    { name: 'b.cpuprofile', sizeBytes: 100, mtimeMs: 2 },
    { name: 'c.cpuprofile', sizeBytes: 300, mtimeMs: 3 },
    { name: 'd.cpuprofile', sizeBytes: 300, mtimeMs: 4 },
  ];
  assert.deepEqual(profilesToRemove(files, 2000, 'd.cpuprofile'), [], 'all fit');
  assert.deepEqual(profilesToRemove(files, 650, 'd.cpuprofile'), ['a.cpuprofile', 'b.cpuprofile'], 'b does not fit after c and d; a would, but it is older: age decides');
  assert.deepEqual(profilesToRemove(files, 100, 'd.cpuprofile'), ['a.cpuprofile', 'b.cpuprofile', 'c.cpuprofile'], 'the new one alone over the cap stays');
  assert.deepEqual(profilesToRemove(files, 300, 'a.cpuprofile'), ['b.cpuprofile', 'c.cpuprofile', 'd.cpuprofile'], 'the one just written counts as the newest whatever its mtime');
});
