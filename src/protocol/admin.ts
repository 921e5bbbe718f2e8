// The admin server's answers as clients read them: the `/workers` body (each worker's view, the
// display states), the incident records of `/workers` and `/incidents`. Declared once: the primary
// builds these (primary/admin/report.ts) and `warden status`, `warden check` and the tests read them.
// Types only, besides the list of display states and the --min-ready rule (/readyz and reloads read it).

import type { LogStreamStats } from '../log/log-stream.js';
import type { HeapSnapshotResult, RequestsReport, SerializedError } from './messages.js';

/** --min-ready: the workers /readyz requires, and so what a rolling reload must leave serving. */
export type MinReady = { kind: 'all' } | { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

/** Number of workers --min-ready requires, given the target count. */
export function requiredReadyOf(minReady: MinReady, workers: number): number {
  switch (minReady.kind) {
    case 'all':
      return workers;
    case 'count':
      return Math.min(minReady.count, workers);
    case 'percent':
      return Math.max(1, Math.ceil((workers * minReady.percent) / 100));
  }
}

/**
 * What /workers, /readyz, `warden status`, the dashboard and the `warden_workers{state}` metric call
 * a worker's state. `quarantined`: suspect of answering nothing, out of rotation while the evidence
 * comes in, still serving what it holds (docs/health.md). A suspect kept in rotation as the last
 * worker in it stays `ready`; its `suspicion` says it is suspect.
 */
export const DISPLAY_STATES = ['booting', 'ready', 'quarantined', 'unhealthy', 'stalled', 'draining', 'stopping', 'exited'] as const;
export type DisplayState = (typeof DISPLAY_STATES)[number];

export type IncidentKind = 'stalled' | 'stuck' | 'unhealthy' | 'crashed' | 'memory';

export interface MemorySample {
  /** Milliseconds before the recycle (negative: in the past). */
  atMs: number;
  rssBytes: number;
  heapUsedBytes: number;
}

/** One function of a CPU profile, by self time. */
export interface TopFunction {
  functionName: string;
  /** A file path when the script is a file; '' for V8's own entries ((program), (garbage collector)). */
  url: string;
  /** 1-based, like an Error stack; 0 for V8's own entries. */
  lineNumber: number;
  selfMs: number;
  /** Share of the sampled time, 0..100, one decimal. */
  selfPercent: number;
}

/** A CPU profile as an incident carries it: its top functions, and the .cpuprofile file if one was saved. */
export interface ProfileSummary {
  durationMs: number;
  top: TopFunction[];
  /** Absent without --profile-dir, or when the file could not be written (then `notSaved` says why). */
  path?: string;
  notSaved?: string;
}

/** What a sick worker was doing when warden replaced it. */
export interface Incident {
  at: string;
  slot: number;
  generation: number;
  pid: number | null;
  kind: IncidentKind;
  reason: string;
  /** Blocked event loop (or a stuck worker whose profile failed): where the main thread was, or why no stack could be had. */
  stack?: string;
  noStack?: string;
  /** Blocked event loop or stuck: a CPU profile of about a second before the kill, or why none could be had. */
  profile?: ProfileSummary;
  noProfile?: string;
  /** Stuck / unhealthy: the requests in flight, then the ended ones the app never answered. */
  requests?: RequestsReport;
  /** Crash: the uncaught error. */
  error?: SerializedError;
  /** Memory recycle: RSS and heap over the last minute or so, and the heap snapshot if one was asked. */
  memory?: { limitBytes: number; samples: MemorySample[] };
  heapSnapshot?: HeapSnapshotResult;
}

export interface ExitView {
  /** Absent when the worker never got a pid. */
  pid?: number;
  code: number | null;
  signal: string | null;
  reason: string;
  at: string;
}

/** A suspect worker: quarantined (out of rotation, still serving) unless it is the last in rotation. */
export interface SuspicionView {
  isQuarantined: boolean;
  suspectForMs: number;
  quarantinedForMs: number | null;
  reason: string;
  /** What recycled it, or why there is no evidence yet; null while the evidence is coming in. */
  evidence: string | null;
}

/** One row of `/workers`: a live worker, or a slot with none (state "exited", waiting out a backoff). */
export interface WorkerView {
  slot: number;
  generation: number;
  pid: number | null;
  state: DisplayState;
  inRotation: boolean;
  /** ELU near 1 for a sustained time while heartbeats keep coming: busy, not sick; it stays in rotation. */
  saturated: boolean;
  reason: string | null;
  /** Set while the worker is suspect of answering nothing (docs/health.md, the stuck rule); null otherwise. */
  suspicion: SuspicionView | null;
  since: string;
  sinceMs: number;
  uptimeMs: number;
  heartbeatAgeMs: number | null;
  /** How much later than the regular 250 ms its next heartbeat is due (an idle worker beats less often); null before a heartbeat. */
  heartbeatDelayedMs: number | null;
  loopDelayMs: number | null;
  /** Event-loop utilisation over the last heartbeat interval, 0..1; null before a heartbeat or from an older worker. */
  eventLoopUtilization: number | null;
  inFlight: number;
  oldestInFlightMs: number;
  served: number;
  timedOut: number;
  connections: number;
  upgraded: number;
  pendingHandoffs: number;
  /** Port the worker's inspector opens on when sent SIGUSR1 (--capture-stacks), or null. */
  inspectPort: number | null;
  rssBytes: number | null;
  heapUsedBytes: number | null;
  restarts: number;
  /** Replacements of the slot's workers by reason (the machine's ReplacementReason words). */
  replacements: Readonly<Record<string, number>> | null;
  lastExit: ExitView | null;
  /** The slot's last few incidents, oldest first. */
  incidents: Incident[];
}

export interface ReloadView {
  running: { generation: number; startedAt: string; slotsDone: number } | null;
  queued: boolean;
  /** The last reload that ended; outcome is the machine's ReloadOutcome (completed, failed, aborted). */
  last: { generation: number; outcome: string; startedAt: string; endedAt: string; slot?: number; error?: string } | null;
  counts: Readonly<Record<string, number>>;
}

/** `--workers MIN..MAX`: the range, what caps it now, and the last decision the rule logged. */
export interface AutoscaleView {
  min: number;
  max: number;
  /** The most workers the rule may reach now: MAX lowered by the cgroup CPU quota and the memory limit. */
  ceiling: number;
  limitedBy: 'maximum' | 'cpu quota' | 'memory limit';
  /** The service socket's accept queue at the last sample; null when unknown. */
  acceptQueue: number | null;
  /** change: grow, shrink or hold; reason: the rule's word (primary/machine/autoscale.ts AutoscaleReason); detail: the sentence logged. */
  last: { at: string; change: 'grow' | 'shrink' | 'hold'; reason: string; detail: string; from: number; workers: number } | null;
  /** Logged decisions, "direction:reason" -> count (warden_autoscale_decisions_total). */
  decisions: Readonly<Record<string, number>>;
}

export interface PrimaryView {
  pid: number;
  version: string;
  module: string;
  phase: string;
  /** The control socket (`warden reload`, `warden scale`), once bound. */
  control: string | null;
  listen: { host: string; port: number; path?: string };
  admin: { host: string; port: number };
  startedAt: string;
  uptimeMs: number;
  workersTarget: number;
  /** The fleet's saturation as one number: the mean ELU of the ready workers, 0..1 (null before any reported one). */
  fleetUtilization: number | null;
  requiredReady: number;
  generation: number;
  reload: ReloadView;
  scaling: { target: number; startedAt: string } | null;
  /** Set with `--workers MIN..MAX`; null for a fixed count. */
  autoscale: AutoscaleView | null;
}

/** The `GET /workers` answer. */
export interface WorkersBody {
  primary: PrimaryView;
  workers: WorkerView[];
  /** The listener's connection counters (accepted, handed off, dropped, ...). */
  connections: Readonly<Record<string, number>>;
  /** Connections waiting in the kernel's accept queue of the service socket (null: unknown: not Linux, a unix socket), and --backlog. */
  acceptQueue: { length: number | null; backlog: number };
  logs: { stdout: LogStreamStats; stderr: LogStreamStats };
}
