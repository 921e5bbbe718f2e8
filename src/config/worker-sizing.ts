// `--workers auto` in a container: the facts (usable CPUs, the cgroup memory limit, the primary's
// RSS) are read once at startup; the decisions on them are pure. Before any worker has run, a worker's
// RSS is an estimate; once the first worker is ready the supervisor measures it and calls
// `workersThatFit` again with the real figure (see docs/kubernetes.md, "auto in a container").

import { cgroupMemoryLimit, cgroupRoot, readTextFile, type ReadText } from '../os/cgroup.js';
import { detectCpuCount } from './cpus.js';
import { explicitWorkersWarning, workersThatFit, type Fit, type SizingFacts } from './memory.js';
import { LOG_EVENTS, type LogEvent } from '../log/events.js';

/**
 * RSS of one worker before any is measured: a warden worker serving a tiny node:http app on Node 20
 * measured 55 MB (docs/kubernetes.md); a real app only adds to it, so this is a floor.
 */
export const WORKER_RSS_ESTIMATE_BYTES = 50 * 1024 * 1024;

export type { SizingFacts };

export function readSizingFacts(env: Readonly<Record<string, string | undefined>>, read: ReadText = readTextFile): SizingFacts {
  const root = cgroupRoot(env);
  return {
    cpuCount: detectCpuCount(read, root),
    limitBytes: cgroupMemoryLimit(read, root),
    primaryRssBytes: process.memoryUsage.rss(),
    workerRssBytes: WORKER_RSS_ESTIMATE_BYTES,
  };
}

/** `--workers auto` at startup: the CPUs, lowered to what the memory limit holds with the estimate. */
export function autoWorkers(facts: SizingFacts): Fit {
  return workersThatFit(facts);
}

export interface StartupNote {
  level: 'info' | 'warn';
  event: LogEvent;
  msg: string;
  fields: Record<string, unknown>;
}

/**
 * What to log about the worker count: why `auto` chose fewer workers than the CPUs allow, or a
 * warning when an explicit count does not fit the memory limit. `auto` is the Fit when the count
 * came from `--workers auto`.
 */
export function startupNotes(facts: SizingFacts, workers: number, auto: Fit | undefined): StartupNote[] {
  const fields = { workers, cpuCount: facts.cpuCount, memoryLimitBytes: facts.limitBytes ?? null, primaryRssBytes: facts.primaryRssBytes, workerRssBytes: facts.workerRssBytes };
  if (auto !== undefined) {
    if (auto.limitedBy !== 'memory') return [];
    return [{ level: 'info', event: LOG_EVENTS.workersSized, msg: `--workers auto: ${auto.workers} worker${auto.workers === 1 ? '' : 's'}, set by memory: ${auto.reason}`, fields: { ...fields, limitedBy: 'memory' } }];
  }
  const warning = explicitWorkersWarning(workers, facts);
  return warning === undefined ? [] : [{ level: 'warn', event: LOG_EVENTS.workersMemoryWarning, msg: warning, fields }];
}
