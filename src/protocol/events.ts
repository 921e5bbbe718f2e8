// The programmatic API's events (serve() handle's `on(...)`), declared once: what each one carries,
// and which of the machine's log events become one. The supervisor calls `domainEvent` on each log
// effect and hands the typed event to its observer (api/serve.ts); nothing else reads log fields back.
// Pure.

import { LOG_EVENTS, type LogEvent } from '../log/events.js';

export interface WorkerEvent {
  slot: number;
  generation: number;
  pid: number | null;
  /** The log line warden wrote for it. */
  message: string;
}

export interface WorkerExitEvent extends WorkerEvent {
  code: number | null;
  signal: string | null;
  reason: string | null;
  /** Warden stopped it on purpose (drain, recycle, stop) rather than it dying. */
  planned: boolean;
}

export interface ReloadEvent {
  generation: number;
  /** The slot where a failed reload stopped, and the new worker's error. */
  slot: number | null;
  error: string | null;
  message: string;
}

export interface WardenEvents {
  workerReady: [WorkerEvent];
  /** Missed its heartbeat window: out of rotation until it answers. */
  workerLate: [WorkerEvent];
  /** No heartbeat for --timeout: being killed and replaced. */
  workerStalled: [WorkerEvent];
  /** Answered none of its requests for --stuck-after while others answered: being recycled. */
  workerStuck: [WorkerEvent];
  workerExited: [WorkerExitEvent];
  /** A rolling reload completed: every slot runs the new generation. */
  reloadDone: [ReloadEvent];
  /** A rolling reload stopped at a slot whose new worker could not start; the old ones keep serving. */
  reloadFailed: [ReloadEvent];
}

export type WardenEventName = keyof WardenEvents;

/** One API event, its name with its payload. */
export type DomainEvent = { [K in WardenEventName]: { name: K; payload: WardenEvents[K][0] } }[WardenEventName];

/** Told every API event as the primary raises it. */
export type DomainObserver = (event: DomainEvent) => void;

/** Which machine log events become which API events. */
const EVENT_NAMES: Partial<Record<LogEvent, WardenEventName>> = {
  [LOG_EVENTS.workerReady]: 'workerReady',
  [LOG_EVENTS.workerLate]: 'workerLate',
  [LOG_EVENTS.workerStalled]: 'workerStalled',
  [LOG_EVENTS.workerStuck]: 'workerStuck',
  [LOG_EVENTS.workerExited]: 'workerExited',
  [LOG_EVENTS.reloadCompleted]: 'reloadDone',
  [LOG_EVENTS.reloadFailed]: 'reloadFailed',
};

/** The API event a machine log effect stands for, or undefined when it stands for none. */
export function domainEvent(event: LogEvent, fields: Readonly<Record<string, unknown>>, message: string): DomainEvent | undefined {
  const name = EVENT_NAMES[event];
  if (name === undefined) return undefined;
  if (name === 'reloadDone' || name === 'reloadFailed') {
    return { name, payload: { generation: fields.generation as number, slot: (fields.slot as number | undefined) ?? null, error: (fields.error as string | undefined) ?? null, message } };
  }
  // A worker event always names its slot; one without (never emitted today) is not an API event.
  if (typeof fields.slot !== 'number') return undefined;
  const worker: WorkerEvent = { slot: fields.slot, generation: fields.generation as number, pid: (fields.pid as number | undefined) ?? null, message };
  if (name !== 'workerExited') return { name, payload: worker };
  return {
    name,
    payload: {
      ...worker, code: (fields.code as number | null | undefined) ?? null, signal: (fields.signal as string | null | undefined) ?? null,
      reason: (fields.reason as string | undefined) ?? null, planned: fields.planned === true,
    },
  };
}
