// Unit tests for src/app/pending-work.ts: when a script with no usable export still has work that
// could call listen() later.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasWorkBeyond } from '../../src/app/pending-work.js';

test('no new resources means no pending work', () => {
  assert.equal(hasWorkBeyond(['PipeWrap', 'Timeout'], ['Timeout', 'PipeWrap']), false);
});

test('a new timer is pending work', () => {
  assert.equal(hasWorkBeyond(['PipeWrap'], ['PipeWrap', 'Timeout']), true);
});

test('a second resource of a type already held is pending work', () => {
  assert.equal(hasWorkBeyond(['TCPSocketWrap'], ['TCPSocketWrap', 'TCPSocketWrap']), true);
});

test('a resource that ended does not hide a new one of another type', () => {
  assert.equal(hasWorkBeyond(['CloseReq', 'Timeout'], ['Timeout', 'FSReqCallback']), true);
});

test("the caller's own timers are not the app's work", () => {
  assert.equal(hasWorkBeyond(['PipeWrap'], ['PipeWrap', 'Timeout'], 1), false);
  assert.equal(hasWorkBeyond(['PipeWrap'], ['PipeWrap', 'Timeout', 'Timeout'], 1), true);
});
