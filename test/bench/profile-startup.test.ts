// The start-up profile's reading (bench/profile-startup.js): busy time before the first spawn split
// into module loading and the rest, the idle window apart, and the median over several starts.

import assert from 'node:assert/strict';
import { test } from 'node:test';

interface Row { what: string; ms: number }
interface Analysis { firstSpawnMs?: number; busyMs: number; beforeSpawnBusyMs: number; beforeSpawn: Row[]; topSelf: Row[]; idleSpanMs: number; idleBusyMs: number; idleSelf: Row[] }
interface ProfileModule {
  analyzeProfile(profile: unknown, untilMs?: number, limit?: number, idleFromMs?: number): Analysis;
  medianOfRuns(analyses: Analysis[]): Analysis & { runs: number };
}

// bench/ is plain JavaScript outside the TypeScript build: load it from the source tree.
const profiler = (await import(new URL('../../../bench/profile-startup.js', import.meta.url).href)) as ProfileModule;

const frame = (functionName: string, url = '') => ({ functionName, url, lineNumber: 0 });
// root -> (idle); root -> loader -> compile; root -> main.js -> spawn (child_process); root -> step.js
const profile = {
  nodes: [
    { id: 1, callFrame: frame('(root)'), children: [2, 3, 5, 7] },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('import', 'node:internal/modules/esm/loader'), children: [4] },
    { id: 4, callFrame: frame('compileSourceTextModule', 'node:internal/modules/esm/utils') },
    { id: 5, callFrame: frame('main', 'file:///x/dist/src/cli/main.js'), children: [6] },
    { id: 6, callFrame: frame('spawn', 'node:internal/child_process') },
    { id: 7, callFrame: frame('step', 'file:///x/dist/src/primary/machine/step.js') },
  ],
  // 10 ms each: compile x3, spawn, idle x2, step x2 (the last two after 60 ms: the idle window)
  samples: [4, 4, 4, 6, 2, 2, 7, 7],
  timeDeltas: [10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000, 10_000],
};

test('busy time before the first spawn is split into module loading and the rest; idle samples count nowhere', () => {
  const analysis = profiler.analyzeProfile(profile, Infinity, Infinity, 65);
  assert.equal(analysis.firstSpawnMs, 40);
  assert.equal(analysis.beforeSpawnBusyMs, 30, 'three compile samples before the spawn sample');
  assert.deepEqual(analysis.beforeSpawn, [{ what: 'module loading (resolve, read, compile, evaluate)', ms: 30 }]);
  assert.equal(analysis.busyMs, 60, 'six busy samples of 10 ms');
  assert.equal(analysis.idleBusyMs, 20, 'the two step samples after 65 ms');
  assert.match(analysis.idleSelf[0].what, /^step dist\/src\/primary\/machine\/step\.js/);
});

test('the median of several starts counts an item missing from a start as 0 there', () => {
  const one = profiler.analyzeProfile(profile);
  const none = { ...one, topSelf: [] };
  const merged = profiler.medianOfRuns([one, one, none]);
  assert.equal(merged.runs, 3);
  assert.equal(merged.topSelf.find((row) => row.what.startsWith('step '))?.ms, 20, 'median of 20, 20, 0');
  assert.equal(profiler.medianOfRuns([one, none, none]).topSelf.find((row) => row.what.startsWith('step '))?.ms, 0);
});
