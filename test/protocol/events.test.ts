// The API's typed events from the machine's log effects: which log events become one, and what each carries.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOG_EVENTS } from '../../src/log/events.js';
import { domainEvent } from '../../src/protocol/events.js';

test('a worker exit becomes workerExited with its code, signal, reason and whether it was planned', () => {
  const event = domainEvent(LOG_EVENTS.workerExited, { slot: 2, generation: 3, pid: 40, code: null, signal: 'SIGKILL', reason: 'stalled', planned: true }, 'worker 2 exited');
  assert.deepEqual(event, {
    name: 'workerExited',
    payload: { slot: 2, generation: 3, pid: 40, message: 'worker 2 exited', code: null, signal: 'SIGKILL', reason: 'stalled', planned: true },
  });
});

test('a failed reload carries its slot and error; a completed one has none', () => {
  assert.deepEqual(domainEvent(LOG_EVENTS.reloadFailed, { generation: 2, slot: 1, error: 'boom' }, 'reload failed')?.payload,
    { generation: 2, slot: 1, error: 'boom', message: 'reload failed' });
  assert.deepEqual(domainEvent(LOG_EVENTS.reloadCompleted, { generation: 2 }, 'reloaded')?.payload,
    { generation: 2, slot: null, error: null, message: 'reloaded' });
});

test('log events that are not API events, and worker events without a slot, become none', () => {
  assert.equal(domainEvent(LOG_EVENTS.workerSpawned, { slot: 1, generation: 1, pid: 5 }, 'spawned'), undefined);
  assert.equal(domainEvent(LOG_EVENTS.workerReady, { generation: 1 }, 'ready'), undefined);
  assert.equal(domainEvent(LOG_EVENTS.workerReady, { slot: 1, generation: 1, pid: 5 }, 'ready')?.name, 'workerReady');
});
