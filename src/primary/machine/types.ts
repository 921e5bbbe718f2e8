// The supervisor's state: its configuration, its workers and slots, the runs under way (reload,
// scale) and the words for states, conditions and reasons, shared by the machine's parts and the shell.
// Pure data: no I/O, no timers, no process handles. The events and effects are in events.ts, the
// functions that build, copy and read a state in state.ts.

import type { WardenErrorCode } from '../../errors.js';
import type { MinReady } from '../../protocol/admin.js';
import type { HeartbeatStats, SerializedError } from '../../protocol/messages.js';
import type { AutoscaleCaps, AutoscalePolicy, AutoscaleRun } from './autoscale.js';
import type { BackoffConfig } from './policy.js';
import type { ComparisonRecord, QuarantineStart, ServedMark } from './verdicts.js';

/** Scaling refuses targets above this (the --workers limit). */
export const MAX_WORKERS = 1024;

export interface MachineConfig {
  /** The app module as the user named it, for messages. */
  appLabel: string;
  /** How to run the app alone, arguments after `--` included, for hints; `node <appLabel>` when absent. */
  appCommand?: string;
  /** Target worker count at start; scaling moves `MachineState.targetWorkers`. */
  workers: number;
  bootTimeoutMs: number;
  /** No heartbeat for this long: stalled, SIGKILL, replace. */
  timeoutMs: number;
  /** No heartbeat for this long: out of rotation until the next heartbeat. */
  lateMs: number;
  gracefulTimeoutMs: number;
  stuckAfterMs: number;
  probeFailures: number;
  /** --probe-path is set: a reload waits for each new worker's first probe before retiring the old one. */
  probeEnabled: boolean;
  /** --compare-probe: a quarantined worker is compared with a peer through the same GET (verdicts.ts). */
  compareProbeEnabled: boolean;
  maxRestarts: number;
  backoff: BackoffConfig;
  /** How long a halt or a SIGTERM waits before escalating to SIGKILL. */
  killAfterMs: number;
  /** Take the JavaScript stack of a stalled worker before killing it (--capture-stacks). */
  captureStacks: boolean;
  /** How long the kill of a stalled worker waits for its stack. */
  captureTimeoutMs: number;
  /** RSS above which a worker is recycled gracefully (--max-memory); 0: off. */
  maxMemoryBytes: number;
  /** --heap-snapshot-on-recycle: the worker writes a heap snapshot first, so its heartbeats may pause. */
  heapSnapshotOnRecycle: boolean;
  /** --max-requests: served requests after which a worker is recycled; 0: off. */
  maxRequests: number;
  /** --max-requests-jitter: each worker's limit is maxRequests plus 0..jitter. */
  maxRequestsJitter: number;
  /** --min-ready: the workers above it are the room a rolling reload may use (rollout.ts); all when absent. */
  minReady?: MinReady;
  /** --workers MIN..MAX: the rule's policy and the caps found at start (autoscale.ts); absent for a fixed count. */
  autoscale?: { policy: AutoscalePolicy; caps: AutoscaleCaps };
}

export type Phase = 'running' | 'stopping' | 'halting' | 'exited';

/**
 * spawning: fork asked for, no pid yet; booting: loading the app; ready: serving;
 * draining: no new connections, finishing in-flight requests; stopping: signalled, waiting for exit.
 */
export type WorkerState = 'spawning' | 'booting' | 'ready' | 'draining' | 'stopping';

/**
 * ok: in rotation; late: missed its heartbeat window; quarantined: suspect, out of rotation while the
 * evidence comes in, still serving what it holds; the others are reasons it is being replaced:
 * sickness (stalled, stuck, unhealthy, boot-timeout) or upkeep (memory, max-requests, reload, scale).
 */
export type Condition = 'ok' | 'late' | 'quarantined' | 'stalled' | 'stuck' | 'unhealthy' | 'boot-timeout' | 'memory' | 'max-requests' | 'sigterm' | 'reload' | 'scale';

/** Why a live worker is due to be replaced by a new one that starts first (surge, then drain). */
export type UpkeepReason = 'memory' | 'max-requests' | 'sigterm';

export interface WorkerRecord {
  /** Unique per process for the life of the primary; the key of everything (a pid is only for logs). */
  id: number;
  slot: number;
  generation: number;
  state: WorkerState;
  pid: number | undefined;
  since: number;
  spawnedAt: number;
  readyAt: number | undefined;
  lastBeatAt: number | undefined;
  stats: HeartbeatStats | undefined;
  /** Since when every heartbeat carried an ELU near 1 (saturation.ts); undefined when the last did not. */
  busySince: number | undefined;
  statsAt: number | undefined;
  condition: Condition;
  /** Why the worker is out of rotation or being retired, in words. */
  reason: string | undefined;
  /** Deadline of the current state: boot, drain, or kill escalation. */
  deadline: number | undefined;
  /** True once warden decided to stop this worker: its exit is planned, not a crash. */
  retiring: boolean;
  killSent: boolean;
  probeFailures: number;
  bootError: SerializedError | undefined;
  crashError: SerializedError | undefined;
  /** A surge worker: started to take over from worker `surgeFor` of the same slot once it is ready. */
  surgeFor: number | undefined;
  /** Ready, but waiting for its first probe before it takes over (reload with --probe-path). */
  awaitingProbe: boolean;
  /** Set on a live worker that is to be replaced through a surge worker, with the reason in `reason`. */
  upkeep: UpkeepReason | undefined;
  /** Served requests after which this worker is recycled (--max-requests plus its jitter); 0: never. */
  maxRequests: number;
  /** Set while the worker is suspect (answers none of its requests); replaced whole, never changed in place. */
  suspicion: Suspicion | undefined;
  /** Its served counter at each heartbeat of the last few seconds (verdicts.ts); replaced whole. */
  servedMarks: readonly ServedMark[];
  /** Its comparison probes (verdicts.ts), kept across quarantines for their backoff; replaced whole. */
  comparison: ComparisonRecord | undefined;
}

/**
 * A suspect worker (liveness.ts, verdicts.ts): out of rotation from `quarantinedAt`, unless it was the
 * last worker in rotation (then it keeps serving, suspect, and only a probe can decide).
 */
export interface Suspicion {
  since: number;
  quarantinedAt: number | undefined;
  /** Why it is suspect, in words. */
  reason: string;
  /** The evidence that recycled it, or why there is none yet, in words. */
  evidence: string | undefined;
  /** The facts at the start of the quarantine, against which evidence is counted. */
  start: QuarantineStart;
  /** The "no evidence, set --probe-path" line was logged (once per suspicion). */
  isHinted: boolean;
}

export interface ExitRecord {
  pid: number | undefined;
  code: number | null;
  signal: string | null;
  reason: string;
  at: number;
}

/** Why workers of a slot were replaced, counted per reason (for /workers and metrics). */
export type ReplacementReason = 'crashed' | 'stalled' | 'stuck' | 'unhealthy' | 'boot-timeout' | 'memory' | 'max-requests' | 'sigterm' | 'reload' | 'scale';

export const REPLACEMENT_REASONS: readonly ReplacementReason[] = ['crashed', 'stalled', 'stuck', 'unhealthy', 'boot-timeout', 'memory', 'max-requests', 'sigterm', 'reload', 'scale'];

export interface SlotRecord {
  slot: number;
  spawns: number;
  replacements: Record<ReplacementReason, number>;
  consecutiveFailures: number;
  nextSpawnAt: number;
  lastExit: ExitRecord | undefined;
}

export interface HaltInfo {
  code: number;
  errorCode: WardenErrorCode;
  message: string;
  hint?: string;
}

/** A rolling reload under way: every slot gets a worker of `generation`, one slot at a time. */
export interface ReloadRun {
  generation: number;
  /** Control requests waiting for this reload's outcome (0: a signal or a file change asked). */
  requestIds: number[];
  startedAt: number;
  slotsDone: number;
}

export type ReloadOutcome = 'completed' | 'failed' | 'aborted';

export interface ReloadRecord {
  generation: number;
  outcome: ReloadOutcome;
  startedAt: number;
  endedAt: number;
  /** The slot where a failed reload stopped, and the new worker's error. */
  slot?: number;
  error?: string;
}

export interface ScaleRun {
  target: number;
  requestIds: number[];
  startedAt: number;
}

export interface MachineState {
  phase: Phase;
  config: MachineConfig;
  /** The generation new workers are started with; a reload raises it. */
  generation: number;
  /** The highest generation ever started, so that a generation number is never reused. */
  highestGeneration: number;
  /** How many workers the reconcile pass keeps serving; scaling moves it. */
  targetWorkers: number;
  workers: WorkerRecord[];
  slots: SlotRecord[];
  /** Replacements counted by slots a scale-down removed, so totals never go down. */
  removedSlotReplacements: Record<ReplacementReason, number>;
  nextWorkerId: number;
  everReady: boolean;
  startedAt: number;
  stopDeadline: number | undefined;
  stopSignals: number;
  /** A worker exited on its own while warden was stopping: the exit code must not claim a clean stop. */
  stopWasUnclean: boolean;
  halt: HaltInfo | undefined;
  reload: ReloadRun | undefined;
  /** Requests for a reload asked while one runs: at most one reload waits, for all of them. */
  reloadQueued: number[] | undefined;
  lastReload: ReloadRecord | undefined;
  reloads: Record<ReloadOutcome, number>;
  /** Quarantines begun, and how the ended ones ended (the machine's QuarantineOutcome words). */
  quarantines: { started: number; ended: Record<QuarantineOutcome, number> };
  scale: ScaleRun | undefined;
  /** --workers MIN..MAX: the rule's memory, its caps and its last decision; undefined for a fixed count. */
  autoscale: AutoscaleRun | undefined;
}

/**
 * How a quarantine ends: released (it answered, or its peers were as slow), recycled (the evidence
 * was in), returned (back in rotation, still suspect, as no other worker was in it), exited (the
 * worker went away for another reason: a crash, a drain, the stop).
 */
export const QUARANTINE_OUTCOMES = ['released', 'recycled', 'returned', 'exited'] as const;
export type QuarantineOutcome = (typeof QUARANTINE_OUTCOMES)[number];
