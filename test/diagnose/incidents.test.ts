// Incident records: kept per slot (the last five), and rendered as one line plus an evidence block.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeIncident, IncidentLog, type Incident } from '../../src/diagnose/incidents.js';

const base = { at: '2026-01-01T00:00:00.000Z', slot: 2, generation: 1, pid: 4312 } as const;

test('the log keeps the last five incidents of each slot', () => {
  const log = new IncidentLog();
  for (let i = 0; i < 7; i++) log.record({ ...base, at: `2026-01-01T00:00:0${i}.000Z`, kind: 'crashed', reason: `crash ${i}` });
  log.record({ ...base, slot: 1, kind: 'stalled', reason: 'no heartbeat for 5.0s' });
  assert.deepEqual(log.forSlot(2).map((i) => i.reason), ['crash 2', 'crash 3', 'crash 4', 'crash 5', 'crash 6']);
  assert.equal(log.forSlot(1).length, 1);
  assert.equal(log.all().length, 6);
});

test('a stalled incident shows the stack as a block, or says why there is none', () => {
  const withStack: Incident = { ...base, kind: 'stalled', reason: 'no heartbeat for 5.0s', stack: '    at spin (/app.js:3:1)' };
  assert.deepEqual(describeIncident(withStack), {
    msg: 'worker 2 (pid 4312) was stalled (no heartbeat for 5.0s); its main thread was here:',
    block: '    at spin (/app.js:3:1)',
  });
  const without = describeIncident({ ...base, kind: 'stalled', reason: 'no heartbeat for 5.0s', noStack: 'no stack: inspector did not open' });
  assert.equal(without.msg, 'worker 2 (pid 4312) was stalled (no heartbeat for 5.0s); no stack: inspector did not open');
  assert.equal(without.block, undefined);
});

test('a stalled incident with a CPU profile adds its top functions under the stack, or says why there is none', () => {
  const profiled = describeIncident({
    ...base, kind: 'stalled', reason: 'no heartbeat for 5.0s', stack: '    at spin (/app.js:3:1)',
    profile: { durationMs: 1000, path: '/var/profiles/worker-2.cpuprofile', top: [{ functionName: 'spin', url: '/app.js', lineNumber: 3, selfMs: 990, selfPercent: 99 }] },
  });
  assert.equal(profiled.block, '    at spin (/app.js:3:1)\ntop functions by self time over a 1.0s CPU profile (/var/profiles/worker-2.cpuprofile):\n 99.0 %     990.0 ms  spin (/app.js:3)');
  const none = describeIncident({ ...base, kind: 'stalled', reason: 'no heartbeat for 5.0s', noStack: 'no stack: inspector did not open', noProfile: 'no profile: the inspector gave no stack either' });
  assert.equal(none.block, 'no profile: the inspector gave no stack either');
});

test('a stuck incident lists its requests in flight with their age', () => {
  const { msg, block } = describeIncident({
    ...base, kind: 'stuck', reason: '9 request(s) in 10.3s and not one answered',
    requests: {
      inFlight: 22, lastAnsweredAgoMs: 10_400, unansweredCount: 9,
      requests: [{ method: 'GET', path: '/orders', ageMs: 10_300, headersSent: false }, { method: 'POST', path: '/pay', ageMs: 2000, headersSent: true }],
    },
  });
  assert.equal(msg, 'worker 2 (pid 4312) was stuck (9 request(s) in 10.3s and not one answered); its last answer was 10.4s ago; 22 request(s) in flight:');
  assert.equal(block, 'GET /orders  10.3s\nPOST /pay  2.0s  (headers sent)\n… and 20 more');
});

test('a stuck incident also lists the requests it never answered that ended: 504 by warden, cut, or the client gone', () => {
  const { msg, block } = describeIncident({
    ...base, kind: 'stuck', reason: '4 request(s) timed out in a row (--request-timeout 2.0s)',
    requests: {
      inFlight: 21, neverAnswered: 3, lastAnsweredAgoMs: -1, unansweredCount: 0,
      requests: [
        { method: 'GET', path: '/orders', ageMs: 1500, headersSent: false },
        { method: 'GET', path: '/orders', ageMs: 6100, headersSent: false, endedBy: 'warden504' },
        { method: 'GET', path: '/report', ageMs: 4000, headersSent: true, endedBy: 'timeoutCut' },
        { method: 'POST', path: '/pay', ageMs: 3000, headersSent: false, endedBy: 'connectionClosed' },
      ],
    },
  });
  assert.equal(msg, 'worker 2 (pid 4312) was stuck (4 request(s) timed out in a row (--request-timeout 2.0s)); it never answered a request; 21 request(s) in flight and 3 it never answered that ended:');
  assert.equal(block, [
    'GET /orders  1.5s',
    '… and 20 more',
    'GET /orders  6.1s  (answered 504 by warden, --request-timeout)',
    'GET /report  4.0s  (headers sent)  (cut by warden, --request-timeout)',
    'POST /pay  3.0s  (connection closed before an answer)',
  ].join('\n'));
});

test('a memory incident shows the trend and the heap snapshot', () => {
  const { block } = describeIncident({
    ...base, kind: 'memory', reason: 'RSS 600 MB is above --max-memory 512 MB',
    memory: { limitBytes: 512 * 1024 * 1024, samples: [{ atMs: -60_000, rssBytes: 300 * 1024 * 1024, heapUsedBytes: 100 * 1024 * 1024 }] },
    heapSnapshot: { skipped: 'heap of 2048 MB is over the 1024 MB limit for snapshots' },
  });
  assert.equal(block, ' -60s  rss 300.0 MB  heap used 100.0 MB\nheap snapshot skipped: heap of 2048 MB is over the 1024 MB limit for snapshots');
});

test('a stuck incident adds the CPU profile taken before the kill under its requests, or the stack taken instead and why', () => {
  const requests = { inFlight: 1, lastAnsweredAgoMs: 12_000, unansweredCount: 1, requests: [{ method: 'GET', path: '/spin', ageMs: 11_000, headersSent: false }] };
  const profiled = describeIncident({
    ...base, kind: 'stuck', reason: 'no answer', requests,
    profile: { durationMs: 1000, top: [{ functionName: 'spinForever', url: '/app.js', lineNumber: 7, selfMs: 950, selfPercent: 95 }] },
  });
  assert.equal(profiled.block, 'GET /spin  11.0s\ntop functions by self time over a 1.0s CPU profile:\n 95.0 %     950.0 ms  spinForever (/app.js:7)');
  const instead = describeIncident({
    ...base, kind: 'stuck', reason: 'no answer', requests,
    noProfile: 'no profile: the inspector closed; its stack was taken instead', stack: '    at spinForever (/app.js:7:3)',
  });
  assert.equal(instead.block, 'GET /spin  11.0s\nits main thread was here:\n    at spinForever (/app.js:7:3)\nno profile: the inspector closed; its stack was taken instead');
  const unlisted = describeIncident({ ...base, kind: 'stuck', reason: 'no answer', noProfile: 'no profile: no inspector port was reserved for this worker (--capture-stacks off)' });
  assert.equal(unlisted.block, 'no profile: no inspector port was reserved for this worker (--capture-stacks off)');
});
