// `--workers auto` in a container: the facts (usable CPUs, the cgroup memory limit, the primary's
// RSS) are read once at startup; the decisions on them are pure. Before any worker has run, a worker's
// RSS is an estimate; once the first worker is ready the supervisor measures it and calls
// `workersThatFit` again with the real figure (see docs/kubernetes.md, "auto in a container").

import { cgroupCpuQuota, cgroupMemoryLimit, cgroupRoot, readTextFile, type ReadText } from '../os/cgroup.js';
import { detectCpuCount } from './cpus.js';
import { explicitWorkersWarning, memoryAllowance, workersThatFit, type Fit, type SizingFacts } from './memory.js';
import { WardenError } from '../errors.js';
import type { WorkersRange } from './options.js';
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
    cpuQuota: cgroupCpuQuota(read, root),
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

/** What caps `--workers MIN..MAX` while it runs: the quota's CPUs (rounded up) and the workers the memory limit holds. */
export interface RangeCaps {
  cpuCount: number | undefined;
  memoryAllows: number | undefined;
}

/**
 * `--workers MIN..MAX` against the sizing rule `auto` uses: MAX past the cgroup CPU quota or past what
 * the memory limit holds (with the worker RSS estimate, a floor) is refused, naming the figure and
 * the fix. Without a quota MAX may go past the cores (the note says so): the operator chose it.
 */
export function checkWorkersRange(range: WorkersRange, facts: SizingFacts): { caps: RangeCaps; notes: StartupNote[] } {
  const quota = facts.cpuQuota === undefined ? undefined : Math.max(1, Math.ceil(facts.cpuQuota));
  const text = `--workers ${range.min}..${range.max}`;
  if (quota !== undefined && range.max > quota) {
    throw new WardenError('WARDEN_CONFIG', `${text}: MAX ${range.max} is more than the ${quota} CPU${quota === 1 ? '' : 's'} the cgroup CPU quota allows (${facts.cpuQuota} CPUs)`, {
      hint: quota >= range.min ? `lower MAX to ${quota} (--workers ${range.min}..${quota}), or raise the CPU limit` : `lower the range to fit ${quota} CPU${quota === 1 ? '' : 's'}, or raise the CPU limit`,
    });
  }
  let memoryAllows: number | undefined;
  if (facts.limitBytes !== undefined && facts.workerRssBytes > 0) {
    const allowance = memoryAllowance({ ...facts, limitBytes: facts.limitBytes });
    memoryAllows = allowance.memoryAllows;
    if (range.max > memoryAllows) {
      throw new WardenError('WARDEN_CONFIG', `${text}: MAX ${range.max} does not fit in the memory limit: ${allowance.figures}`, {
        hint: memoryAllows >= range.min ? `lower MAX to ${memoryAllows} (--workers ${range.min}..${memoryAllows}), or raise the memory limit` : 'raise the memory limit, or lower the range',
      });
    }
  }
  const notes: StartupNote[] = [];
  const fields = { min: range.min, max: range.max, cpuCount: facts.cpuCount, cpuQuota: facts.cpuQuota ?? null, memoryLimitBytes: facts.limitBytes ?? null };
  if (quota === undefined && range.max > facts.cpuCount) {
    notes.push({ level: 'warn', event: LOG_EVENTS.workersSized, fields,
      msg: `${text}: MAX ${range.max} is more than the ${facts.cpuCount} CPU${facts.cpuCount === 1 ? '' : 's'} of this host (no cgroup CPU quota caps it); workers past ${facts.cpuCount} share the same CPUs` });
  }
  return { caps: { cpuCount: quota, memoryAllows }, notes };
}
