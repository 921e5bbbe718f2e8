import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DisplayState, WorkerView } from '../../src/protocol/admin.js';
import { formatStatus, statusRows, suspicionText, useColour, type StatusSample } from '../../src/status/table.js';

function sample(at: number, served: number, state: DisplayState = 'ready'): StatusSample {
  const worker: WorkerView = {
    slot: 1, generation: 1, pid: 11, state, inRotation: true, saturated: false, reason: null, suspicion: null, since: '', sinceMs: 0, uptimeMs: 61_000, heartbeatAgeMs: 10, heartbeatDelayedMs: 0,
    loopDelayMs: 1.234, eventLoopUtilization: 0.876, inFlight: 2, oldestInFlightMs: 0, served, timedOut: 0, connections: 0, upgraded: 0, pendingHandoffs: 0, inspectPort: null,
    rssBytes: 50 * 1024 * 1024, heapUsedBytes: null, restarts: 1, replacements: null,
    lastExit: { code: null, signal: 'SIGKILL', reason: 'no heartbeat for 5.0s', at: '' },
    incidents: [{ at: '', slot: 1, generation: 1, pid: 11, kind: 'stalled', reason: 'no heartbeat for 5.0s' }],
  };
  const idle = { droppedLines: 0, droppedBytes: 0, lastError: null, failing: false };
  return {
    at,
    body: {
      primary: {
        pid: 10, version: '0.0.0', module: 'app.js', phase: 'running', control: null, listen: { host: '127.0.0.1', port: 8000 },
        admin: { host: '127.0.0.1', port: 9000 }, startedAt: '', uptimeMs: 65_000, workersTarget: 1, fleetUtilization: 0.876, requiredReady: 1, generation: 1,
        reload: { running: null, queued: false, last: null, counts: {} }, scaling: null, autoscale: null,
      },
      workers: [worker],
      connections: {},
      acceptQueue: { length: 3, backlog: 511 },
      logs: { stdout: idle, stderr: idle },
    },
  };
}

test('req/s is the served difference over the time between two readings', () => {
  const rows = statusRows(sample(2000, 150), sample(1000, 100));
  assert.equal(rows[0]?.requestsPerSecond, 50);
  assert.equal(statusRows(sample(2000, 150), undefined)[0]?.requestsPerSecond, null);
});

test('the table has one line per worker with state, uptime, rss, restarts and the last incident', () => {
  const current = sample(2000, 150);
  const text = formatStatus(current, statusRows(current, sample(1000, 100)), { colour: false, width: 200 });
  const lines = text.trimEnd().split('\n');
  assert.equal(lines.length, 3);
  assert.match(lines[0] as string, /1\/1 ready  elu 88%  queue 3\/511$/, 'the header ends with the accept queue and --backlog');
  assert.match(lines[1] as string, /^slot\s+pid\s+state\s+uptime\s+req\/s/);
  assert.match(lines[2] as string, /^1\s+11\s+ready\s+1m01s\s+50\s+2\s+1\.2ms\s+88%\s+50 MB\s+1\s+no heartbeat for 5\.0s \/ stalled: no heartbeat/);
  assert.ok(!text.includes('\x1b['), 'no colour codes');
  assert.ok(formatStatus(current, statusRows(current, undefined), { colour: true, width: 200 }).includes('\x1b[32mready'));
});

test('the header carries the fleet ELU, and a saturated worker says so in its elu cell', () => {
  const current = sample(2000, 150);
  const worker = current.body.workers[0];
  if (worker !== undefined) worker.saturated = true;
  const text = formatStatus(current, statusRows(current, undefined), { colour: false, width: 200 });
  assert.match(text.split('\n')[0] as string, /1\/1 ready  elu 88%/);
  assert.match(text.split('\n')[2] as string, /1\.2ms\s+88% saturated\s+50 MB/);
});

test('colour only on a terminal, and never with NO_COLOR', () => {
  assert.equal(useColour(true, {}), true);
  assert.equal(useColour(false, {}), false);
  assert.equal(useColour(true, { NO_COLOR: '1' }), false);
});

test('a quarantined worker reads "quarantined", out of rotation, with how long and why; the header counts it apart from the ready ones', () => {
  const current = sample(2000, 150, 'quarantined');
  const worker = current.body.workers[0] as WorkerView;
  Object.assign(worker, {
    inRotation: false,
    suspicion: { isQuarantined: true, suspectForMs: 3200, quarantinedForMs: 3100, reason: '4 request(s) unanswered for 1.2s while another worker answered', evidence: null },
  });
  const text = formatStatus(current, statusRows(current, undefined), { colour: true, width: 300 });
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0] as string, /0\/1 ready, 1 quarantined  elu 88%  queue 3\/511$/);
  assert.match(lines[2] as string, /\x1b\[33mquarantined/, 'yellow: out of rotation, not sick yet');
  assert.ok((lines[2] as string).includes('quarantined 3s (out of rotation): 4 request(s) unanswered for 1.2s while another worker answered'), lines[2]);
});

test('a suspect kept in rotation as the last worker reads "ready" and says it is suspect; a recycled one shows the evidence', () => {
  const suspect = { state: 'ready' as const, suspicion: { isQuarantined: false, suspectForMs: 12_000, quarantinedForMs: null, reason: 'silent for 12s', evidence: 'no peer in rotation answered' } };
  assert.equal(suspicionText(suspect), 'suspect 12s (last in rotation): no peer in rotation answered');
  const recycled = { state: 'unhealthy' as const, suspicion: { isQuarantined: true, suspectForMs: 2500, quarantinedForMs: 2400, reason: 'silent', evidence: 'peers answered 9 since it left rotation' } };
  assert.equal(suspicionText(recycled), 'recycled on evidence: peers answered 9 since it left rotation');
  assert.equal(suspicionText({ state: 'ready', suspicion: null }), null);
});

test('with --workers MIN..MAX a second header line shows the range, what caps it, and the last decision with its reason', () => {
  const current = sample(2000, 10);
  current.body.primary.startedAt = '2026-12-02T10:00:00.000Z';
  current.body.primary.workersTarget = 3;
  current.body.primary.autoscale = {
    min: 2, max: 8, ceiling: 4, limitedBy: 'cpu quota', acceptQueue: 0, decisions: { 'grow:utilization high': 1 },
    last: { at: '2026-12-02T10:00:53.000Z', change: 'grow', reason: 'utilization high', detail: 'fleet utilization 95 % for 10.0s (at or above 80 %): 2 -> 3 workers', from: 2, workers: 3 },
  };
  const lines = formatStatus(current, statusRows(current, undefined), { colour: false, width: 200 }).split('\n');
  assert.equal(lines[1], 'autoscale 2..8 (at most 4 now: cpu quota), target 3; last: grow 2 -> 3 12s ago (utilization high): fleet utilization 95 % for 10.0s (at or above 80 %): 2 -> 3 workers');
  const fixed = sample(2000, 10);
  assert.match(formatStatus(fixed, statusRows(fixed, undefined), { colour: false, width: 200 }).split('\n')[1] ?? '', /^slot/, 'a fixed count has no autoscale line');
});
