// What step() takes and gives back: the events (facts, in the past tense) the machine reacts to and
// the effects (commands) it asks the shell to carry out; the shell reports their results as events.
// Pure data: no I/O, no timers, no process handles.

import type { LogEvent } from '../../log/events.js';
import type { Level } from '../../log/logger.js';
import type { HeartbeatStats, SerializedError } from '../../protocol/messages.js';
import type { HaltInfo, MachineState } from './types.js';
import type { ProbeAnswer } from './verdicts.js';

export type MachineEvent =
  | { type: 'Tick' }
  | { type: 'WorkerSpawned'; id: number; pid: number }
  /** The worker reported a SIGTERM sent to it (not by warden): replace it gracefully. */
  | { type: 'WorkerSigtermReceived'; id: number }
  | { type: 'WorkerSpawnFailed'; id: number; error: SerializedError }
  | { type: 'WorkerReady'; id: number }
  | { type: 'WorkerBootFailed'; id: number; error: SerializedError }
  | { type: 'WorkerCrashed'; id: number; error: SerializedError }
  | { type: 'WorkerExited'; id: number; code: number | null; signal: string | null }
  | { type: 'HeartbeatReceived'; id: number; stats: HeartbeatStats }
  | { type: 'ProbeSucceeded'; id: number }
  | { type: 'ProbeFailed'; id: number; reason: string }
  /** Both sides of a CompareProbe came back (each answered, failed, or ran out of time). */
  | { type: 'ComparisonProbed'; id: number; peerId: number; suspect: ProbeAnswer; peer: ProbeAnswer }
  | { type: 'SignalReceived'; signal: 'SIGTERM' | 'SIGINT' | 'SIGQUIT' }
  /** The evidence asked for by a CaptureStack effect is in (or could not be had). */
  | { type: 'StackCaptured'; id: number }
  /** SIGHUP, `warden reload` or a file change; `requestId` 0 when nobody waits for the outcome. */
  | { type: 'ReloadRequested'; requestId: number; source: string }
  /** SIGTTIN/SIGTTOU or `warden scale`: an absolute target, or a step up or down. */
  | { type: 'ScaleRequested'; requestId: number; source: string; workers?: number; delta?: number }
  /**
   * About once a second with --workers MIN..MAX: the accept queue (null: unknown) and, once the first
   * worker's RSS is measured, the workers the memory limit holds. The autoscaling rule decides on it.
   */
  | { type: 'LoadSampled'; acceptQueue: number | null; memoryAllows?: number };

export type Effect =
  | { type: 'Spawn'; id: number; slot: number; generation: number; workerCount: number }
  | { type: 'Signal'; id: number; pid: number; signal: 'SIGKILL' | 'SIGTERM' }
  | { type: 'Drain'; id: number; reason: string }
  /** Take the stalled worker's JavaScript stack, then report StackCaptured; the kill waits for it. */
  | { type: 'CaptureStack'; id: number; pid: number; slot: number; reason: string }
  /** Ask a stuck or unhealthy worker for its requests in flight, for the incident record. */
  | { type: 'ReportRequests'; id: number; slot: number; reason: string }
  /** Record a memory recycle (RSS trend; heap snapshot if asked) before the worker drains. */
  | { type: 'ReportMemory'; id: number; slot: number; reason: string }
  /** Probe this worker now (a reload waits for the new worker's first probe). */
  | { type: 'Probe'; id: number }
  /** Send the same GET to quarantined worker `id` and to peer `peerId` at once, each bounded by `timeoutMs`. */
  | { type: 'CompareProbe'; id: number; peerId: number; timeoutMs: number }
  /** Tell the control requests waiting on a reload or scale how it goes; `done` ends them. */
  | { type: 'Notify'; requestIds: number[]; message: string; done?: { ok: boolean } }
  | { type: 'CloseListener' }
  | { type: 'Log'; level: Level; event: LogEvent; msg: string; fields: Record<string, unknown> }
  | { type: 'Exit'; code: number; halt: HaltInfo | undefined };

export interface StepResult {
  state: MachineState;
  effects: Effect[];
}

/** The event of one type, for the handlers a dispatch table maps each type to. */
export type EventOf<T extends MachineEvent['type']> = Extract<MachineEvent, { type: T }>;
