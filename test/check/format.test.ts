// Unit test of the text `warden check` prints: verdict first, one line per figure, times in seconds,
// then the incident warden recorded (its stack as an indented block, or why there is none).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { describeRestore, formatCheckReport, formatIncident } from '../../src/check/format.js';
import type { CheckReport } from '../../src/check/run-check.js';

function trapReport(overrides: Partial<CheckReport> = {}): CheckReport {
  return {
    target: { kind: 'warden', adminUrl: 'http://127.0.0.1:9000/', primaryPid: 123 },
    healthUrl: 'http://127.0.0.1:9000/readyz',
    serviceUrl: 'http://127.0.0.1:8000/',
    fault: 'stop',
    frozen: { pid: 4312, slot: 2 },
    workerCount: 4,
    windowMs: 20_000,
    elapsedMs: 20_000,
    endedEarly: false,
    restoredBy: 'SIGCONT',
    incident: null,
    healthGreenAfterFreezeMs: 20_000,
    healthFirstRedAtMs: null,
    healthRecoveredAtMs: null,
    health: { polls: 200, failed: 0 },
    replacedAtMs: null,
    newPid: null,
    frozenExitedAtMs: null,
    requests: { sent: 200, ok: 163, failed: 0, timedOut: 37 },
    verdict: 'trap',
    reasons: ['worker 4312 was never replaced in 20.0 s', 'health stayed green for 20.0 s while worker 4312 was frozen'],
    ...overrides,
  };
}

function passReport(overrides: Partial<CheckReport>): CheckReport {
  return trapReport({
    elapsedMs: 4_100,
    endedEarly: true,
    restoredBy: 'already-exited',
    healthGreenAfterFreezeMs: 1_100,
    healthFirstRedAtMs: 1_100,
    healthRecoveredAtMs: 3_100,
    health: { polls: 41, failed: 20 },
    replacedAtMs: 3_000,
    newPid: 4400,
    frozenExitedAtMs: 2_400,
    requests: { sent: 41, ok: 41, failed: 0, timedOut: 0 },
    verdict: 'pass',
    reasons: ['worker 4312 was replaced by 4400 after 3.0 s'],
    ...overrides,
  });
}

describe('formatCheckReport', () => {
  test('a trap report names the frozen worker, each figure in seconds, and every reason', () => {
    assert.equal(
      formatCheckReport(trapReport()),
      [
        'warden check: TRAP',
        '  frozen    worker 4312 (slot 2 of 4) with SIGSTOP, watched 20.0 s',
        '  health    http://127.0.0.1:9000/readyz: green throughout (200 polls)',
        '  requests  http://127.0.0.1:8000/: 200 sent: 163 ok, 0 failed, 37 timed out',
        '  replaced  never',
        '  restored  worker 4312 resumed with SIGCONT',
        '  - worker 4312 was never replaced in 20.0 s',
        '  - health stayed green for 20.0 s while worker 4312 was frozen',
        '  incident  none recorded by warden for worker 4312',
      ].join('\n'),
    );
  });

  test('a pid target has no incident line: only warden records incidents', () => {
    const text = formatCheckReport(trapReport({ target: { kind: 'pid', pid: 77 } }));
    assert.match(text, /child 2 of 4 of process 77/);
    assert.doesNotMatch(text, /incident/);
  });

  test('a spin check that passed shows the busy loop and, under the report, the stack warden took', () => {
    const report = passReport({
      fault: 'spin',
      incident: {
        at: '2025-06-01T10:00:02.400Z',
        slot: 2,
        pid: 4312,
        kind: 'stalled',
        reason: 'no heartbeat for 2.0s',
        stack: '    at wardenCheckBusyLoop (warden-check-busy-loop.js:1:47)\n    at processImmediate (node:internal/timers:483:21)',
      },
    });
    assert.equal(
      formatCheckReport(report),
      [
        'warden check: PASS',
        '  frozen    worker 4312 (slot 2 of 4) with a busy loop (wardenCheckBusyLoop), watched 4.1 s (ended early: replaced and healthy again)',
        '  health    http://127.0.0.1:9000/readyz: first failed after 1.1 s, green again after 3.1 s (20 of 41 polls failed)',
        '  requests  http://127.0.0.1:8000/: 41 sent: 41 ok, 0 failed, 0 timed out',
        '  replaced  by worker 4400 after 3.0 s',
        '  restored  nothing to stop: worker 4312 had exited',
        '  - worker 4312 was replaced by 4400 after 3.0 s',
        '  incident  stalled (no heartbeat for 2.0s); its main thread was here:',
        '      at wardenCheckBusyLoop (warden-check-busy-loop.js:1:47)',
        '      at processImmediate (node:internal/timers:483:21)',
      ].join('\n'),
    );
  });

  test('a spinning worker warden did not replace is reported as killed with SIGKILL', () => {
    const text = formatCheckReport(trapReport({ fault: 'spin', restoredBy: 'SIGKILL' }));
    assert.match(text, /^ {2}restored {2}worker 4312 was still busy-looping: killed with SIGKILL$/m);
    assert.match(text, /with a busy loop \(wardenCheckBusyLoop\), watched/);
  });

  test('a stop check that passed says there was nothing to resume', () => {
    assert.match(formatCheckReport(passReport({})), /^ {2}restored {2}nothing to resume: worker 4312 had exited$/m);
  });
});

describe('formatIncident', () => {
  const base = { at: '2025-06-01T10:00:02.400Z', slot: 1, pid: 10, kind: 'stalled', reason: 'no heartbeat for 2.0s' };

  test('a stopped worker: the line saying why no stack was taken, indented under the incident', () => {
    assert.deepEqual(formatIncident({ ...base, noStack: 'no stack: inspector did not open on 127.0.0.1:4100 within 1300 ms' }, 10), [
      '  incident  stalled (no heartbeat for 2.0s)',
      '      no stack: inspector did not open on 127.0.0.1:4100 within 1300 ms',
    ]);
  });

  test('a record with neither stack nor reason for none is one line; no record says so', () => {
    assert.deepEqual(formatIncident({ ...base, kind: 'crashed', reason: 'boom' }, 10), ['  incident  crashed (boom)']);
    assert.deepEqual(formatIncident(null, 10), ['  incident  none recorded by warden for worker 10']);
  });
});

test('describeRestore names what the check did to the frozen worker', () => {
  assert.equal(describeRestore(5, 'SIGCONT'), 'resumed worker 5 with SIGCONT');
  assert.equal(describeRestore(5, 'SIGKILL'), 'worker 5 was still busy-looping (not replaced); killed it with SIGKILL');
  assert.equal(describeRestore(5, 'already-exited'), 'worker 5 had exited; nothing to undo');
});
