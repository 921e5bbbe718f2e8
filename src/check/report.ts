// `warden check`'s vocabulary: the options it takes, the faults it can inject, the report it returns.
// Types and defaults only, shared by the check's parts (plan, faults, watch, run-check) and format.ts.

import type { CheckJudgement } from './verdict.js';
import type { WardenIncident } from './warden-admin.js';

export type Fault = 'stop' | 'spin';
export const FAULTS: readonly Fault[] = ['stop', 'spin'];

export type CheckTarget =
  | { kind: 'warden'; adminUrl: string }
  | { kind: 'pid'; pid: number; healthUrl: string; serviceUrl: string };

export interface CheckOptions {
  target: CheckTarget;
  /** Overrides `<admin>/readyz` for the warden target. */
  healthUrl?: string;
  /** Overrides `http://<listen host>:<listen port>/` for the warden target. */
  serviceUrl?: string;
  /** How long to watch after the freeze. */
  durationMs: number;
  /** Period of health polls, requests and replacement checks. */
  intervalMs: number;
  /** Deadline of each health poll and request. */
  requestTimeoutMs: number;
  /** warden target: the slot to freeze (default: the ready worker with the lowest slot).
   *  pid target: the n-th child by start time (default: the oldest). */
  slot?: number;
  /** How to freeze the worker; default 'stop'. */
  fault?: Fault;
}

export const CHECK_DEFAULTS = {
  adminUrl: 'http://127.0.0.1:9000',
  fault: 'stop',
  durationMs: 20_000,
  intervalMs: 100,
  requestTimeoutMs: 2_000,
} as const;

/**
 * How the frozen process was left: resumed by us (stop), gone (the server killed it), already
 * running (stop), or killed by us because warden had not replaced the spinning worker (spin).
 */
export type RestoredBy = 'SIGCONT' | 'already-exited' | 'not-stopped' | 'SIGKILL';

export interface CheckReport extends CheckJudgement {
  target: { kind: 'warden'; adminUrl: string; primaryPid: number | null } | { kind: 'pid'; pid: number };
  healthUrl: string;
  serviceUrl: string;
  fault: Fault;
  /** slot: warden's slot, or the position among the primary's children (1 = oldest). */
  frozen: { pid: number; slot: number };
  /** Workers seen before the freeze. */
  workerCount: number;
  windowMs: number;
  elapsedMs: number;
  /** The watch stopped before windowMs: the worker was replaced, the frozen process was gone and health was green again. */
  endedEarly: boolean;
  restoredBy: RestoredBy;
  /** What warden recorded about the frozen worker (warden target); null when it recorded nothing or could not be asked. */
  incident: WardenIncident | null;
}

export interface CheckIo {
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Milliseconds on a monotonic clock; default performance.now. */
  now?: () => number;
}
