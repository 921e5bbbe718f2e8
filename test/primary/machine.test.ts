// The supervisor's decisions, fed as events with explicit times: no processes, timers or mocks.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { EXIT_CODES } from '../../src/errors.js';
import { isInRotation, type Effect } from '../../src/primary/machine/index.js';
import { DEFAULT_BACKOFF } from '../../src/primary/machine/policy.js';
import { CONFIG, Harness, of, stats } from './machine-harness.js';


describe('starting', () => {
  test('the first tick spawns one worker per slot, numbered 1..N', () => {
    const h = new Harness({ workers: 3 });
    const spawns = of(h.send({ type: 'Tick' }), 'Spawn');
    assert.deepEqual(spawns.map((s) => s.slot), [1, 2, 3]);
    assert.equal(new Set(spawns.map((s) => s.id)).size, 3, 'each worker gets its own id');
  });

  test('a worker is in rotation only once ready', () => {
    const h = new Harness({ workers: 1 });
    const [id] = h.spawnAll(h.send({ type: 'Tick' }));
    assert.equal(isInRotation(h.state, h.worker(id as number)), false, 'booting is not in rotation');
    h.send({ type: 'WorkerReady', id: id as number }, 100);
    assert.equal(isInRotation(h.state, h.worker(id as number)), true);
  });

  test('a boot error before any worker was ever ready halts with the boot exit code and the app error', () => {
    const h = new Harness();
    const [id] = h.spawnAll(h.send({ type: 'Tick' }));
    h.send({ type: 'WorkerBootFailed', id: id as number, error: { name: 'WardenError', message: 'cannot load app "app.js": SyntaxError', code: 'WARDEN_APP_LOAD' } }, 50);
    const effects = h.send({ type: 'WorkerExited', id: id as number, code: 1, signal: null }, 60);
    assert.equal(h.state.phase, 'halting');
    assert.equal(h.state.halt?.code, EXIT_CODES.boot);
    assert.match(h.state.halt?.message ?? '', /cannot load app "app.js"/);
    assert.equal(of(effects, 'Spawn').length, 0, 'no endless restart loop');
    assert.equal(of(effects, 'Signal').length, 1, 'the other booting worker is told to stop');
  });

  test('an error the app raises while starting halts with the app named, and a port clash gets its own hint', () => {
    const h = new Harness();
    const [id] = h.spawnAll(h.send({ type: 'Tick' }));
    h.send({ type: 'WorkerBootFailed', id: id as number, error: { name: 'Error', message: 'listen EADDRINUSE: address already in use :::3000', code: 'EADDRINUSE' } }, 50);
    h.send({ type: 'WorkerExited', id: id as number, code: 1, signal: null }, 60);
    assert.equal(h.state.halt?.message, 'cannot start app "app.js": Error: listen EADDRINUSE: address already in use :::3000');
    assert.match(h.state.halt?.hint ?? '', /listen on process\.env\.PORT/);
  });

  test('a worker that never becomes ready is killed at the boot timeout and warden halts', () => {
    const h = new Harness({ workers: 1, bootTimeoutMs: 3000 });
    const [id] = h.spawnAll(h.send({ type: 'Tick' }));
    const effects = h.tickUntil(3000, [id as number]);
    assert.deepEqual(of(effects, 'Signal').map((s) => s.signal), ['SIGKILL']);
    assert.equal(h.state.halt?.code, EXIT_CODES.boot);
    assert.match(h.state.halt?.message ?? '', /did not become ready within 3\.0s/);
    const exit = h.send({ type: 'WorkerExited', id: id as number, code: null, signal: 'SIGKILL' }, 3100);
    assert.deepEqual(of(exit, 'Exit').map((e) => e.code), [EXIT_CODES.boot]);
  });
});

describe('restarts', () => {
  test('a crashed worker is replaced in its slot after a backoff that doubles', () => {
    const h = new Harness({ workers: 1 });
    let [id] = h.boot();
    h.tickUntil(20_000);
    const delays: number[] = [];
    for (let crash = 0; crash < 3; crash++) {
      const crashedAt = h.now + 10;
      h.send({ type: 'WorkerExited', id: id as number, code: 1, signal: null }, crashedAt);
      assert.equal(h.state.workers.length, 0);
      let spawnedAt = -1;
      for (let t = crashedAt + 10; spawnedAt < 0 && t < crashedAt + 20_000; t += 10) {
        // No heartbeats needed: nothing is ready while the slot waits out its backoff.
        const spawns = of(h.send({ type: 'Tick' }, t), 'Spawn');
        if (spawns.length > 0) {
          spawnedAt = t;
          assert.equal(spawns[0]?.slot, 1, 'same slot');
          [id] = h.spawnAll(spawns);
          h.send({ type: 'WorkerReady', id: id as number }, t + 5);
        }
      }
      delays.push(spawnedAt - crashedAt);
    }
    assert.deepEqual(delays, [100, 200, 400]);
    assert.equal(h.state.slots[0]?.spawns, 4);
  });

  test('the failure count resets once a worker has been ready for a while', () => {
    const h = new Harness({ workers: 1 });
    let [id] = h.boot();
    h.send({ type: 'WorkerExited', id: id as number, code: 1, signal: null }, 100);
    [id] = h.spawnAll(h.tickUntil(300));
    h.send({ type: 'WorkerReady', id: id as number }, 300);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 1);
    h.tickUntil(300 + DEFAULT_BACKOFF.resetAfterMs);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 0);
  });

  test('a worker that keeps crashing after having served makes warden give up with the crash-loop code', () => {
    const h = new Harness({ workers: 1, maxRestarts: 2 });
    let [id] = h.boot();
    let exit: Effect[] = [];
    for (let round = 0; round < 3 && h.state.phase === 'running'; round++) {
      exit = h.send({ type: 'WorkerExited', id: id as number, code: 1, signal: null }, h.now + 10);
      if (h.state.phase !== 'running') break;
      [id] = h.spawnAll(h.tickUntil(h.now + 1000));
      h.send({ type: 'WorkerReady', id: id as number }, h.now + 5);
    }
    assert.equal(h.state.halt?.code, EXIT_CODES.crashLoop);
    assert.match(h.state.halt?.message ?? '', /failed 3 times in a row/);
    assert.deepEqual(of(exit, 'Exit').map((e) => e.code), [EXIT_CODES.crashLoop], 'exits once no worker is left');
  });

  test('an exit by SIGKILL that warden did not send is explained as a possible OOM kill', () => {
    const h = new Harness({ workers: 1 });
    const [id] = h.boot();
    const effects = h.send({ type: 'WorkerExited', id: id as number, code: null, signal: 'SIGKILL' }, 500);
    assert.ok(of(effects, 'Log').some((log) => /perhaps out of memory/.test(log.msg)));
  });
});

describe('liveness', () => {
  test('a worker that misses its heartbeats leaves rotation first, then is killed at the timeout and replaced', () => {
    const h = new Harness();
    const [frozen, healthy] = h.boot() as [number, number];
    for (let t = 250; t <= 1000; t += 250) {
      h.send({ type: 'HeartbeatReceived', id: frozen, stats: stats() }, t);
      h.send({ type: 'HeartbeatReceived', id: healthy, stats: stats() }, t);
    }
    // From t=1000 the frozen worker is silent; the healthy one keeps beating.
    let leftRotationAt = -1;
    let killedAt = -1;
    let replacementAt = -1;
    for (let t = 1050; t <= 8000; t += 50) {
      if (t % 250 === 0) h.send({ type: 'HeartbeatReceived', id: healthy, stats: stats() }, t);
      const effects = h.send({ type: 'Tick' }, t);
      const worker = h.state.workers.find((w) => w.id === frozen);
      if (leftRotationAt < 0 && worker && !isInRotation(h.state, worker)) leftRotationAt = t;
      if (of(effects, 'Signal').some((s) => s.id === frozen && s.signal === 'SIGKILL')) killedAt = t;
      if (replacementAt < 0 && of(effects, 'Spawn').some((s) => s.slot === 1)) replacementAt = t;
    }
    assert.equal(leftRotationAt, 2000, 'out of rotation after 1 s of silence');
    assert.equal(killedAt, 6000, 'killed at the 5 s timeout');
    assert.ok(replacementAt >= 6000 && replacementAt <= 6200, `replacement spawned right after the kill (at ${replacementAt})`);
    assert.equal(isInRotation(h.state, h.worker(healthy)), true, 'the healthy worker is untouched');
    assert.equal(h.state.slots[0]?.replacements.stalled, 1, 'counted per reason');
    assert.equal(h.state.slots[1]?.replacements.stalled, 0);
  });

  test('a late worker whose heartbeats resume goes back into rotation', () => {
    const h = new Harness();
    const [id] = h.boot() as [number, number];
    h.tickUntil(1500, [id]);
    assert.equal(h.worker(id).condition, 'late');
    h.send({ type: 'HeartbeatReceived', id, stats: stats() }, 1600);
    assert.equal(isInRotation(h.state, h.worker(id)), true);
  });

  test('an idle worker that announced a later beat is late only that much later; the stall rule does not move', () => {
    const h = new Harness();
    const [id] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id, stats: stats({ nextBeatDelayedMs: 750 }) }, 250);
    h.tickUntil(1950, [id]);
    assert.equal(h.worker(id).condition, 'ok', 'in rotation 1.7 s after a beat that announced the next one 750 ms late');
    h.tickUntil(2050, [id]);
    assert.equal(h.worker(id).condition, 'late', 'late 1 s + 750 ms after that beat');
    const later = h.tickUntil(5300, [id]);
    assert.ok(of(later, 'Signal').some((s) => s.id === id && s.signal === 'SIGKILL'), 'killed at the 5 s timeout after its last beat');
  });
});

describe('request progress', () => {
  test('a worker holding long polls the fleet is known to take (30 s) is not stuck after 12 s, though its peer answers', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id: a, stats: stats({ waiting: 3, oldestWaitingMs: 25_000, lastFinishedAgoMs: 12_000, unansweredCount: 3, unansweredForMs: 12_000, slowestRecentMs: 30_000 }) }, 40_000);
    h.send({ type: 'HeartbeatReceived', id: b, stats: stats({ waiting: 3, oldestWaitingMs: 20_000, lastFinishedAgoMs: 500, slowestRecentMs: 30_000 }) }, 40_000);
    h.send({ type: 'Tick' }, 40_050);
    assert.equal(h.worker(a).condition, 'ok');
    assert.equal(h.worker(b).condition, 'ok');
  });

  test('a worker whose last requests all hit --request-timeout is recycled', () => {
    const h = new Harness();
    const [id] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id, stats: stats({ timedOut: 5, consecutiveTimeouts: 5 }) }, 1000);
    h.send({ type: 'Tick' }, 1050);
    assert.equal(h.worker(id).condition, 'unhealthy');
    assert.match(h.worker(id).reason ?? '', /timed out/);
  });

  test('three failed probes in a row recycle only that worker', () => {
    const h = new Harness();
    const [bad, good] = h.boot() as [number, number];
    for (let i = 1; i <= 3; i++) {
      h.send({ type: 'ProbeFailed', id: bad, reason: 'answered 500' }, i * 1000);
      h.send({ type: 'ProbeSucceeded', id: good }, i * 1000);
    }
    assert.equal(h.worker(bad).condition, 'unhealthy');
    assert.equal(h.worker(good).condition, 'ok');
  });

  test('a probe that succeeds in between resets the count: failures must be in a row', () => {
    const h = new Harness();
    const [flaky] = h.boot() as [number, number];
    const fail = (at: number) => h.send({ type: 'ProbeFailed', id: flaky, reason: 'answered 500' }, at);
    fail(1000);
    fail(2000);
    h.send({ type: 'ProbeSucceeded', id: flaky }, 3000);
    fail(4000);
    fail(5000);
    assert.equal(h.worker(flaky).condition, 'ok', '2 failures, a success, 2 failures: never 3 in a row');
    fail(6000);
    assert.equal(h.worker(flaky).condition, 'unhealthy', 'the third in a row recycles it');
  });
});

describe('stopping', () => {
  test('SIGTERM closes the listener, drains every worker and exits 0 once all have exited', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    const effects = h.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 1000);
    assert.equal(of(effects, 'CloseListener').length, 1);
    assert.deepEqual(of(effects, 'Drain').map((d) => d.id).sort(), [a, b].sort());
    h.send({ type: 'WorkerExited', id: a, code: 0, signal: null }, 1200);
    assert.equal(of(h.tickUntil(1500), 'Spawn').length, 0, 'no restarts while stopping');
    const exit = h.send({ type: 'WorkerExited', id: b, code: 0, signal: null }, 1600);
    assert.deepEqual(of(exit, 'Exit').map((e) => e.code), [0]);
  });

  test('a worker that exits on its own (code 130) while being drained makes the stop unclean: exit 5, logged as a warning', () => {
    const h = new Harness();
    const [a, b] = h.boot() as [number, number];
    h.send({ type: 'SignalReceived', signal: 'SIGINT' }, 1000);
    h.send({ type: 'WorkerExited', id: a, code: 0, signal: null }, 1200);
    const exit = h.send({ type: 'WorkerExited', id: b, code: 130, signal: null }, 1300);
    assert.deepEqual(of(exit, 'Exit').map((e) => e.code), [EXIT_CODES.uncleanStop]);
    const warned = of(h.effects, 'Log').filter((line) => line.level === 'warn' && line.msg.includes('on its own while warden was draining it'));
    assert.equal(warned.length, 1, 'one warning names the worker');
  });

  test('a booting worker that warden itself sends SIGTERM at the stop, and that dies of it, leaves the stop clean: exit 0', () => {
    const h = new Harness({ workers: 1 });
    const [id] = h.spawnAll(h.send({ type: 'Tick' })) as [number];
    const effects = h.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 1000);
    assert.deepEqual(of(effects, 'Signal').map((s) => [s.id, s.signal]), [[id, 'SIGTERM']], 'a booting worker is sent SIGTERM, not drained');
    const exit = h.send({ type: 'WorkerExited', id, code: null, signal: 'SIGTERM' }, 1100);
    assert.deepEqual(of(exit, 'Exit').map((e) => e.code), [0]);
  });

  test('workers still busy at the graceful timeout are killed, not before', () => {
    const h = new Harness({ gracefulTimeoutMs: 2000 });
    const [a] = h.boot() as [number, number];
    h.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 1000);
    assert.deepEqual(of(h.tickUntil(2950), 'Signal'), [], 'no kill while the graceful timeout runs');
    const kills = of(h.tickUntil(3000), 'Signal');
    assert.ok(kills.some((k) => k.id === a && k.signal === 'SIGKILL'), 'killed at SIGTERM + --graceful-timeout');
  });

  test('a second SIGINT forces: every worker is killed and warden exits at once', () => {
    const h = new Harness();
    h.boot();
    h.send({ type: 'SignalReceived', signal: 'SIGINT' }, 1000);
    const effects = h.send({ type: 'SignalReceived', signal: 'SIGINT' }, 1100);
    assert.equal(of(effects, 'Signal').filter((s) => s.signal === 'SIGKILL').length, 2);
    assert.deepEqual(of(effects, 'Exit').map((e) => e.code), [EXIT_CODES.forced]);
  });
});

describe('an operator SIGTERM to one worker', () => {
  test('is upkeep: the replacement starts first, the worker drains once it is ready, no failure is counted, nothing logs an error', () => {
    const h = new Harness();
    const [a] = h.boot() as [number, number];
    const effects = h.send({ type: 'WorkerSigtermReceived', id: a }, 1000);
    const spawns = of(effects, 'Spawn');
    assert.deepEqual(spawns.map((s) => s.slot), [1], 'a replacement starts at once in the same slot');
    assert.equal(h.worker(a).state, 'ready', 'the signalled worker keeps serving while its replacement boots');
    assert.equal(of(effects, 'Drain').length, 0, 'no drain before the replacement is ready');
    const [replacement] = h.spawnAll(effects);
    const swap = h.send({ type: 'WorkerReady', id: replacement as number }, 1500);
    assert.deepEqual(of(swap, 'Drain').map((d) => d.id), [a], 'drained once its replacement is ready');
    h.send({ type: 'WorkerExited', id: a, code: 0, signal: null }, 1800);
    const slot = h.state.slots.find((candidate) => candidate.slot === 1);
    assert.equal(slot?.consecutiveFailures, 0, 'not a failure');
    assert.equal(slot?.replacements.sigterm, 1, 'counted as a sigterm replacement');
    assert.equal(slot?.replacements.crashed, 0);
    assert.deepEqual(of(h.effects, 'Log').filter((line) => line.level === 'error').map((line) => line.msg), [], 'no error logged');
  });

  test('a second SIGTERM to the same worker starts no second replacement', () => {
    const h = new Harness();
    const [a] = h.boot() as [number, number];
    const first = h.send({ type: 'WorkerSigtermReceived', id: a }, 1000);
    const second = h.send({ type: 'WorkerSigtermReceived', id: a }, 1100);
    assert.equal(of(first, 'Spawn').length, 1);
    assert.equal(of(second, 'Spawn').length, 0);
  });
});

describe('memory', () => {
  test('a worker over --max-memory takes no new connections, lives until its replacement is ready, then drains; not a failure', () => {
    const h = new Harness({ maxMemoryBytes: 100 });
    const [big] = h.boot() as [number, number];
    h.send({ type: 'HeartbeatReceived', id: big, stats: stats({ rssBytes: 101 }) }, 1000);
    const effects = h.send({ type: 'Tick' }, 1050);
    const spawns = of(effects, 'Spawn');
    assert.deepEqual(spawns.map((s) => s.slot), [1], 'the replacement starts at once, in the same slot');
    assert.equal(h.worker(big).state, 'ready', 'the big worker finishes its requests while its replacement boots');
    assert.equal(isInRotation(h.state, h.worker(big)), false, 'but gets no new connections');
    assert.equal(of(effects, 'ReportMemory').length, 0, 'nothing recorded before the swap');
    const [replacement] = h.spawnAll(effects);
    const swap = h.send({ type: 'WorkerReady', id: replacement as number }, 1500);
    assert.equal(h.worker(big).state, 'draining');
    assert.equal(h.worker(big).condition, 'memory');
    assert.deepEqual(of(swap, 'ReportMemory').map((r) => r.id), [big]);
    assert.deepEqual(of(swap, 'Drain').map((d) => d.id), [big]);
    assert.equal(h.state.slots[0]?.consecutiveFailures, 0);
    assert.equal(h.state.slots[0]?.replacements.memory, 1);
  });
});

describe('evidence before the kill', () => {
  test('with --capture-stacks a stalled worker is killed only after its stack is in (or the capture deadline passes)', () => {
    const h = new Harness({ captureStacks: true, captureTimeoutMs: 1500 });
    const [frozen] = h.boot() as [number, number];
    const effects = h.tickUntil(5000, [frozen]);
    const capture = of(effects, 'CaptureStack');
    assert.equal(capture.length, 1, 'one capture is asked for');
    assert.equal(capture[0]?.id, frozen);
    assert.equal(of(effects, 'Signal').filter((s) => s.id === frozen).length, 0, 'no kill yet');
    assert.equal(isInRotation(h.state, h.worker(frozen)), false);
    const done = h.send({ type: 'StackCaptured', id: frozen }, 5200);
    assert.deepEqual(of(done, 'Signal').map((s) => [s.id, s.signal]), [[frozen, 'SIGKILL']]);
  });

  test('a capture that never reports back does not keep the stalled worker alive', () => {
    const h = new Harness({ captureStacks: true, captureTimeoutMs: 1500 });
    const [frozen] = h.boot() as [number, number];
    assert.equal(of(h.tickUntil(5000, [frozen]), 'CaptureStack').length, 1, 'stalled at 5 s, capture asked for');
    assert.deepEqual(of(h.tickUntil(6450, [frozen]), 'Signal').filter((s) => s.id === frozen), [], 'no kill while the capture may still report');
    const later = h.tickUntil(6500, [frozen]);
    assert.ok(of(later, 'Signal').some((s) => s.id === frozen && s.signal === 'SIGKILL'), 'killed at the capture deadline (5 s + 1.5 s)');
  });
});
