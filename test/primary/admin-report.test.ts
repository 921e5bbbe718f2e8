// The primary's health answers (/livez, /readyz) from machine states reached by feeding the machine
// events with explicit times, as supervisor.ts does: no processes, no timers.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { livez, readyz } from '../../src/primary/admin/report.js';
import type { Effect, MachineConfig, MachineEvent } from '../../src/primary/machine/index.js';
import { CONFIG as BASE_CONFIG, Harness, stats } from '../primary/machine-harness.js';

const CONFIG: MachineConfig = { ...BASE_CONFIG, maxRestarts: 10 };

/** The machine harness, with every Spawn carried out at once (a pid reported in the same step). */
class Fleet extends Harness {
  private nextFleetPid = 100;

  constructor(config: Partial<MachineConfig> = {}) {
    super({ ...CONFIG, ...config });
  }

  override send(event: MachineEvent, at = this.now): Effect[] {
    const effects = super.send(event, at);
    for (const effect of effects) {
      if (effect.type === 'Spawn') this.send({ type: 'WorkerSpawned', id: effect.id, pid: this.nextFleetPid++ }, at);
    }
    return effects;
  }

  /** The live worker of `slot`, booting or ready. */
  workerOf(slot: number) {
    const worker = this.state.workers.find((candidate) => candidate.slot === slot && !candidate.retiring);
    assert.ok(worker, `slot ${slot} has a worker`);
    return worker;
  }

  ready(slot: number, at = this.now): void {
    this.send({ type: 'WorkerReady', id: this.workerOf(slot).id }, at);
  }

  /** The worker of `slot` dies; the slot's restart waits out its backoff, then a new worker boots. */
  crash(slot: number): void {
    const worker = this.workerOf(slot);
    this.send({ type: 'WorkerExited', id: worker.id, code: 1, signal: null }, this.now + 10);
    const due = this.state.slots.find((candidate) => candidate.slot === slot)?.nextSpawnAt ?? this.now;
    this.send({ type: 'Tick' }, Math.max(this.now, due));
  }
}

const body = (answer: { body: unknown }) => answer.body as Record<string, unknown>;

describe('/livez', () => {
  test('200 while workers serve, also while one slot is restarting', () => {
    const fleet = new Fleet();
    fleet.send({ type: 'Tick' }, 0);
    fleet.ready(1, 100);
    fleet.ready(2, 100);
    assert.equal(livez(fleet.state).status, 200);
    fleet.crash(1);
    assert.equal(livez(fleet.state).status, 200, 'slot 2 still serves');
  });

  test('503 once every slot is crash-looping, with the reason; 200 again as soon as one worker serves', () => {
    const fleet = new Fleet();
    fleet.send({ type: 'Tick' }, 0);
    fleet.ready(1, 100);
    fleet.ready(2, 100);
    for (let round = 1; round <= 2; round++) {
      fleet.crash(1);
      fleet.crash(2);
      assert.equal(livez(fleet.state).status, 200, `after ${round} failure(s) in a row a slot may still recover`);
    }
    fleet.crash(1);
    assert.equal(livez(fleet.state).status, 200, 'slot 2 has failed only twice in a row');
    fleet.crash(2);
    const answer = livez(fleet.state);
    assert.equal(answer.status, 503, 'both slots failed 3 times in a row and no worker is in rotation');
    assert.deepEqual(body(answer), { live: false, phase: 'running', reason: 'every worker slot is failing repeatedly' });
    fleet.ready(2);
    assert.equal(livez(fleet.state).status, 200, 'a worker in rotation again: live');
  });

  test('503 when warden is giving up (exit 4 on its way), naming why', () => {
    const fleet = new Fleet({ maxRestarts: 0 });
    fleet.send({ type: 'Tick' }, 0);
    fleet.ready(1, 100);
    fleet.ready(2, 100);
    fleet.crash(1);
    assert.equal(fleet.state.phase, 'halting', 'slot 2 is still draining');
    const answer = livez(fleet.state);
    assert.equal(answer.status, 503);
    assert.equal(body(answer).live, false);
    assert.match(String(body(answer).reason), /^worker 1 failed 1 times in a row .*giving up$/);
  });

  test('200 while stopping gracefully: a SIGTERM is not a liveness failure', () => {
    const fleet = new Fleet();
    fleet.send({ type: 'Tick' }, 0);
    fleet.ready(1, 100);
    fleet.ready(2, 100);
    fleet.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 200);
    assert.equal(fleet.state.phase, 'stopping');
    assert.equal(livez(fleet.state).status, 200);
  });
});

describe('/readyz and --min-ready', () => {
  function twoReadyOneLate(): Fleet {
    const fleet = new Fleet();
    fleet.send({ type: 'Tick' }, 0);
    fleet.ready(1, 100);
    fleet.ready(2, 100);
    // Slot 1 beats, slot 2 goes silent past its heartbeat window (1 s): out of rotation.
    fleet.send({ type: 'HeartbeatReceived', id: fleet.workerOf(1).id, stats: stats({ slowestRecentMs: 0 }) }, 1000);
    fleet.send({ type: 'Tick' }, 1200);
    return fleet;
  }

  test('with every worker required, one worker out of rotation makes it 503 and the body names it', () => {
    const fleet = twoReadyOneLate();
    const answer = readyz(fleet.state, 2);
    assert.equal(answer.status, 503);
    const missing = body(answer).missing as { slot: number; pid: number; state: string; reason: string }[];
    assert.deepEqual(missing.map((m) => [m.slot, m.state]), [[2, 'unhealthy']]);
    assert.match(missing[0]?.reason ?? '', /^no heartbeat for 1\.1s$/);
    assert.equal(body(answer).readyWorkers, 1);
  });

  test('--min-ready 1 tolerates it: 200, still listing the missing worker', () => {
    const fleet = twoReadyOneLate();
    const answer = readyz(fleet.state, 1);
    assert.equal(answer.status, 200);
    assert.equal(body(answer).required, 1);
    assert.deepEqual((body(answer).missing as { slot: number }[]).map((m) => m.slot), [2]);
  });

  test('never ready while booting or stopping, whatever --min-ready says', () => {
    const fleet = new Fleet();
    fleet.send({ type: 'Tick' }, 0);
    assert.equal(readyz(fleet.state, 1).status, 503, 'booting');
    fleet.ready(1, 100);
    assert.equal(readyz(fleet.state, 1).status, 200);
    fleet.send({ type: 'SignalReceived', signal: 'SIGTERM' }, 200);
    assert.equal(readyz(fleet.state, 1).status, 503, 'stopping');
  });
});
