// The primary's recurring work: the machine's Tick, the listener's sweep, --probe-path's periodic
// probes, --reload's source watch and, with --workers MIN..MAX, the load sample the autoscaling rule reads. Each timer only puts an event on the queue or calls the one
// owner of the thing it touches; `cancel()` stops them all (at shutdown).
// The Tick (with the sweep) comes every TICK_MS while anything may be due; while the fleet is quiet
// (the machine's quietUntil) and the listener holds no connection, it waits until the quiet ends:
// an idle primary wakes for its workers' heartbeats and little else.

import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import type { ServeOptions } from '../config/options.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import { quietUntil, type MachineEvent, type MachineState } from './machine/index.js';
import { watchSources } from './source-watch.js';

export const TICK_MS = 50;
/** While quiet, a Tick comes at least this often all the same. */
const QUIET_TICK_MAX_MS = 1000;
/** With --workers MIN..MAX, a LoadSampled this often: the autoscaling rule's clock. */
export const LOAD_SAMPLE_MS = 1000;

export interface Scheduled {
  clock: Clock;
  log: Logger;
  options: ServeOptions;
  /** The app's module: --reload watches its directory when no --reload-dir is given. */
  modulePath: string;
  state(): MachineState;
  dispatch(event: MachineEvent): void;
  sweep(): void;
  /** The listener holds connections (hand-offs not yet acknowledged, or held): the sweep is due every Tick. */
  hasConnectionWork(): boolean;
  probe(id: number, path: string, timeoutMs: number): void;
  /** The accept queue (and the memory limit's workers once measured), for LoadSampled. */
  sampleLoad(): { acceptQueue: number | null; memoryAllows?: number };
}

export interface Schedule {
  /** After each batch of events (and when the listener takes a connection): the next Tick may be due sooner. */
  replan(): void;
  cancel(): void;
}

export function startSchedule(on: Scheduled): Schedule {
  const { clock, options } = on;
  const timers: { cancel(): void }[] = [];
  let tick: { cancel(): void } | undefined;
  let tickAt = Number.POSITIVE_INFINITY;
  let isCancelled = false;
  const replan = () => {
    if (isCancelled) return;
    const now = clock.now();
    // A Tick within TICK_MS is as soon as any would be: no need to ask the machine.
    if (tick !== undefined && tickAt <= now + TICK_MS) return;
    const quiet = on.hasConnectionWork() ? undefined : quietUntil(on.state(), now);
    const delayMs = quiet === undefined ? TICK_MS : Math.min(QUIET_TICK_MAX_MS, Math.max(TICK_MS, quiet - now));
    if (tick !== undefined && tickAt <= now + delayMs) return;
    tick?.cancel();
    tickAt = now + delayMs;
    tick = clock.setTimeout(() => {
      tick = undefined;
      tickAt = Number.POSITIVE_INFINITY;
      on.sweep();
      on.dispatch({ type: 'Tick' });
      replan();
    }, delayMs);
  };
  replan();
  const { probePath, probeTimeoutMs } = options;
  if (probePath !== undefined) {
    timers.push(clock.setInterval(() => {
      for (const worker of on.state().workers) if (worker.state === 'ready' && !worker.retiring) on.probe(worker.id, probePath, probeTimeoutMs);
    }, options.probeIntervalMs));
  }
  if (options.workersRange !== undefined) timers.push(clock.setInterval(() => on.dispatch({ type: 'LoadSampled', ...on.sampleLoad() }), LOAD_SAMPLE_MS));
  const sourceWatch = !options.reload ? undefined : watchSources(
    { dirs: options.reloadDirs.length > 0 ? options.reloadDirs : [dirname(on.modulePath)], include: options.reloadInclude, exclude: options.reloadExclude, debounceMs: 300 },
    (changed) => on.dispatch({ type: 'ReloadRequested', requestId: 0, source: `a change to ${changed}` }),
    (message) => on.log.log('warn', LOG_EVENTS.fileChanged, message, {}),
  );
  return {
    replan,
    cancel() {
      isCancelled = true;
      tick?.cancel();
      for (const timer of timers) timer.cancel();
      sourceWatch?.close();
    },
  };
}
