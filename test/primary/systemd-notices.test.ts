// What the primary tells systemd, decided from machine facts: READY=1 once, when /readyz would first
// answer 200; RELOADING=1 then READY=1 around a rolling reload; STOPPING=1 once; STATUS= on change only.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NO_NOTICES, notices, type NoticeFacts, type NoticeMemory } from '../../src/primary/systemd-notices.js';

const BOOTING: NoticeFacts = { phase: 'running', isReady: false, reloadingTo: undefined, inRotation: 0, targetWorkers: 2 };

/** Feeds the facts in order; returns every message sent. */
function run(...steps: Partial<NoticeFacts>[]): string[][] {
  let memory: NoticeMemory = NO_NOTICES;
  const sent: string[][] = [];
  for (const step of steps) {
    const result = notices(memory, { ...BOOTING, ...step });
    memory = result.memory;
    sent.push(...result.messages);
  }
  return sent;
}

test('booting: STATUS= as workers come up, READY=1 once /readyz would answer 200, then nothing while nothing changes', () => {
  assert.deepEqual(run({}, { inRotation: 1 }, { inRotation: 2, isReady: true }, { inRotation: 2, isReady: true }), [
    ['STATUS=0 of 2 workers in rotation'],
    ['STATUS=1 of 2 workers in rotation'],
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
  ]);
});

test('READY=1 is sent once: /readyz going 503 and back changes only STATUS=', () => {
  const ready = { inRotation: 2, isReady: true };
  assert.deepEqual(run(ready, { inRotation: 1, isReady: false }, ready), [
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
    ['STATUS=1 of 2 workers in rotation'],
    ['STATUS=2 of 2 workers in rotation'],
  ]);
});

test('a rolling reload: RELOADING=1 when it starts, READY=1 when it ends', () => {
  const ready = { inRotation: 2, isReady: true };
  assert.deepEqual(run(ready, { ...ready, reloadingTo: 2 }, { inRotation: 1, isReady: false, reloadingTo: 2 }, ready), [
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
    ['RELOADING=1', 'STATUS=2 of 2 workers in rotation, rolling reload to generation 2'],
    ['STATUS=1 of 2 workers in rotation, rolling reload to generation 2'],
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
  ]);
});

test('a reload asked before the first READY=1: no RELOADING=1, READY=1 once it is done', () => {
  assert.deepEqual(run({ inRotation: 1, reloadingTo: 2 }, { inRotation: 2, isReady: true, reloadingTo: 2 }, { inRotation: 2, isReady: true }), [
    ['STATUS=1 of 2 workers in rotation, rolling reload to generation 2'],
    ['STATUS=2 of 2 workers in rotation, rolling reload to generation 2'],
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
  ]);
});

test('a stop: STOPPING=1 once, then nothing more', () => {
  const ready = { inRotation: 2, isReady: true };
  assert.deepEqual(run(ready, { phase: 'stopping', inRotation: 0 }, { phase: 'stopping', inRotation: 0 }, { phase: 'exited' }), [
    ['READY=1', 'STATUS=2 of 2 workers in rotation'],
    ['STOPPING=1', 'STATUS=stopping: 0 of 2 workers in rotation'],
  ]);
});
