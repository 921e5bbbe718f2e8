// The primary's recurring work: the machine's Tick, the listener's sweep, --probe-path's periodic
// probes, --reload's source watch and, with --workers MIN..MAX, the load sample the autoscaling rule reads. Each timer only puts an event on the queue or calls the one
// owner of the thing it touches; `cancel()` stops them all (at shutdown).

import { dirname } from 'node:path';
import type { Clock } from '../clock.js';
import type { ServeOptions } from '../config/options.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import type { MachineEvent, MachineState } from './machine/index.js';
import { watchSources } from './source-watch.js';

export const TICK_MS = 50;
const SWEEP_MS = 100;
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
  probe(id: number, path: string, timeoutMs: number): void;
  /** The accept queue (and the memory limit's workers once measured), for LoadSampled. */
  sampleLoad(): { acceptQueue: number | null; memoryAllows?: number };
}

export function startSchedule(on: Scheduled): { cancel(): void } {
  const { clock, options } = on;
  const timers = [clock.setInterval(() => on.dispatch({ type: 'Tick' }), TICK_MS), clock.setInterval(() => on.sweep(), SWEEP_MS)];
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
    cancel() {
      for (const timer of timers) timer.cancel();
      sourceWatch?.close();
    },
  };
}
