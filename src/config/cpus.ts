// How many CPUs this process may really use: the smaller of Node's availableParallelism() and the
// cgroup CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up, at least 1.
// The cgroup facts come from os/cgroup.ts.

import { availableParallelism } from 'node:os';
import { cgroupCpuQuota, readTextFile, type ReadText } from '../os/cgroup.js';

/** `--workers auto`: min(availableParallelism, cgroup quota rounded up), at least 1. */
export function usableCpuCount(parallelism: number, quota: number | undefined): number {
  const limit = quota === undefined ? parallelism : Math.min(parallelism, Math.ceil(quota));
  return Math.max(1, limit);
}

export function detectCpuCount(read: ReadText = readTextFile, root?: string): number {
  return usableCpuCount(availableParallelism(), cgroupCpuQuota(read, root));
}
