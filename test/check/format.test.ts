// Unit test of the text `warden check` prints: verdict first, one line per figure, times in seconds.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatCheckReport } from '../../src/check/format.js';
import type { CheckReport } from '../../src/check/run-check.js';

test('a trap report names the frozen worker, each figure in seconds, and every reason', () => {
  const report: CheckReport = {
    target: { kind: 'warden', adminUrl: 'http://127.0.0.1:9000/', primaryPid: 123 },
    healthUrl: 'http://127.0.0.1:9000/readyz',
    serviceUrl: 'http://127.0.0.1:8000/',
    frozen: { pid: 4312, slot: 2 },
    workerCount: 4,
    windowMs: 20_000,
    elapsedMs: 20_000,
    endedEarly: false,
    restoredBy: 'SIGCONT',
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
  };
  assert.equal(
    formatCheckReport(report),
    [
      'warden check: TRAP',
      '  frozen    worker 4312 (slot 2 of 4) with SIGSTOP, watched 20.0 s',
      '  health    http://127.0.0.1:9000/readyz: green throughout (200 polls)',
      '  requests  http://127.0.0.1:8000/: 200 sent: 163 ok, 0 failed, 37 timed out',
      '  replaced  never',
      '  restored  worker 4312 resumed with SIGCONT',
      '  - worker 4312 was never replaced in 20.0 s',
      '  - health stayed green for 20.0 s while worker 4312 was frozen',
    ].join('\n'),
  );
});
