// The cgroup facts of this process, read from the cgroup filesystem (or a tree WARDEN_CGROUP_ROOT
// points at): the CPU quota (v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us) and the memory limit
// (v2 memory.max, v1 memory.limit_in_bytes). Parsers are pure; readers take the file reader, so tests
// use fixture trees. The decisions on these facts live in config/ (cpus.ts, memory.ts).

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { errnoCode } from '../errors.js';

export type ReadText = (path: string) => string | undefined;

/** The quota as a (possibly fractional) number of CPUs, or undefined when there is no limit. */
export function parseCgroupV2CpuMax(text: string): number | undefined {
  const [quota, period] = text.trim().split(/\s+/);
  if (quota === undefined || quota === 'max') return undefined;
  return ratio(Number(quota), period === undefined ? 100_000 : Number(period));
}

export function parseCgroupV1Quota(quotaText: string, periodText: string): number | undefined {
  // cfs_quota_us is -1 when unlimited.
  return ratio(Number(quotaText.trim()), Number(periodText.trim()));
}

function ratio(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return quota / period;
}

/**
 * The cgroup paths of this process from /proc/self/cgroup: the v2 path ("0::/a/b") and the v1 path of
 * the cpu controller ("4:cpu,cpuacct:/a/b"). Inside a container both are usually "/".
 */
export function parseProcCgroup(text: string): { v2?: string; v1cpu?: string } {
  const paths: { v2?: string; v1cpu?: string } = {};
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':', 3) as [string, string | undefined, string | undefined];
    if (path === undefined || controllers === undefined) continue;
    if (id === '0' && controllers === '') paths.v2 = path;
    else if (controllers.split(',').includes('cpu')) paths.v1cpu = path;
  }
  return paths;
}

/**
 * The CPU quota in CPUs for this process, or undefined when no cgroup limits it. Looks at the
 * process's own cgroup and then the mount root, because a container often sees its own cgroup as "/".
 */
export function cgroupCpuQuota(read: ReadText, root = '/sys/fs/cgroup'): number | undefined {
  const procCgroup = read('/proc/self/cgroup');
  const paths = procCgroup === undefined ? {} : parseProcCgroup(procCgroup);
  const quotas: number[] = [];
  for (const dir of unique([paths.v2, '/'])) {
    if (dir === undefined) continue;
    const text = read(join(root, dir, 'cpu.max'));
    const quota = text === undefined ? undefined : parseCgroupV2CpuMax(text);
    if (quota !== undefined) quotas.push(quota);
  }
  for (const base of ['cpu', 'cpu,cpuacct', 'cpuacct,cpu']) {
    for (const dir of unique([paths.v1cpu, '/'])) {
      if (dir === undefined) continue;
      const quotaText = read(join(root, base, dir, 'cpu.cfs_quota_us'));
      const periodText = read(join(root, base, dir, 'cpu.cfs_period_us'));
      if (quotaText === undefined || periodText === undefined) continue;
      const quota = parseCgroupV1Quota(quotaText, periodText);
      if (quota !== undefined) quotas.push(quota);
    }
  }
  return quotas.length === 0 ? undefined : Math.min(...quotas);
}

export function readTextFile(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = errnoCode(error);
    // Missing controller files are normal: no cgroup, other cgroup version, or not Linux.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES') return undefined;
    throw error;
  }
}

/**
 * Where the cgroup filesystem is mounted: /sys/fs/cgroup, or WARDEN_CGROUP_ROOT, which points warden
 * at another tree (a test's fake cgroup, or a container runtime that mounts it elsewhere).
 */
export function cgroupRoot(env: Readonly<Record<string, string | undefined>>): string {
  const root = env.WARDEN_CGROUP_ROOT;
  return root === undefined || root === '' ? '/sys/fs/cgroup' : root;
}

/**
 * v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages rounded down: 9223372036854771712
 * on 4 KiB pages); anything at or above 2^60 bytes (1 EiB) is treated as no limit.
 */
const V1_UNLIMITED_BYTES = 2 ** 60;

/** cgroup v2 memory.max: "max" or a byte count. */
export function parseCgroupV2MemoryMax(text: string): number | undefined {
  const value = text.trim();
  if (value === 'max' || !/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes > 0 ? bytes : undefined;
}

/** cgroup v1 memory.limit_in_bytes: a byte count, where "unlimited" is a number near 2^63. */
export function parseCgroupV1MemoryLimit(text: string): number | undefined {
  const value = text.trim();
  if (!/^\d+$/.test(value)) return undefined;
  const bytes = Number(value);
  return bytes > 0 && bytes < V1_UNLIMITED_BYTES ? bytes : undefined;
}

/** The v1 path of the memory controller from /proc/self/cgroup ("12:memory:/a/b"). */
export function parseProcCgroupV1Memory(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':', 3) as [string, string | undefined, string | undefined];
    if (path === undefined || controllers === undefined || id === '0') continue;
    if (controllers.split(',').includes('memory')) return path;
  }
  return undefined;
}

/**
 * The memory limit in bytes of this process's cgroup, or undefined when none is set. Like the CPU
 * quota, it looks at the process's own cgroup and at the mount root (a container often sees its own
 * cgroup as "/"), and takes the smallest limit found.
 */
export function cgroupMemoryLimit(read: ReadText, root = '/sys/fs/cgroup'): number | undefined {
  const procCgroup = read('/proc/self/cgroup');
  const v2Path = procCgroup === undefined ? undefined : parseProcCgroup(procCgroup).v2;
  const v1Path = procCgroup === undefined ? undefined : parseProcCgroupV1Memory(procCgroup);
  const limits: number[] = [];
  for (const dir of new Set([v2Path, '/'])) {
    if (dir === undefined) continue;
    const text = read(join(root, dir, 'memory.max'));
    const limit = text === undefined ? undefined : parseCgroupV2MemoryMax(text);
    if (limit !== undefined) limits.push(limit);
  }
  for (const dir of new Set([v1Path, '/'])) {
    if (dir === undefined) continue;
    const text = read(join(root, 'memory', dir, 'memory.limit_in_bytes'));
    const limit = text === undefined ? undefined : parseCgroupV1MemoryLimit(text);
    if (limit !== undefined) limits.push(limit);
  }
  return limits.length === 0 ? undefined : Math.min(...limits);
}

function unique<T>(items: T[]): T[] {
  return [...new Set(items)];
}
