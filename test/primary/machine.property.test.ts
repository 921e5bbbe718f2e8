// Property tests (fast-check) of the supervisor state machine: random sequences of the events the
// supervisor feeds it (spawn, ready, heartbeat, exit, crash, boot failure, stall, probe results,
// SIGTERM, time moving), driven through a small simulated world that carries out the effects the
// way supervisor.ts does. After every step the invariants hold; at the end, liveness: every frozen
// worker is killed, and a stopping supervisor exits. Commands are a list of plain objects so that
// reload and scale can be added as two more kinds.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { initialState, isActive, isInRotation, quietUntil, rotationOf, step, stepFully, type Effect, type MachineConfig, type MachineEvent, type MachineState } from '../../src/primary/machine/index.js';
import { autoscalePolicy } from '../../src/primary/machine/autoscale.js';
import { DEFAULT_BACKOFF } from '../../src/primary/machine/policy.js';
import { reloadWidth } from '../../src/primary/machine/rollout.js';
import { deepFreeze } from './machine-harness.js';
import type { HeartbeatStats } from '../../src/protocol/messages.js';

const CONFIG: MachineConfig = {
  appLabel: 'app.js',
  workers: 3, bootTimeoutMs: 5000, timeoutMs: 2000, lateMs: 1000, gracefulTimeoutMs: 3000, stuckAfterMs: 4000,
  probeFailures: 2, maxRestarts: 1000, backoff: DEFAULT_BACKOFF, killAfterMs: 1000, captureStacks: true, captureTimeoutMs: 500,
  maxMemoryBytes: 500 * 1024 * 1024, heapSnapshotOnRecycle: false, probeEnabled: true, compareProbeEnabled: true, maxRequests: 0, maxRequestsJitter: 0,
};

function stats(overrides: Partial<HeartbeatStats> = {}): HeartbeatStats {
  return {
    loopDelayMs: 1, inFlight: 0, oldestWaitingMs: 0, waiting: 0, served: 10, lastFinishedAgoMs: 5, unansweredCount: 0, unansweredForMs: 0, slowestRecentMs: 5, answeredRecent: 10, loopPausedAgoMs: -1,
    timedOut: 0, consecutiveTimeouts: 0, connections: 0, rssBytes: 50 * 1024 * 1024, heapUsedBytes: 1, ...overrides,
  };
}

/** What the test can make happen; `pick` chooses a worker among those alive, modulo their count. */
type Command =
  | { kind: 'advance'; ms: number }
  | { kind: 'ready'; pick: number }
  | { kind: 'exit'; pick: number; code: number | null; signal: string | null }
  | { kind: 'crash'; pick: number }
  | { kind: 'bootFail'; pick: number }
  | { kind: 'freeze'; pick: number }
  | { kind: 'thaw'; pick: number }
  | { kind: 'heavy'; pick: number }
  | { kind: 'silent'; pick: number }
  | { kind: 'probe'; pick: number; ok: boolean }
  | { kind: 'sigterm' }
  | { kind: 'reload'; requestId: number }
  | { kind: 'scale'; workers: number | undefined; delta: number }
  /** The event-loop utilisation every worker reports from now on (the autoscaling rule reads it). */
  | { kind: 'load'; elu: number };

const pick = fc.nat({ max: 20 });
const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3000 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('ready' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick, code: fc.constantFrom(0, 1, null), signal: fc.constantFrom(null, 'SIGKILL', 'SIGSEGV') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bootFail' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('freeze' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('thaw' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('heavy' as const), pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('silent' as const), pick }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('probe' as const), pick, ok: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('sigterm' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reload' as const), requestId: fc.integer({ min: 0, max: 5 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('scale' as const), workers: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }), delta: fc.constantFrom(-1, 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('load' as const), elu: fc.constantFrom(0, 0.1, 0.5, 0.85, 1) }) },
);

/** Processes as supervisor.ts and the OS would treat them: forks succeed, SIGKILL always works. */
class World {
  state: MachineState;
  now = 0;
  exited = false;
  private nextPid = 1000;
  /** Worker ids whose process exists (spawned, not yet reported exited). */
  readonly alive = new Set<number>();
  /** Alive but not beating: SIGSTOP, a busy loop. */
  readonly frozen = new Set<number>();
  /** Over --max-memory in their heartbeats. */
  readonly heavy = new Set<number>();
  /** Beating, but answering none of its requests since the time given. */
  readonly silent = new Map<number, number>();
  readonly killed = new Set<number>();
  private readonly pendingExits: { id: number; code: number | null; signal: string | null }[] = [];
  private readonly pendingEvents: MachineEvent[] = [];
  /** The last few events, formatted only when an assertion fails (formatting every step was most of the run time). */
  private readonly recent: { at: number; event: MachineEvent }[] = [];
  /** When set, every booting worker that is not frozen reports ready at the next tick. */
  autoReady = false;
  /** The ELU in every heartbeat; with --workers MIN..MAX a LoadSampled goes out each second. */
  elu = 0;
  /** The autoscaling rule's logged decisions. */
  readonly autoscaleLog: { change: unknown; to: number }[] = [];

  constructor(readonly config: MachineConfig) {
    this.state = initialState(config, 0);
    this.send({ type: 'Tick' });
  }

  send(event: MachineEvent): void {
    const before = this.state;
    const result = step(this.state, event, this.now);
    // The incremental paths (quiet heartbeats and Ticks, checks only where due) decide exactly as the full pass.
    const full = stepFully(this.state, event, this.now);
    // Compared first, the message (and its event log) built only when they differ.
    const agree = (what: string, incremental: unknown, fully: unknown) => {
      if (!isDeepStrictEqual(incremental, fully)) assert.deepEqual(incremental, fully, `incremental and full pass disagree on ${what} of ${JSON.stringify(event)}\n${this.lastEvents(8)}`);
    };
    agree('the state', result.state, full.state);
    agree('the effects', result.effects, full.effects);
    agree('the rotation (carried over, or computed afresh)', rotationOf(result.state), rotationOf(full.state));
    this.state = deepFreeze(result.state);
    this.recent.push({ at: this.now, event });
    if (this.recent.length > 16) this.recent.shift();
    for (const effect of result.effects) this.perform(effect);
    checkInvariants(before, this.state, result.effects, this.now, () => this.lastEvents(8));
    // Results of effects come back as later events, in order, as the supervisor's queue does.
    while (this.pendingEvents.length > 0) this.send(this.pendingEvents.shift() as MachineEvent);
  }

  lastEvents(count: number): string {
    return this.recent.slice(-count).map(({ at, event }) => `${at} ${JSON.stringify(event)}`).join('\n');
  }

  private perform(effect: Effect): void {
    switch (effect.type) {
      case 'Spawn':
        assert.ok(!this.alive.has(effect.id), `worker id ${effect.id} spawned twice`);
        this.alive.add(effect.id);
        this.pendingEvents.push({ type: 'WorkerSpawned', id: effect.id, pid: this.nextPid++ });
        return;
      case 'Signal':
        if (!this.alive.has(effect.id)) return; // ESRCH: already gone
        if (effect.signal === 'SIGKILL') {
          this.killed.add(effect.id);
          this.queueExit(effect.id, null, 'SIGKILL');
        } else if (!this.frozen.has(effect.id)) {
          this.queueExit(effect.id, 0, null); // a live loop drains and exits
        }
        return;
      case 'Drain':
        if (this.alive.has(effect.id) && !this.frozen.has(effect.id)) this.queueExit(effect.id, 0, null);
        return;
      case 'CaptureStack':
        this.pendingEvents.push({ type: 'StackCaptured', id: effect.id });
        return;
      case 'Exit':
        this.exited = true;
        return;
      case 'Probe':
        if (this.alive.has(effect.id) && !this.frozen.has(effect.id)) this.pendingEvents.push({ type: 'ProbeSucceeded', id: effect.id });
        return;
      case 'CompareProbe': {
        // A live, beating worker that is not silent answers the GET; any other gets no answer in time.
        const answer = (id: number) => this.alive.has(id) && !this.frozen.has(id) && !this.silent.has(id)
          ? { isAnswered: true as const, status: 200 } : { isAnswered: false as const, isTimedOut: true, reason: `no answer within ${effect.timeoutMs}ms` };
        this.pendingEvents.push({ type: 'ComparisonProbed', id: effect.id, peerId: effect.peerId, suspect: answer(effect.id), peer: answer(effect.peerId) });
        return;
      }
      case 'Log':
        if (effect.event === 'warden.autoscaled') this.autoscaleLog.push({ change: effect.fields.change, to: effect.fields.to as number });
        return;
      case 'ReportRequests':
      case 'ReportMemory':
      case 'CloseListener':
      case 'Notify':
        return;
      default: {
        const impossible: never = effect;
        throw new Error(`unknown effect ${JSON.stringify(impossible)}`);
      }
    }
  }

  private queueExit(id: number, code: number | null, signal: string | null): void {
    if (!this.pendingExits.some((exit) => exit.id === id)) this.pendingExits.push({ id, code, signal });
  }

  private deliverExits(): void {
    for (const exit of this.pendingExits.splice(0)) this.processExited(exit.id, exit.code, exit.signal);
  }

  processExited(id: number, code: number | null, signal: string | null): void {
    if (!this.alive.has(id)) return;
    this.alive.delete(id);
    this.frozen.delete(id);
    this.send({ type: 'WorkerExited', id, code, signal });
  }

  /** Move time forward in 50 ms ticks; unfrozen ready or draining workers beat every 250 ms. */
  advance(ms: number): void {
    const until = this.now + ms;
    while (this.now + 50 <= until && !this.exited) {
      this.now += 50;
      this.deliverExits();
      if (this.autoReady) {
        for (const worker of this.state.workers) {
          if (worker.state === 'booting' && this.alive.has(worker.id) && !this.frozen.has(worker.id)) this.send({ type: 'WorkerReady', id: worker.id });
        }
      }
      if (this.now % 250 === 0) {
        for (const worker of this.state.workers) {
          if (!this.alive.has(worker.id) || this.frozen.has(worker.id)) continue;
          if (worker.state !== 'ready' && worker.state !== 'draining') continue;
          const rssBytes = this.heavy.has(worker.id) ? 2 * this.config.maxMemoryBytes : 50 * 1024 * 1024;
          const silentSince = this.silent.get(worker.id);
          const progress = silentSince === undefined ? {} : { unansweredCount: 3, unansweredForMs: this.now - silentSince, inFlight: 3, lastFinishedAgoMs: this.now - silentSince };
          this.send({ type: 'HeartbeatReceived', id: worker.id, stats: stats({ rssBytes, eventLoopUtilization: this.elu, ...progress }) });
        }
      }
      if (this.config.autoscale !== undefined && this.now % 1000 === 0) this.send({ type: 'LoadSampled', acceptQueue: null });
      this.send({ type: 'Tick' });
    }
    this.deliverExits();
  }

  /** The live worker `pick` points at, among those the machine knows. */
  choose(pickIndex: number, filter: (state: string) => boolean = () => true): number | undefined {
    const candidates = this.state.workers.filter((worker) => this.alive.has(worker.id) && filter(worker.state));
    return candidates.length === 0 ? undefined : (candidates[pickIndex % candidates.length] as { id: number }).id;
  }

  run(command: Command): void {
    if (this.exited) return;
    switch (command.kind) {
      case 'advance':
        this.advance(command.ms);
        return;
      case 'ready': {
        const id = this.choose(command.pick, (state) => state === 'booting');
        if (id !== undefined && !this.frozen.has(id)) this.send({ type: 'WorkerReady', id });
        return;
      }
      case 'exit': {
        const id = this.choose(command.pick);
        if (id !== undefined) this.processExited(id, command.signal === null ? command.code : null, command.signal);
        return;
      }
      case 'crash': {
        const id = this.choose(command.pick, (state) => state === 'ready');
        if (id === undefined) return;
        this.send({ type: 'WorkerCrashed', id, error: { name: 'Error', message: 'boom' } });
        this.processExited(id, 1, null);
        return;
      }
      case 'bootFail': {
        const id = this.choose(command.pick, (state) => state === 'booting');
        if (id === undefined) return;
        this.send({ type: 'WorkerBootFailed', id, error: { name: 'Error', message: 'cannot connect to the database' } });
        this.processExited(id, 1, null);
        return;
      }
      case 'freeze': {
        const id = this.choose(command.pick);
        if (id !== undefined) this.frozen.add(id);
        return;
      }
      case 'thaw': {
        const id = this.choose(command.pick);
        if (id !== undefined) this.frozen.delete(id);
        return;
      }
      case 'heavy': {
        const id = this.choose(command.pick, (state) => state === 'ready');
        if (id !== undefined) this.heavy.add(id);
        return;
      }
      case 'silent': {
        const id = this.choose(command.pick, (state) => state === 'ready');
        if (id !== undefined && !this.silent.has(id)) this.silent.set(id, this.now);
        return;
      }
      case 'probe': {
        const id = this.choose(command.pick, (state) => state === 'ready');
        if (id !== undefined) this.send(command.ok ? { type: 'ProbeSucceeded', id } : { type: 'ProbeFailed', id, reason: 'probe answered 500' });
        return;
      }
      case 'sigterm':
        this.send({ type: 'SignalReceived', signal: 'SIGTERM' });
        return;
      case 'reload':
        this.send({ type: 'ReloadRequested', requestId: command.requestId, source: 'test' });
        return;
      case 'load':
        this.elu = command.elu;
        return;
      case 'scale':
        this.send(command.workers === undefined
          ? { type: 'ScaleRequested', requestId: 0, source: 'test', delta: command.delta }
          : { type: 'ScaleRequested', requestId: 0, source: 'test', workers: command.workers });
        return;
      default: {
        const impossible: never = command;
        throw new Error(`unknown command ${JSON.stringify(impossible)}`);
      }
    }
  }
}

/** assert.ok with a message built only on failure: these run after every step of every run. */
/**
 * Moves time on in 1 s steps until no reload runs or waits, within two reloads (the running one and
 * the one queued), each a boot per slot. False when warden stopped meanwhile (nothing left to check).
 */
function runReloadsOut(world: World): boolean {
  const bound = 2 * (world.state.targetWorkers + 1) * (CONFIG.bootTimeoutMs + CONFIG.backoff.maxMs);
  for (let waited = 0; waited < bound && (world.state.reload !== undefined || world.state.reloadQueued !== undefined); waited += 1000) {
    world.advance(1000);
    if (world.state.phase !== 'running') return false;
  }
  return world.state.phase === 'running';
}

function check(condition: boolean, message: () => string): void {
  if (!condition) assert.fail(message());
}

/** The most surge workers checkInvariants saw at once, so a test can tell parallel rolls happened. */
let surgesSeen = 0;

/** States checkInvariants found quiet (quietUntil defined), so a test can tell the property was exercised. */
let quietStatesSeen = 0;

function checkInvariants(before: MachineState, state: MachineState, effects: Effect[], now: number, lastEvents: () => string): void {
  const context = () => `\nlast events:\n${lastEvents()}`;
  const target = state.targetWorkers;
  check(target >= 1 && target <= 1024, () => `target ${target} out of range${context()}`);
  const range = state.config.autoscale?.policy;
  if (range !== undefined) check(target >= range.min && target <= range.max, () => `target ${target} outside --workers ${range.min}..${range.max}${context()}`);
  // Never more workers serving than the target: a surge worker takes over the moment the old one drains.
  const serving = state.workers.filter((worker) => isInRotation(state, worker));
  check(serving.length <= target, () => `${serving.length} workers in rotation for a target of ${target}${context()}`);
  // Never a worker in two places: one record per id, at most one worker holding each slot besides
  // its surge worker (reload, upkeep). A step that starts a surge worker leaves at most reloadWidth
  // of them (the room --min-ready leaves, at least 1), one with the default --min-ready all.
  const ids = state.workers.map((worker) => worker.id);
  check(new Set(ids).size === ids.length, () => `a worker id appears twice: ${ids.join(',')}${context()}`);
  const surges = state.workers.filter((worker) => worker.surgeFor !== undefined && isActive(worker));
  const startedSurge = effects.some((effect) => effect.type === 'Spawn' && surges.some((worker) => worker.id === effect.id));
  if (startedSurge) check(surges.length <= reloadWidth(state), () => `${surges.length} surge workers at once, above the bound of ${reloadWidth(state)}${context()}`);
  if (state.config.minReady === undefined) check(surges.length <= 1, () => `${surges.length} surge workers at once with --min-ready all${context()}`);
  surgesSeen = Math.max(surgesSeen, surges.length);
  for (const slot of new Set(surges.map((worker) => worker.slot))) {
    check(surges.filter((worker) => worker.slot === slot).length === 1, () => `two surge workers in slot ${slot}${context()}`);
  }
  for (const slot of state.slots) {
    const holders = state.workers.filter((worker) => worker.slot === slot.slot && isActive(worker) && worker.surgeFor === undefined);
    check(holders.length <= 1, () => `slot ${slot.slot} held by ${holders.length} workers${context()}`);
  }
  // Workers above the target are on their way out.
  if (state.phase === 'running') {
    for (const worker of state.workers) check(worker.slot <= target || worker.retiring, () => `worker ${worker.id} in slot ${worker.slot} above the target ${target} still active${context()}`);
  }
  const pids = state.workers.map((worker) => worker.pid).filter((pid) => pid !== undefined);
  check(new Set(pids).size === pids.length, () => `a pid belongs to two workers${context()}`);
  for (const worker of state.workers) {
    assert.ok(['spawning', 'booting', 'ready', 'draining', 'stopping'].includes(worker.state), `worker ${worker.id} in unknown state ${worker.state}`);
    assert.ok(worker.slot >= 1 && worker.slot <= 1024, `worker ${worker.id} in slot ${worker.slot}`);
  }
  // The backoff never exceeds its cap.
  for (const slot of state.slots) {
    check(slot.nextSpawnAt - now <= state.config.backoff.maxMs, () => `slot ${slot.slot} waits ${slot.nextSpawnAt - now} ms, above the ${state.config.backoff.maxMs} ms cap${context()}`);
  }
  // A spawn only while running, and only for a slot nobody holds.
  for (const effect of effects) {
    if (effect.type !== 'Spawn') continue;
    check(before.phase === 'running', () => `spawned while ${before.phase}${context()}`);
  }
  // Time only moves forward inside the machine's view: no deadline set in the past is missed silently.
  if (before.phase === 'exited') assert.equal(effects.length, 0, 'an exited machine does nothing');
  // While quiet, a Tick at any moment before the quiet ends finds nothing to do, by the full pass too:
  // the supervisor may skip those Ticks.
  const quiet = quietUntil(state, now);
  if (quiet !== undefined) {
    quietStatesSeen += 1;
    check(quiet > now, () => `quiet until ${quiet}, not after now (${now})${context()}`);
    for (const at of [now, Math.floor((now + Math.min(quiet, now + 60_000)) / 2), Math.min(quiet, now + 60_000) - 1]) {
      const ticked = stepFully(state, { type: 'Tick' }, at);
      check(ticked.effects.length === 0 && isDeepStrictEqual(rotationOf(ticked.state), rotationOf(state)), () => `quiet until ${quiet}, but a Tick at ${at} did ${JSON.stringify(ticked.effects)}${context()}`);
    }
  }
}

const TIME_TO_KILL_MS = CONFIG.timeoutMs + CONFIG.captureTimeoutMs + CONFIG.gracefulTimeoutMs + CONFIG.killAfterMs + 1000;
const TIME_TO_EXIT_MS = CONFIG.gracefulTimeoutMs + CONFIG.killAfterMs + 2000;

test('for random event sequences the invariants hold after every step', () => {
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (commands) => {
    const world = new World(CONFIG);
    for (const next of commands) world.run(next);
  }), { numRuns: 300 });
});

test('a quiet fleet is reached, and a Tick at any moment of its quiet finds nothing to do (the supervisor may skip it)', () => {
  const before = quietStatesSeen;
  const calm = fc.oneof(
    { weight: 8, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 3000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('freeze' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('thaw' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('silent' as const), pick }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('heavy' as const), pick }) },
  );
  fc.assert(fc.property(fc.array(calm, { minLength: 1, maxLength: 30 }), (commands) => {
    const world = new World(CONFIG);
    world.autoReady = true;
    for (const next of commands) world.run(next);
  }), { numRuns: 100 });
  assert.ok(quietStatesSeen - before > 100, `quiet states were checked (${quietStatesSeen - before})`);
});

test('with a larger fleet, the incremental paths decide as the full pass for random event sequences', () => {
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), fc.integer({ min: 1, max: 12 }), (commands, workers) => {
    const world = new World({ ...CONFIG, workers, maxRequests: 8, maxRequestsJitter: 5 });
    for (const next of commands) world.run(next);
  }), { numRuns: 150 });
});

test('with --workers 2..5 and a load that rises and falls, the target stays within the range and the incremental paths decide as the full pass', () => {
  const autoscaled: MachineConfig = { ...CONFIG, workers: 2, autoscale: { policy: autoscalePolicy({ min: 2, max: 5 }, 1000), caps: { cpuCount: undefined, memoryAllows: 4 } } };
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 60 }), (commands) => {
    const world = new World(autoscaled);
    world.autoReady = true;
    for (const next of commands) world.run(next);
    // The rule itself never passes the memory cap (a manual `warden scale 5` may: the range allows it).
    for (const line of world.autoscaleLog) if (line.change === 'grow') check(line.to <= 4, () => `the rule grew to ${line.to}, past the memory cap of 4`);
  }), { numRuns: 150 });
});

test('under a crash storm (workers dying again and again) the backoff stays under its cap and restarts go on', () => {
  const storm: fc.Arbitrary<Command> = fc.oneof(
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('exit' as const), pick, code: fc.constant(1), signal: fc.constantFrom(null, 'SIGSEGV') }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 50, max: 12_000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('ready' as const), pick }) },
  );
  fc.assert(fc.property(fc.array(storm, { minLength: 20, maxLength: 120 }), (commands) => {
    const world = new World(CONFIG);
    world.run({ kind: 'ready', pick: 0 }); // once ever ready, a failing worker is restarted, not a boot error
    for (const next of commands) world.run(next);
    if (world.state.phase !== 'running') return;
    // Whatever the storm left behind, within the cap every slot has a worker again (the app boots).
    world.autoReady = true;
    world.advance(CONFIG.backoff.maxMs + 200);
    for (const slot of world.state.slots) {
      assert.ok(world.state.workers.some((worker) => worker.slot === slot.slot && isActive(worker)), `slot ${slot.slot} restarted within the backoff cap`);
    }
  }), { numRuns: 200 });
});

test('every frozen worker is eventually killed (stalled -> SIGKILL), whatever came before', () => {
  fc.assert(fc.property(fc.array(command.filter((c) => c.kind !== 'sigterm'), { maxLength: 40 }), (commands) => {
    const world = new World(CONFIG);
    for (const next of commands) world.run(next);
    if (world.exited) return;
    world.advance(100);
    // Freeze every ready worker; each must be killed within the timeout, capture and escalation.
    const victims = world.state.workers.filter((worker) => worker.state === 'ready' && world.alive.has(worker.id)).map((worker) => worker.id);
    for (const id of victims) world.frozen.add(id);
    world.advance(TIME_TO_KILL_MS);
    for (const id of victims) {
      check(!world.alive.has(id), () => `frozen worker ${id} still alive ${TIME_TO_KILL_MS} ms later\n${world.lastEvents(10)}`);
      assert.ok(world.killed.has(id), `frozen worker ${id} was sent SIGKILL`);
    }
  }), { numRuns: 200 });
});

test('a stopping supervisor always exits, even with frozen workers', () => {
  fc.assert(fc.property(fc.array(command, { maxLength: 40 }), fc.boolean(), (commands, freezeAll) => {
    const world = new World(CONFIG);
    for (const next of commands) world.run(next);
    if (freezeAll) for (const id of world.alive) world.frozen.add(id);
    world.run({ kind: 'sigterm' });
    world.advance(TIME_TO_EXIT_MS);
    check(world.exited, () => `no Exit ${TIME_TO_EXIT_MS} ms after SIGTERM (phase ${world.state.phase}, ${world.alive.size} alive)\n${world.lastEvents(10)}`);
    assert.equal(world.alive.size, 0, 'no worker is left when the supervisor exits');
  }), { numRuns: 200 });
});

test('clock jumps cannot make a worker stalled: the machine only sees the monotonic clock the supervisor gives it', async () => {
  const { systemClock } = await import('../../src/clock.js');
  const realNow = Date.now;
  const first = systemClock.now();
  try {
    // The wall clock jumps an hour ahead, then a day back: the supervisor's clock must not follow.
    Date.now = () => realNow() + 3_600_000;
    const ahead = systemClock.now();
    Date.now = () => realNow() - 86_400_000;
    const back = systemClock.now();
    assert.ok(ahead - first >= 0 && ahead - first < 1000, `no jump forward (${ahead - first} ms)`);
    assert.ok(back - ahead >= 0 && back - ahead < 1000, `no jump back (${back - ahead} ms)`);
  } finally {
    Date.now = realNow;
  }
  // And a machine fed that clock judges by elapsed time only: a worker that beats is never stalled.
  const world = new World({ ...CONFIG, workers: 1 });
  const [worker] = world.state.workers;
  world.run({ kind: 'ready', pick: 0 });
  world.advance(60_000);
  assert.ok(world.alive.has(worker?.id as number) && !world.killed.has(worker?.id as number), 'a beating worker lives on');
});

test('with --min-ready leaving room, a reload rolls several slots at once, within the bound, and still ends', () => {
  surgesSeen = 0;
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 40 }), fc.integer({ min: 2, max: 8 }), fc.integer({ min: 1, max: 8 }), (commands, workers, minReady) => {
    const config: MachineConfig = { ...CONFIG, workers, minReady: { kind: 'count', count: Math.min(minReady, workers) } };
    const world = new World(config);
    world.autoReady = true;
    world.advance(500);
    world.run({ kind: 'reload', requestId: 1 });
    for (const next of commands) world.run(next);
    if (world.state.phase !== 'running') return;
    for (const id of [...world.frozen]) world.frozen.delete(id);
    if (!runReloadsOut(world)) return;
    assert.equal(world.state.reload, undefined, `a reload is still running: ${JSON.stringify(world.state.reload)}`);
  }), { numRuns: 150 });
  assert.ok(surgesSeen > 1, `several slots rolled at once (at most ${surgesSeen} surge workers seen)`);
});

test('a reload asked at any moment ends (completed, failed or stopped) once processes behave, and never leaves two reloads interleaved', () => {
  fc.assert(fc.property(fc.array(command, { minLength: 1, maxLength: 50 }), (commands) => {
    const world = new World(CONFIG);
    world.run({ kind: 'ready', pick: 0 });
    world.run({ kind: 'reload', requestId: 1 });
    for (const next of commands) world.run(next);
    if (world.state.phase !== 'running') return;
    for (const id of [...world.frozen]) world.frozen.delete(id);
    world.autoReady = true;
    if (!runReloadsOut(world)) return;
    assert.equal(world.state.reload, undefined, `a reload is still running: ${JSON.stringify(world.state.reload)}`);
    assert.equal(world.state.reloadQueued, undefined, 'a queued reload was left waiting');
  }), { numRuns: 150 });
});
