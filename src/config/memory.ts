// The memory side of `--workers auto`: the pure rule for how many workers fit in the cgroup memory
// limit (read by os/cgroup.ts). The runtime step (measure the first worker, then scale) is the
// supervisor's, which calls `workersThatFit` with the measured RSS.

import { megabytes } from '../units.js';

/** Share of the memory limit warden plans to use; the rest is headroom for spikes, GC and buffers. */
export const MEMORY_HEADROOM = 0.8;

/** What sizes the fleet: the CPUs, the memory limit and the RSS figures (read by worker-sizing.ts). */
export interface SizingFacts {
  /** Workers the CPUs allow (`usableCpuCount`): memory can only lower this. */
  cpuCount: number;
  /** The cgroup CPU quota in CPUs, undefined without one (what caps `--workers MIN..MAX`). */
  cpuQuota?: number | undefined;
  /** The cgroup memory limit, or undefined for none. */
  limitBytes: number | undefined;
  primaryRssBytes: number;
  /** RSS of one worker: measured once the first one is ready, or an estimate before that. */
  workerRssBytes: number;
}

export interface Fit {
  workers: number;
  /** What set the count: the CPUs, or the memory limit (then `reason` says why, for the log). */
  limitedBy: 'cpu' | 'memory';
  /** Workers the memory allows, before the CPU cap and the floor of 1; undefined without a limit. */
  memoryAllows: number | undefined;
  reason: string;
}

/** Share of the limit left for workers, and how many of them that holds (before any cap). */
export function memoryAllowance(input: Omit<SizingFacts, 'cpuCount'> & { limitBytes: number }): { memoryAllows: number; figures: string } {
  const budget = MEMORY_HEADROOM * input.limitBytes - Math.max(0, input.primaryRssBytes);
  const memoryAllows = Math.max(0, Math.floor(budget / input.workerRssBytes));
  const figures =
    `${Math.round(MEMORY_HEADROOM * 100)}% of the ${mib(input.limitBytes)} memory limit, ` +
    `less ${mib(input.primaryRssBytes)} for the primary, fits ${memoryAllows} worker${memoryAllows === 1 ? '' : 's'} of ${mib(input.workerRssBytes)}`;
  return { memoryAllows, figures };
}

/**
 * The rule: workers = floor((0.8 × limit − primary RSS) / worker RSS), at least 1, at most the CPU
 * count. With no limit (or no sensible RSS figure) the CPUs decide alone. One worker is the floor
 * even when it does not fit: a service that cannot start is worse than one the kernel may OOM-kill,
 * and the reason says so.
 */
export function workersThatFit(input: SizingFacts): Fit {
  const cpuCount = Math.max(1, Math.floor(input.cpuCount));
  const cpus = `${cpuCount} usable CPU${cpuCount === 1 ? '' : 's'}`;
  if (input.limitBytes === undefined || !(input.workerRssBytes > 0)) {
    return { workers: cpuCount, limitedBy: 'cpu', memoryAllows: undefined, reason: `${cpus}, no memory limit` };
  }
  const { memoryAllows, figures } = memoryAllowance({ ...input, limitBytes: input.limitBytes });
  if (memoryAllows >= cpuCount) return { workers: cpuCount, limitedBy: 'cpu', memoryAllows, reason: `${cpus}; ${figures}` };
  const floor = memoryAllows === 0 ? '; running 1 anyway, which may run out of memory' : '';
  return { workers: Math.max(1, memoryAllows), limitedBy: 'memory', memoryAllows, reason: `${figures}, fewer than the ${cpus}${floor}` };
}

/**
 * The startup warning for an explicit `--workers N` that does not fit the memory limit (a warning,
 * never a refusal: the operator may know better), or undefined when it fits or nothing is known.
 */
export function explicitWorkersWarning(workers: number, input: Omit<SizingFacts, 'cpuCount'>): string | undefined {
  if (input.limitBytes === undefined || !(input.workerRssBytes > 0)) return undefined;
  const { memoryAllows, figures } = memoryAllowance({ ...input, limitBytes: input.limitBytes });
  if (memoryAllows >= workers) return undefined;
  const needed = input.primaryRssBytes + workers * input.workerRssBytes;
  return `--workers ${workers} may not fit in the memory limit: ${figures} (${workers} need about ${mib(needed)}); ` +
    'the kernel may kill workers for lack of memory';
}

function mib(bytes: number): string {
  return megabytes(bytes, { unit: 'MiB' });
}
