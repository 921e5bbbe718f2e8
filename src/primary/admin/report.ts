// The primary's health answers, computed from a snapshot of the supervisor state: /livez, /readyz and
// /workers (its body is the WorkersBody contract of protocol/admin.ts). Pure: the admin server only
// serializes what these return.

import type { MachineState, WorkerRecord } from '../machine/index.js';
import { isInRotation } from '../machine/index.js';
import { autoscaleCeiling, fleetUtilization, type AutoscaleRun } from '../machine/autoscale.js';
import { isSaturated } from '../machine/saturation.js';
import type { AutoscaleView, DisplayState, ExitView, Incident, WorkersBody, WorkerView } from '../../protocol/admin.js';

export type { DisplayState };

export interface PrimaryInfo {
  pid: number;
  /** The control socket (`warden reload`, `warden scale`), once bound. */
  control?: string | null;
  version: string;
  module: string;
  listen: { host: string; port: number; path?: string };
  admin: { host: string; port: number };
  startedAt: number;
  requiredReady: number;
}

export interface HealthAnswer {
  status: number;
  body: unknown;
}

export function displayState(worker: WorkerRecord): DisplayState {
  if (worker.condition === 'stalled') return 'stalled';
  if (worker.condition === 'quarantined') return 'quarantined';
  if (worker.condition === 'memory' || worker.condition === 'max-requests' || worker.condition === 'sigterm' || worker.condition === 'reload' || worker.condition === 'scale') return 'draining';
  if (worker.condition === 'stuck' || worker.condition === 'unhealthy' || worker.condition === 'late' || worker.condition === 'boot-timeout') return 'unhealthy';
  switch (worker.state) {
    case 'spawning':
    case 'booting':
      return 'booting';
    case 'ready':
      return 'ready';
    case 'draining':
      return 'draining';
    case 'stopping':
      return 'stopping';
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export interface WorkerExtras {
  pendingHandoffs: number;
  /** Port the worker's inspector opens on when sent SIGUSR1 (--capture-stacks), or null. */
  inspectPort: number | null;
}

/** What the shell adds to the machine's state: per-slot incidents, the listener's and the log's counters. */
export interface ShellFacts {
  incidents: (slot: number) => Incident[];
  connections: WorkersBody['connections'];
  acceptQueue: WorkersBody['acceptQueue'];
  logs: WorkersBody['logs'];
}

function exitView(lastExit: MachineState['slots'][number]['lastExit']): ExitView | null {
  if (lastExit === undefined) return null;
  const { pid, ...rest } = lastExit;
  return { ...(pid === undefined ? {} : { pid }), ...rest, at: iso(lastExit.at) };
}

export function workerView(state: MachineState, worker: WorkerRecord, now: number, extra: WorkerExtras, incidents: Incident[] = []): WorkerView {
  const slot = state.slots.find((candidate) => candidate.slot === worker.slot);
  const stats = worker.stats;
  return {
    slot: worker.slot,
    generation: worker.generation,
    pid: worker.pid ?? null,
    state: displayState(worker),
    inRotation: isInRotation(state, worker),
    saturated: worker.state === 'ready' && isSaturated(worker.busySince, now),
    reason: worker.reason ?? null,
    suspicion: worker.suspicion === undefined ? null : {
      isQuarantined: worker.suspicion.quarantinedAt !== undefined,
      suspectForMs: Math.round(now - worker.suspicion.since),
      quarantinedForMs: worker.suspicion.quarantinedAt === undefined ? null : Math.round(now - worker.suspicion.quarantinedAt),
      reason: worker.suspicion.reason,
      evidence: worker.suspicion.evidence ?? null,
    },
    since: iso(worker.since),
    sinceMs: Math.round(now - worker.since),
    uptimeMs: Math.round(now - worker.spawnedAt),
    heartbeatAgeMs: worker.lastBeatAt === undefined ? null : Math.round(now - worker.lastBeatAt),
    heartbeatDelayedMs: stats === undefined ? null : stats.nextBeatDelayedMs ?? 0,
    loopDelayMs: stats?.loopDelayMs ?? null,
    eventLoopUtilization: stats?.eventLoopUtilization ?? null,
    inFlight: stats?.inFlight ?? 0,
    oldestInFlightMs: stats?.oldestWaitingMs ?? 0,
    served: stats?.served ?? 0,
    timedOut: stats?.timedOut ?? 0,
    connections: stats?.connections ?? 0,
    upgraded: stats?.upgraded ?? 0,
    pendingHandoffs: extra.pendingHandoffs,
    inspectPort: extra.inspectPort,
    rssBytes: stats?.rssBytes ?? null,
    heapUsedBytes: stats?.heapUsedBytes ?? null,
    restarts: Math.max(0, (slot?.spawns ?? 1) - 1),
    replacements: slot?.replacements ?? null,
    lastExit: exitView(slot?.lastExit),
    incidents,
  };
}

export function workersReport(state: MachineState, info: PrimaryInfo, now: number, extras: (id: number) => WorkerExtras, shell: ShellFacts): WorkersBody {
  const workers = [...state.workers]
    .sort((a, b) => a.slot - b.slot || a.id - b.id)
    .map((worker) => workerView(state, worker, now, extras(worker.id), shell.incidents(worker.slot)));
  // Slots with no live worker (waiting out a backoff) still show, as exited.
  for (const slot of state.slots) {
    if (state.workers.some((worker) => worker.slot === slot.slot)) continue;
    workers.push({ ...emptySlotView(slot.slot, slot.spawns, slot.lastExit, now), replacements: slot.replacements, incidents: shell.incidents(slot.slot) });
  }
  workers.sort((a, b) => a.slot - b.slot);
  return {
    primary: {
      pid: info.pid, version: info.version, module: info.module, phase: state.phase, control: info.control ?? null,
      listen: info.listen, admin: info.admin, startedAt: iso(info.startedAt), uptimeMs: Math.round(now - info.startedAt),
      workersTarget: state.targetWorkers,
      fleetUtilization: fleetUtilization(state.workers.filter((worker) => worker.state === 'ready').map((worker) => worker.stats?.eventLoopUtilization)) ?? null,
      requiredReady: info.requiredReady, generation: state.generation,
      reload: {
        running: state.reload === undefined ? null : { generation: state.reload.generation, startedAt: iso(state.reload.startedAt), slotsDone: state.reload.slotsDone },
        queued: state.reloadQueued !== undefined,
        last: state.lastReload === undefined ? null : { ...state.lastReload, startedAt: iso(state.lastReload.startedAt), endedAt: iso(state.lastReload.endedAt) },
        counts: state.reloads,
      },
      scaling: state.scale === undefined ? null : { target: state.scale.target, startedAt: iso(state.scale.startedAt) },
      autoscale: state.autoscale === undefined ? null : autoscaleView(state.autoscale),
    },
    workers,
    connections: shell.connections,
    acceptQueue: shell.acceptQueue,
    logs: shell.logs,
  };
}

function autoscaleView(run: AutoscaleRun): AutoscaleView {
  const ceiling = autoscaleCeiling(run.policy, run.caps);
  const last = run.last;
  return {
    min: run.policy.min, max: run.policy.max, ceiling: ceiling.workers, limitedBy: ceiling.limitedBy, acceptQueue: run.acceptQueue ?? null,
    last: last === undefined ? null : { at: iso(last.at), change: last.change, reason: last.reason, detail: last.detail, from: last.from, workers: last.workers },
    decisions: run.counts,
  };
}

function emptySlotView(slot: number, spawns: number, lastExit: MachineState['slots'][number]['lastExit'], now: number): Omit<WorkerView, 'replacements' | 'incidents'> {
  return {
    slot, generation: 0, pid: null, state: 'exited', inRotation: false, saturated: false, suspicion: null,
    reason: lastExit?.reason ?? 'not started', since: lastExit === undefined ? iso(now) : iso(lastExit.at),
    sinceMs: lastExit === undefined ? 0 : Math.round(now - lastExit.at), uptimeMs: 0, heartbeatAgeMs: null, heartbeatDelayedMs: null,
    loopDelayMs: null, eventLoopUtilization: null, inFlight: 0, oldestInFlightMs: 0, served: 0, timedOut: 0, connections: 0, upgraded: 0, pendingHandoffs: 0, inspectPort: null,
    rssBytes: null, heapUsedBytes: null, restarts: Math.max(0, spawns - 1),
    lastExit: exitView(lastExit),
  };
}

/** 200 while the supervisor can keep workers serving; 503 when halting or every slot is crash-looping. */
export function livez(state: MachineState): HealthAnswer {
  const serving = state.workers.some((worker) => isInRotation(state, worker));
  const crashLooping = state.slots.every((slot) => slot.consecutiveFailures >= 3 || slot.slot > state.targetWorkers);
  const alive = state.phase === 'running' || state.phase === 'stopping' ? serving || !crashLooping : false;
  return {
    status: alive ? 200 : 503,
    body: { live: alive, phase: state.phase, ...(alive ? {} : { reason: state.halt?.message ?? 'every worker slot is failing repeatedly' }) },
  };
}

/** 200 only with at least `requiredReady` workers in rotation; the body names the missing ones. */
export function readyz(state: MachineState, requiredReady: number): HealthAnswer {
  const ready = state.workers.filter((worker) => isInRotation(state, worker));
  const missing: { slot: number; pid: number | null; state: DisplayState; reason: string }[] = [];
  for (const slot of state.slots) {
    // A slot above the target (being drained after a scale-down) is not missing.
    if (slot.slot > state.targetWorkers || ready.some((worker) => worker.slot === slot.slot)) continue;
    const current = state.workers.find((worker) => worker.slot === slot.slot && !worker.retiring) ??
      state.workers.find((worker) => worker.slot === slot.slot);
    if (current === undefined) {
      missing.push({ slot: slot.slot, pid: null, state: 'exited', reason: slot.lastExit?.reason ?? 'not started' });
    } else {
      const shown = displayState(current);
      missing.push({ slot: slot.slot, pid: current.pid ?? null, state: shown, reason: current.reason ?? shown });
    }
  }
  const isReady = state.phase === 'running' && ready.length >= requiredReady;
  return {
    status: isReady ? 200 : 503,
    body: {
      ready: isReady, phase: state.phase, readyWorkers: ready.length, required: requiredReady, workers: state.targetWorkers, missing,
    },
  };
}
