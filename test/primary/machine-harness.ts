// Drives the pure state machine the way supervisor.ts does, with injected time and fake pids, keeping
// every effect for assertions. Shared by the machine's unit tests.

import assert from 'node:assert/strict';
import { initialState, step, type Effect, type MachineConfig, type MachineEvent, type MachineState } from '../../src/primary/machine/index.js';
import { DEFAULT_BACKOFF } from '../../src/primary/machine/policy.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';

export const CONFIG: MachineConfig = {
  appLabel: 'app.js',
  workers: 2, bootTimeoutMs: 30_000, timeoutMs: 5000, lateMs: 1000, gracefulTimeoutMs: 30_000, stuckAfterMs: 10_000,
  probeFailures: 3, maxRestarts: 3, backoff: DEFAULT_BACKOFF, killAfterMs: 2000, captureStacks: false, captureTimeoutMs: 1500,
  maxMemoryBytes: 0, heapSnapshotOnRecycle: false, probeEnabled: false, compareProbeEnabled: false, maxRequests: 0, maxRequestsJitter: 0,
};

export class Harness {
  state: MachineState;
  effects: Effect[] = [];
  now = 0;
  private nextPid = 100;
  /** Called after every step: invariants a test wants checked all along. */
  afterStep: ((state: MachineState) => void) | undefined;

  constructor(config: Partial<MachineConfig> = {}) {
    this.state = initialState({ ...CONFIG, ...config }, 0);
  }

  send(event: MachineEvent, at = this.now): Effect[] {
    this.now = at;
    const result = step(this.state, event, at);
    // Frozen, so that a step that changed a record it shares with the previous state throws here.
    this.state = deepFreeze(result.state);
    this.effects.push(...result.effects);
    this.afterStep?.(this.state);
    return result.effects;
  }

  /** Carry out Spawn effects: report a pid for each. */
  spawnAll(effects: Effect[]): number[] {
    const ids: number[] = [];
    for (const effect of effects) {
      if (effect.type !== 'Spawn') continue;
      ids.push(effect.id);
      this.send({ type: 'WorkerSpawned', id: effect.id, pid: this.nextPid++ });
    }
    return ids;
  }

  /** Start every slot and make every worker ready. */
  boot(): number[] {
    const ids = this.spawnAll(this.send({ type: 'Tick' }));
    for (const id of ids) this.send({ type: 'WorkerReady', id });
    return ids;
  }

  worker(id: number) {
    const worker = this.state.workers.find((candidate) => candidate.id === id);
    assert.ok(worker, `worker ${id} exists`);
    return worker;
  }

  /** Tick every 50 ms up to `at`; live workers beat every 250 ms unless listed as silent. */
  tickUntil(at: number, silent: readonly number[] = [], beat: (id: number) => Partial<HeartbeatStats> = () => ({})): Effect[] {
    const collected: Effect[] = [];
    for (let t = this.now + 50; t <= at; t += 50) {
      if (t % 250 === 0) {
        for (const worker of this.state.workers) {
          if ((worker.state === 'ready' || worker.state === 'draining') && !silent.includes(worker.id)) {
            collected.push(...this.send({ type: 'HeartbeatReceived', id: worker.id, stats: stats(beat(worker.id)) }, t));
          }
        }
      }
      collected.push(...this.send({ type: 'Tick' }, t));
    }
    return collected;
  }
}

export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
}

export function stats(overrides: Partial<HeartbeatStats> = {}): HeartbeatStats {
  return {
    loopDelayMs: 1, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 0, lastFinishedAgoMs: -1, unansweredCount: 0, unansweredForMs: 0, slowestRecentMs: 5,
    answeredRecent: 0, loopPausedAgoMs: -1, timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 1, heapUsedBytes: 1, ...overrides,
  };
}

export const of = <T extends Effect['type']>(effects: Effect[], type: T) => effects.filter((effect): effect is Extract<Effect, { type: T }> => effect.type === type);
