// What the primary derives once from the resolved options: the machine's configuration and the
// configuration every worker starts with, and how it is spawned. Pure: no I/O.

import { fileURLToPath } from 'node:url';
import type { ServeOptions } from '../config/options.js';
import type { RangeCaps, SizingFacts } from '../config/worker-sizing.js';
import { lateAfterMs } from './machine/verdicts.js';
import type { WorkerConfig } from '../protocol/worker-config.js';
import type { MachineConfig } from './machine/index.js';
import { DEFAULT_BACKOFF } from './machine/policy.js';
import { autoscalePolicy } from './machine/autoscale.js';
import { withoutSystemdEnv } from '../os/sd-notify.js';
import type { SpawnBase } from './fleet.js';

export const HEARTBEAT_INTERVAL_MS = 250;
/**
 * An idle worker's heartbeat interval (nothing in flight, nothing arrived or finished since its last
 * beat): 4 times fewer wake-ups of the primary per idle worker. A quarter of --timeout at most, so the
 * stall rule keeps its margin; an idle worker that freezes leaves rotation this much later (the late
 * window grows by the difference), a busy one as before.
 */
export function idleHeartbeatIntervalMs(timeoutMs: number): number {
  return Math.max(HEARTBEAT_INTERVAL_MS, Math.min(1000, Math.floor(timeoutMs / 4)));
}
const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));
/** How long the kill of a stalled worker waits for its stack (a capture takes ~100 ms). */
export const CAPTURE_TIMEOUT_MS = 1500;
/** The CPU profile of a stalled worker runs this long after its stack, before the kill. */
export const PROFILE_BEFORE_KILL_MS = 1000;

export interface SupervisorSettings {
  options: ServeOptions;
  modulePath: string;
  exportName: string | undefined;
  /** The module as the user wrote it, for messages. */
  moduleLabel: string;
  version: string;
  /** Arguments for the app: each worker's process.argv is [node, modulePath, ...appArgs]. */
  appArgs?: readonly string[];
  /**
   * --workers auto under a cgroup memory limit: the facts the count was first set from, with an
   * estimated worker RSS. Once the first worker is ready its real RSS replaces the estimate.
   */
  memorySizing?: SizingFacts;
  /**
   * --workers MIN..MAX: the caps checked at start (the quota's CPUs, the workers the memory limit holds
   * with the estimated RSS) and the facts to fit the memory again once the first worker's RSS is measured.
   */
  autoscale?: { caps: RangeCaps; sizing: SizingFacts };
  /** Environment of every worker (before warden's own variables); process.env when absent. */
  workerEnv?: NodeJS.ProcessEnv;
  /** Working directory of every worker; the primary's when absent. */
  cwd?: string;
  /** HTTPS: absolute paths of the PEM files, already checked (api/launch.ts). */
  tls?: { keyfile: string; certfile: string; ca?: string };
}

export function machineConfig(options: ServeOptions, appLabel: string, appArgs: readonly string[] = [], rangeCaps?: RangeCaps): MachineConfig {
  const range = options.workersRange;
  return {
    ...(range === undefined ? {} : { autoscale: { policy: autoscalePolicy(range, options.autoscaleWindowMs), caps: rangeCaps ?? { cpuCount: undefined, memoryAllows: undefined } } }),
    appLabel,
    // The hint to run the app alone keeps its arguments (`node node_modules/next/dist/bin/next start`).
    appCommand: ['node', appLabel, ...appArgs].map(shellWord).join(' '),
    workers: options.workers,
    bootTimeoutMs: options.bootTimeoutMs,
    timeoutMs: options.timeoutMs,
    lateMs: lateAfterMs(options.timeoutMs),
    gracefulTimeoutMs: options.gracefulTimeoutMs,
    stuckAfterMs: options.stuckAfterMs,
    probeFailures: options.probeFailures,
    maxRestarts: options.maxRestarts,
    backoff: DEFAULT_BACKOFF,
    killAfterMs: 2000,
    captureStacks: options.captureStacks,
    // The machine's deadline for the evidence: the stack's budget, then the profile's (itself with a budget).
    captureTimeoutMs: CAPTURE_TIMEOUT_MS + PROFILE_BEFORE_KILL_MS + CAPTURE_TIMEOUT_MS,
    maxMemoryBytes: options.maxMemoryBytes,
    heapSnapshotOnRecycle: options.heapSnapshotDir !== undefined,
    probeEnabled: options.probePath !== undefined,
    compareProbeEnabled: options.compareProbe,
    maxRequests: options.maxRequests,
    maxRequestsJitter: options.maxRequestsJitter,
    minReady: options.minReady,
  };
}

/** A word as a POSIX shell reads it back: quoted only when it holds more than safe characters. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The service address as the worker must report it: a unix socket's server.address() is its path. */
export function workerConfig(settings: SupervisorSettings, listen: { address: string; family: string; port: number; path?: string }): WorkerConfig {
  const options = settings.options;
  const socketPath = listen.path;
  return {
    modulePath: settings.modulePath,
    ...(settings.exportName === undefined ? {} : { exportName: settings.exportName }),
    factory: options.factory,
    port: listen.port,
    address: socketPath ?? { address: listen.address, family: listen.family, port: listen.port },
    ...(socketPath === undefined ? {} : { socketPath }),
    heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS,
    idleHeartbeatIntervalMs: idleHeartbeatIntervalMs(options.timeoutMs),
    requestTimeoutMs: options.requestTimeoutMs,
    listenWaitMs: options.bootTimeoutMs,
    gracefulTimeoutMs: options.gracefulTimeoutMs,
    accessLog: options.accessLog,
    logFormat: options.logFormat,
    args: [...(settings.appArgs ?? [])],
    backlog: options.backlog,
    maxConcurrency: options.maxConcurrency,
    ...(settings.tls === undefined ? {} : { tls: settings.tls }),
  };
}

/** How every worker is started, once the service socket is bound (`service`: as a worker reports it). */
export function spawnBase(settings: SupervisorSettings, service: Parameters<typeof workerConfig>[1]): SpawnBase {
  return {
    entry: WORKER_ENTRY, config: workerConfig(settings, service), env: withoutSystemdEnv(settings.workerEnv ?? process.env), nodeArgs: settings.options.nodeArgs,
    ...(settings.cwd === undefined ? {} : { cwd: settings.cwd }),
  };
}
