// Suspicion, quarantine and the verdict on evidence, in the machine: each transition with plain
// numbers, then the traffic shapes that must never cost a healthy worker its life and those where a
// poisoned worker must be caught, fed as heartbeats from a request-level model (machine-traffic.ts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { LOG_EVENTS } from '../../src/log/events.js';
import { isInRotation } from '../../src/primary/machine/index.js';
import { CONFIG, Harness, of, stats } from './machine-harness.js';
import { concentrate, spread, Traffic } from './machine-traffic.js';

const QUARANTINED = LOG_EVENTS.workerQuarantined;
const RELEASED = LOG_EVENTS.workerReleased;
const STUCK = LOG_EVENTS.workerStuck;
const SUSPECT = LOG_EVENTS.workerSuspect;

/** Two ready workers; `a` silent since 10 000 with 5 requests, `b` answering (served 900 at 11 000). */
function quarantinedPair(config: Partial<typeof CONFIG> = {}) {
  const h = new Harness(config);
  const [a, b] = h.boot() as [number, number];
  h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: 5, answeredRecent: 500, slowestRecentMs: 20 }) }, 11_000);
  const effects = h.send({ type: 'HeartbeatReceived', id: a, stats: stats({ served: 400, unansweredCount: 5, unansweredForMs: 1000, waiting: 5, lastFinishedAgoMs: 1005, answeredRecent: 300, slowestRecentMs: 20 }) }, 11_000);
  effects.push(...h.send({ type: 'Tick' }, 11_050));
  return { h, a, b, effects };
}
const silentA = (silentMs: number, extra = {}) => stats({ served: 400, unansweredCount: 5, unansweredForMs: silentMs, waiting: 5, lastFinishedAgoMs: silentMs + 5, answeredRecent: 300, slowestRecentMs: 20, ...extra });
const logsOf = (effects: ReturnType<Harness['send']>, event: string) => of(effects, 'Log').filter((log) => log.event === event);

describe('transitions', () => {
  test('suspect: silent past the 1 s floor while its peer answered; quarantined, out of rotation, still serving', () => {
    const { h, a, b, effects } = quarantinedPair();
    const worker = h.worker(a);
    assert.equal(worker.condition, 'quarantined');
    assert.equal(worker.state, 'ready', 'not draining: it keeps serving what it holds');
    assert.equal(worker.retiring, false);
    assert.equal(isInRotation(h.state, worker), false);
    assert.equal(isInRotation(h.state, h.worker(b)), true);
    assert.equal(worker.suspicion?.quarantinedAt, 11_050);
    assert.equal(logsOf(effects, QUARANTINED).length, 1);
    assert.equal(of(effects, 'Drain').length + of(effects, 'Signal').length, 0);
    assert.equal(of(effects, 'Probe').length, 0, 'no --probe-path: no probe');
  });

  test('with --probe-path the quarantined worker is probed at once; a failed probe recycles it', () => {
    const { h, a, effects } = quarantinedPair({ probeEnabled: true });
    assert.deepEqual(of(effects, 'Probe').map((probe) => probe.id), [a]);
    const after = h.send({ type: 'ProbeFailed', id: a, reason: 'timed out after 2000 ms' }, 11_300);
    assert.equal(h.worker(a).condition, 'stuck');
    assert.equal(h.worker(a).state, 'draining');
    assert.match(h.worker(a).suspicion?.evidence ?? '', /probe failed/);
    assert.equal(of(after, 'ReportRequests').length, 1, 'the incident lists its requests');
  });

  test('release on answer: its oldest unanswered request moves on; back in rotation, nobody recycled', () => {
    const { h, a } = quarantinedPair();
    const effects = h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(100) }, 11_250);
    effects.push(...h.send({ type: 'Tick' }, 11_300));
    assert.equal(h.worker(a).condition, 'ok');
    assert.equal(h.worker(a).suspicion, undefined);
    assert.equal(isInRotation(h.state, h.worker(a)), true);
    assert.equal(logsOf(effects, RELEASED).length, 1);
  });

  test('release when the peer turns out just as slow (a dependency slow for all)', () => {
    const { h, a, b } = quarantinedPair();
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, unansweredCount: 4, unansweredForMs: 1200, lastFinishedAgoMs: 1300, answeredRecent: 500 }) }, 12_250);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(2250) }, 12_250);
    const effects = h.send({ type: 'Tick' }, 12_300);
    assert.equal(h.worker(a).condition, 'ok');
    assert.match(logsOf(effects, RELEASED)[0]?.fields.reason as string, /just as slow/);
  });

  test('recycle on peer evidence: the peer answered since the quarantine, it answered none for 2 s', () => {
    const { h, a, b } = quarantinedPair();
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 950, lastFinishedAgoMs: 5, answeredRecent: 550 }) }, 11_900);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1900) }, 11_900);
    assert.equal(h.worker(a).condition, 'quarantined', 'silent 1.9 s: not yet');
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(2000) }, 12_000);
    const effects = h.send({ type: 'Tick' }, 12_050);
    assert.equal(h.worker(a).condition, 'stuck');
    assert.equal(h.worker(a).state, 'draining', 'drained, not killed at once');
    assert.equal(of(effects, 'Signal').length, 0);
    assert.deepEqual(of(effects, 'ReportRequests').map((report) => report.id), [a]);
    assert.match(h.worker(a).suspicion?.evidence ?? '', /kept answering \(50 answers since its oldest unanswered request arrived\)/);
    assert.deepEqual(of(h.tickUntil(12_400), 'Spawn').map((spawn) => spawn.slot), [1], 'a replacement starts in the same slot');
    const kill = h.tickUntil(12_050 + CONFIG.gracefulTimeoutMs);
    assert.ok(of(kill, 'Signal').some((signal) => signal.id === a && signal.signal === 'SIGKILL'), 'killed at the graceful timeout');
  });

  test('recycle on the peer answers given since its oldest unanswered request, when every client then waits on it (closed loop)', () => {
    // The peer answers steadily until 11 000; the suspect's oldest unanswered request arrived at
    // 10 000. After the quarantine (11 050) the peer gets nothing new: every client is waiting on the
    // suspect. The answers the peer gave from 10 000 on are the evidence.
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    for (const [at, served] of [[9750, 700], [10_000, 750], [10_250, 800], [10_500, 830], [10_750, 860], [11_000, 880]] as const) {
      h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served, lastFinishedAgoMs: 5, answeredRecent: 500, slowestRecentMs: 20 }) }, at);
    }
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1000) }, 11_000);
    h.send({ type: 'Tick' }, 11_050);
    assert.equal(h.worker(a).condition, 'quarantined');
    for (const at of [11_250, 11_500, 11_750, 12_000]) {
      h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 880, lastFinishedAgoMs: at - 11_000, answeredRecent: 500, slowestRecentMs: 20 }) }, at);
      h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(at - 10_000) }, at);
    }
    const effects = h.send({ type: 'Tick' }, 12_050);
    assert.equal(h.worker(a).condition, 'stuck', 'recycled at the 2 s floor, not held for want of new traffic');
    assert.match(h.worker(a).suspicion?.evidence ?? '', /kept answering \(130 answers since its oldest unanswered request arrived\)/, 'counted from the peer\'s first heartbeat at or after 10 000');
    assert.equal(logsOf(effects, STUCK).length, 1);
  });

  test('answers a peer gave before the suspect\'s oldest unanswered request arrived are no evidence', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    for (const [at, served] of [[9500, 700], [9750, 880], [10_250, 880], [10_750, 880], [11_000, 880]] as const) {
      h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served, lastFinishedAgoMs: at - 9750, answeredRecent: 500, slowestRecentMs: 20 }) }, at);
    }
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1000) }, 11_000);
    h.send({ type: 'Tick' }, 11_050);
    for (const at of [11_500, 12_000, 12_500]) {
      h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 880, lastFinishedAgoMs: at - 9750, answeredRecent: 500, slowestRecentMs: 20 }) }, at);
      h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(at - 10_000) }, at);
    }
    h.send({ type: 'Tick' }, 12_550);
    assert.notEqual(h.worker(a).condition, 'stuck', 'the peer answered nothing after 10 000: not recycled');
  });

  test('recycle when its --request-timeout 504s pile up while quarantined', () => {
    const { h, a } = quarantinedPair();
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1500, { timedOut: 2 }) }, 11_500);
    h.send({ type: 'Tick' }, 11_550);
    assert.equal(h.worker(a).condition, 'unhealthy');
    assert.match(h.worker(a).reason ?? '', /its last 2 requests all timed out/);
  });

  test('no recycle without evidence: silent a minute, the peer answered nothing since; one log line says how to let warden decide', () => {
    const { h, a, b } = quarantinedPair();
    const effects = [];
    for (let t = 11_250; t <= 71_000; t += 250) {
      effects.push(...h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: t - 10_995, answeredRecent: 500 }) }, t));
      effects.push(...h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(t - 10_000) }, t));
      effects.push(...h.send({ type: 'Tick' }, t + 10));
    }
    assert.equal(h.worker(a).condition, 'quarantined');
    assert.equal(h.worker(a).retiring, false);
    const hints = logsOf(effects, SUSPECT);
    assert.equal(hints.length, 1, 'one line, not one per tick');
    assert.match(hints[0]?.msg ?? '', /--probe-path/);
  });

  test('--workers 1: never quarantined (it is the last in rotation) nor recycled without evidence; one line says so', () => {
    const h = new Harness({ workers: 1 });
    const [a] = h.boot() as [number];
    const effects = [];
    for (let t = 250; t <= 60_000; t += 250) {
      effects.push(...h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(Math.max(0, t - 100)) }, t));
      effects.push(...h.send({ type: 'Tick' }, t + 10));
    }
    assert.equal(h.worker(a).condition, 'ok');
    assert.equal(isInRotation(h.state, h.worker(a)), true);
    assert.notEqual(h.worker(a).suspicion, undefined, 'the suspicion is kept for /workers');
    assert.equal(logsOf(effects, QUARANTINED).length, 0);
    assert.equal(logsOf(effects, SUSPECT).length, 2, 'suspect, then the one line asking for --probe-path');
  });

  test('never the last in rotation: with its peer late, a silent worker stays in rotation; quarantined once the peer is back', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    h.tickUntil(1500, [b]);
    assert.equal(h.worker(b).condition, 'late');
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1200) }, 1500);
    h.send({ type: 'Tick' }, 1550);
    assert.equal(h.worker(a).condition, 'ok', 'the only worker in rotation');
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 10, lastFinishedAgoMs: 5 }) }, 1600);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1300) }, 1600);
    h.send({ type: 'Tick' }, 1650);
    assert.equal(h.worker(a).condition, 'quarantined');
  });

  test('two silent workers of two: only one leaves rotation', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(2000, { unansweredCount: 12 }) }, 5000);
    h.send({ type: 'HeartbeatReceived', id: b, stats: silentA(2000, { unansweredCount: 12 }) }, 5000);
    h.send({ type: 'Tick' }, 5050);
    const inRotation = [a, b].filter((id) => isInRotation(h.state, h.worker(id)));
    assert.equal(inRotation.length >= 1, true);
  });

  test('--stuck-after 0 disables the rule: no quarantine', () => {
    const { h, a } = quarantinedPair({ stuckAfterMs: 0 });
    assert.equal(h.worker(a).condition, 'ok');
  });
});

const COMPARED = LOG_EVENTS.workerCompared;
const ANSWERED = { isAnswered: true, status: 200 } as const;
const NO_ANSWER = { isAnswered: false, isTimedOut: true, reason: 'no answer within 1000ms' } as const;

describe('the comparison probe (--compare-probe)', () => {
  const compared = (config: Partial<typeof CONFIG> = {}) => quarantinedPair({ compareProbeEnabled: true, ...config });

  test('a quarantined worker and its peer get the same GET at once, each bounded by the 1 s floor', () => {
    const { h, a, b, effects } = compared();
    assert.equal(h.worker(a).condition, 'quarantined');
    assert.deepEqual(of(effects, 'CompareProbe'), [{ type: 'CompareProbe', id: a, peerId: b, timeoutMs: 1000 }]);
    assert.deepEqual(of(h.tickUntil(11_900), 'CompareProbe'), [], 'one under way at a time');
  });

  test('the peer answers and it does not, nor anything else meanwhile: recycled on that evidence', () => {
    const { h, a, b } = compared();
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1900) }, 11_900);
    const effects = h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: { isAnswered: true, status: 404 } }, 12_060);
    assert.equal(h.worker(a).condition, 'stuck', 'any status is an answer (404 here)');
    assert.equal(h.worker(a).state, 'draining');
    assert.match(h.worker(a).suspicion?.evidence ?? '', /did not answer the same probe a peer answered \(404\) within 1\.0s/);
    assert.equal(logsOf(effects, COMPARED).length, 1);
    assert.equal(logsOf(effects, STUCK).length, 1);
    assert.deepEqual(of(effects, 'ReportRequests').map((report) => report.id), [a], 'the incident lists its requests');
  });

  test('neither answers within the bound: slow for everyone, released, nobody recycled', () => {
    const { h, a, b } = compared();
    const effects = h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: NO_ANSWER }, 12_060);
    assert.equal(h.worker(a).condition, 'ok');
    assert.equal(isInRotation(h.state, h.worker(a)), true);
    assert.match(logsOf(effects, RELEASED)[0]?.fields.reason as string, /slow for everyone/);
    assert.equal(logsOf(effects, STUCK).length, 0);
  });

  test('it answers its probe: its loop and routes work; still quarantined under the other rules, and not probed again in a loop', () => {
    const { h, a, b } = compared();
    const effects = h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: ANSWERED, peer: ANSWERED }, 11_100);
    assert.equal(h.worker(a).condition, 'quarantined');
    assert.match(logsOf(effects, COMPARED)[0]?.msg ?? '', /answered its probe \(200\)/);
    const later = [];
    for (let t = 11_250; t < 21_000; t += 250) {
      later.push(...h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: t - 10_995, answeredRecent: 500 }) }, t));
      later.push(...h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(t - 10_000) }, t));
      later.push(...h.send({ type: 'Tick' }, t + 10));
    }
    assert.equal(of(later, 'CompareProbe').length, 0, 'backoff: no second comparison within 10 s');
    const next = [];
    for (let t = 21_250; t < 22_000; t += 250) {
      next.push(...h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(t - 10_000) }, t));
      next.push(...h.send({ type: 'Tick' }, t + 10));
    }
    assert.equal(of(next, 'CompareProbe').length, 1, 'the next one once the backoff is over');
  });

  test('it answered other requests while its probe went unanswered: no evidence, kept', () => {
    const { h, a, b } = compared();
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1500, { served: 402 }) }, 11_500);
    h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: ANSWERED }, 12_060);
    assert.notEqual(h.worker(a).condition, 'stuck');
  });

  test('a side that fails for another reason (reset, worker gone) is no evidence: kept', () => {
    const { h, a, b } = compared();
    h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: { isAnswered: false, isTimedOut: false, reason: 'socket hang up' } }, 12_060);
    assert.equal(h.worker(a).condition, 'quarantined');
  });

  test('an answer that comes back after its quarantine ended is dropped', () => {
    const { h, a, b } = compared();
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(100) }, 11_250);
    h.send({ type: 'Tick' }, 11_300);
    assert.equal(h.worker(a).condition, 'ok', 'released: it answered');
    const effects = h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: ANSWERED }, 12_060);
    assert.equal(h.worker(a).condition, 'ok');
    assert.equal(logsOf(effects, STUCK).length, 0);
  });

  test('after a comparison that recycled nobody the next waits 10 s, across quarantines', () => {
    const { h, a, b } = compared();
    h.send({ type: 'ComparisonProbed', id: a, peerId: b, suspect: NO_ANSWER, peer: NO_ANSWER }, 12_060);
    assert.equal(h.worker(a).comparison?.nextAt, 22_060);
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 950, lastFinishedAgoMs: 5, answeredRecent: 550 }) }, 12_250);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(2250) }, 12_250);
    const again = h.send({ type: 'Tick' }, 12_300);
    assert.equal(h.worker(a).condition, 'quarantined', 'quarantined again at once');
    assert.equal(of(again, 'CompareProbe').length, 0, 'but within the backoff: not compared');
    h.send({ type: 'Tick' }, 12_350);
    assert.equal(h.worker(a).condition, 'stuck', 'the peers\' answers decide meanwhile');
  });

  test('the bound follows the fleet\'s pace: twice its slowest recent answer', () => {
    const h = new Harness({ compareProbeEnabled: true });
    const [a, b] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: 5, answeredRecent: 500, slowestRecentMs: 3000 }) }, 16_000);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(6000, { slowestRecentMs: 3000 }) }, 16_000);
    const effects = h.send({ type: 'Tick' }, 16_050);
    assert.equal(h.worker(a).condition, 'quarantined');
    assert.deepEqual(of(effects, 'CompareProbe').map((probe) => probe.timeoutMs), [6000]);
  });

  test('a worker that has answered nothing since it started is not compared (slow at first by design)', () => {
    const h = new Harness({ compareProbeEnabled: true });
    const [a, b] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ served: 900, lastFinishedAgoMs: 5, answeredRecent: 500, slowestRecentMs: 20 }) }, 11_000);
    h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(1000, { served: 0, lastFinishedAgoMs: -1, answeredRecent: 0, slowestRecentMs: 0 }) }, 11_000);
    const effects = h.send({ type: 'Tick' }, 11_050);
    assert.equal(h.worker(a).condition, 'quarantined');
    assert.equal(of(effects, 'CompareProbe').length, 0);
  });

  test('--workers 1: no peer, no comparison', () => {
    const h = new Harness({ workers: 1, compareProbeEnabled: true });
    const [a] = h.boot() as [number];
    const effects = [];
    for (let t = 250; t <= 20_000; t += 250) {
      effects.push(...h.send({ type: 'HeartbeatReceived', id: a, stats: silentA(Math.max(0, t - 100)) }, t));
      effects.push(...h.send({ type: 'Tick' }, t + 10));
    }
    assert.equal(of(effects, 'CompareProbe').length, 0);
    assert.equal(h.worker(a).condition, 'ok');
  });

  test('--compare-probe off: never sent', () => {
    const { effects } = compared({ compareProbeEnabled: false });
    assert.equal(of(effects, 'CompareProbe').length, 0);
  });
});

/** A traffic model run for `ms`; returns the times (ms) of quarantines, releases and recycles. */
function outcome(traffic: Traffic) {
  return { quarantined: traffic.at(QUARANTINED), released: traffic.at(RELEASED), recycled: traffic.at(STUCK).length + traffic.at(LOG_EVENTS.workerUnhealthy).length };
}

describe('healthy traffic shapes: never recycled', () => {
  test('long polls only: 12 clients holding 30 s polls, new connection per poll, all on one worker', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(12, { duration: () => 30_000 }, 1000);
    traffic.run(95_000);
    assert.equal(outcome(traffic).recycled, 0);
    assert.ok(traffic.requests.filter((r) => r.answerAt <= 95_000).length >= 24, 'the polls were answered');
    assert.ok(traffic.at(SUSPECT).length <= traffic.at(QUARANTINED).length, 'at most one line per quarantine asks for --probe-path');
  });

  test('long polls only, GET / itself a 30 s long poll: the comparison hangs on both sides, nobody recycled', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.probeMs = () => 30_000;
    traffic.addClients(12, { duration: () => 30_000 }, 1000);
    traffic.run(95_000);
    assert.equal(outcome(traffic).recycled, 0);
  });

  test('SSE only: headers sent at once, the streams stay open', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(12, { duration: () => 5 }, 1000);
    traffic.run(40_000);
    assert.deepEqual(outcome(traffic), { quarantined: [], released: [], recycled: 0 });
  });

  for (const [name, route] of [['spread', spread], ['concentrated', concentrate(() => 1)]] as const) {
    test(`every request 2 to 5 s, 12 closed-loop clients (${name})`, () => {
      const traffic = new Traffic({}, route);
      traffic.addClients(12, { duration: (at, n) => 2000 + ((at * 7 + n * 1931) % 3001) }, 1000);
      traffic.run(60_000);
      assert.equal(outcome(traffic).recycled, 0);
    });
  }

  test('1 in 50 requests 8 s, 10 a second', () => {
    const traffic = new Traffic();
    for (let at = 1000, n = 0; at < 60_000; at += 100, n++) traffic.send(at, n % 50 === 49 ? 8000 : 10);
    // Requests are placed up front (open loop): with spread routing, each worker gets every other one.
    traffic.run(60_000);
    assert.equal(outcome(traffic).recycled, 0);
  });

  test('slow (3 s) for the first 10 s after boot, then fast', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(12, { duration: (at) => (at < 10_000 ? 3000 : 10) }, 300);
    traffic.run(40_000);
    assert.equal(outcome(traffic).recycled, 0);
  });

  test('100 ms of CPU per request, 15 a second on two workers', () => {
    const traffic = new Traffic();
    traffic.cpuMs = 100;
    for (let at = 1000; at < 40_000; at += 66) traffic.send(at, 100);
    traffic.run(40_000);
    assert.equal(outcome(traffic).recycled, 0);
  });

  test('a dependency that slows every worker at once (10 ms, then 6 s for 20 s)', () => {
    const traffic = new Traffic();
    traffic.addClients(16, { duration: (at) => (at >= 20_000 && at < 40_000 ? 6000 : 10), thinkMs: 50 }, 1000);
    traffic.run(60_000);
    assert.equal(outcome(traffic).recycled, 0);
  });

  test('all traffic pinned to one worker (keep-alive)', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(4, { keepAlive: true, duration: () => 10, thinkMs: 20 }, 1000);
    traffic.run(40_000);
    assert.deepEqual(outcome(traffic), { quarantined: [], released: [], recycled: 0 });
  });
});

describe('a poisoned worker is caught', () => {
  const poisonAt = 10_000;

  test('under steady load: out of rotation within 2 s, recycled within 3 s', () => {
    const traffic = new Traffic();
    traffic.addClients(8, { duration: () => 10, timeoutMs: 2000 }, 500);
    traffic.run(poisonAt);
    traffic.poison(1, poisonAt);
    traffic.run(20_000);
    const [quarantinedAt] = traffic.at(QUARANTINED, 1);
    assert.ok(quarantinedAt !== undefined && quarantinedAt - poisonAt <= 2000, `quarantined at +${(quarantinedAt ?? NaN) - poisonAt} ms`);
    const [recycledAt] = traffic.at(STUCK, 1);
    assert.ok(recycledAt !== undefined && recycledAt - poisonAt <= 3000, `recycled at +${(recycledAt ?? NaN) - poisonAt} ms`);
    assert.equal(traffic.at(STUCK).length, 1, 'only the poisoned worker');
  });

  test('poisoned soon after it started (it answered only a handful)', () => {
    const traffic = new Traffic();
    traffic.addClients(8, { duration: () => 10, timeoutMs: 2000 }, 200);
    traffic.run(400);
    traffic.poison(1, 400);
    traffic.run(8000);
    assert.equal(traffic.at(STUCK, 1).length, 1);
    assert.ok((traffic.at(STUCK, 1)[0] as number) - 400 <= 3000);
  });

  test('keep-alive clients pinned to the poisoned worker, reconnecting when they give up', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(6, { keepAlive: true, duration: () => 10, timeoutMs: 2000, thinkMs: 20 }, 500);
    traffic.run(poisonAt);
    traffic.poison(1, poisonAt);
    traffic.run(20_000);
    assert.ok((traffic.at(QUARANTINED, 1)[0] ?? Infinity) - poisonAt <= 2000);
    assert.equal(traffic.at(STUCK, 1).length, 1);
  });

  test('keep-alive clients all pinned to the poisoned worker, nothing else arriving: the comparison is the evidence, recycled within 3 s', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.addClients(4, { keepAlive: true, duration: () => 10, timeoutMs: 5000, thinkMs: 20 }, 500);
    traffic.run(poisonAt);
    traffic.poison(1, poisonAt);
    traffic.run(20_000);
    const [recycledAt] = traffic.at(STUCK, 1);
    assert.ok(recycledAt !== undefined && recycledAt - poisonAt <= 3000, `recycled at +${(recycledAt ?? NaN) - poisonAt} ms`);
    assert.equal(traffic.at(LOG_EVENTS.workerCompared, 1).length, 1, 'one comparison');
    assert.equal(traffic.at(STUCK).length, 1, 'only the poisoned worker');
  });

  test('the same without --compare-probe: nothing to compare with until the clients give up (5 s)', () => {
    const traffic = new Traffic({ compareProbeEnabled: false }, concentrate(() => 1));
    traffic.addClients(4, { keepAlive: true, duration: () => 10, timeoutMs: 5000, thinkMs: 20 }, 500);
    traffic.run(poisonAt);
    traffic.poison(1, poisonAt);
    traffic.run(20_000);
    const [recycledAt] = traffic.at(STUCK, 1);
    assert.ok(recycledAt === undefined || recycledAt - poisonAt > 5000, `recycled at +${(recycledAt ?? NaN) - poisonAt} ms`);
  });

  test('a burst of 8 after earlier traffic, then silence: the comparison recycles it within 3 s, not at --stuck-after', () => {
    const traffic = new Traffic();
    for (let at = 1000; at < 5000; at += 200) traffic.send(at, 10);
    traffic.run(poisonAt - 1000);
    traffic.poison(1, poisonAt - 1000);
    for (let i = 0; i < 8; i++) traffic.send(poisonAt + i * 10, 10, i < 5 ? 1 : 2);
    traffic.run(30_000);
    const [recycledAt] = traffic.at(STUCK, 1);
    assert.ok(recycledAt !== undefined && recycledAt - poisonAt <= 3000, `recycled at +${(recycledAt ?? NaN) - poisonAt} ms`);
  });

  test('a burst of 8, then silence: out of rotation within 3 s of the first request it leaves unanswered, recycled at --stuck-after on the peer\'s answers to the same burst', () => {
    const traffic = new Traffic();
    traffic.run(poisonAt - 1000);
    traffic.poison(1, poisonAt - 1000);
    for (let i = 0; i < 8; i++) traffic.send(poisonAt + i * 10, 10, i < 5 ? 1 : 2);
    traffic.run(60_000);
    assert.ok((traffic.at(QUARANTINED, 1)[0] ?? Infinity) - poisonAt <= 3000);
    // The peer answered its 3 requests of the burst after the poisoned worker's first one arrived:
    // evidence, though no traffic came after the quarantine.
    const stuck = traffic.at(STUCK, 1);
    assert.equal(stuck.length, 1, 'recycled once');
    // Recycled at --stuck-after, not at the 2 s floor: the pace of so few answers is not trusted.
    assert.ok((stuck[0] as number) - poisonAt <= CONFIG.stuckAfterMs + 500, `recycled ${(stuck[0] as number) - poisonAt} ms after the burst`);
    assert.equal(traffic.at(SUSPECT, 1).length, 0, 'no "no evidence" line: the evidence was in');
  });

  test('one request a second, the idle poisoned worker winning the accepts', () => {
    const traffic = new Traffic({}, concentrate(() => 1));
    traffic.run(poisonAt);
    traffic.poison(1, poisonAt);
    for (let at = poisonAt; at < 30_000; at += 1000) traffic.send(at, 10);
    traffic.run(30_000);
    assert.ok((traffic.at(QUARANTINED, 1)[0] ?? Infinity) - poisonAt <= 3000, `quarantined at ${traffic.at(QUARANTINED, 1)}`);
    assert.equal(traffic.at(STUCK, 1).length, 1);
  });
});
