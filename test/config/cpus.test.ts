// `--workers auto`: the cgroup CPU quota read from fixture trees (v1, v2, nested, none, fractional).

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { usableCpuCount } from '../../src/config/cpus.js';
import { cgroupCpuQuota, parseCgroupV1Quota, parseCgroupV2CpuMax, readTextFile } from '../../src/os/cgroup.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/cgroup/', import.meta.url));

/** A reader rooted in a fixture folder: /proc/self/cgroup comes from proc-self-cgroup. */
function reader(name: string) {
  const root = join(FIXTURES, name);
  return (path: string) => readTextFile(path === '/proc/self/cgroup' ? join(root, 'proc-self-cgroup') : join(root, path));
}

test('cgroup v2 cpu.max "200000 100000" is 2 CPUs', () => {
  assert.equal(cgroupCpuQuota(reader('v2-limit')), 2);
  assert.equal(usableCpuCount(8, cgroupCpuQuota(reader('v2-limit'))), 2);
});

test('a fractional quota (1.5 CPUs) rounds up to 2 workers', () => {
  assert.equal(cgroupCpuQuota(reader('v2-fraction')), 1.5);
  assert.equal(usableCpuCount(8, 1.5), 2);
});

test('cgroup v2 "max" means no limit: all available CPUs', () => {
  assert.equal(cgroupCpuQuota(reader('v2-unlimited')), undefined);
  assert.equal(usableCpuCount(6, cgroupCpuQuota(reader('v2-unlimited'))), 6);
});

test("the process's own nested cgroup is read (0.5 CPU -> 1 worker)", () => {
  assert.equal(cgroupCpuQuota(reader('v2-nested')), 0.5);
  assert.equal(usableCpuCount(4, 0.5), 1);
});

test('cgroup v1 cfs_quota_us / cfs_period_us = 3 CPUs, capped by available parallelism', () => {
  assert.equal(cgroupCpuQuota(reader('v1-limit')), 3);
  assert.equal(usableCpuCount(2, 3), 2, 'never more than the CPUs the process may run on');
  assert.equal(usableCpuCount(16, 3), 3);
});

test('cgroup v1 quota -1 is unlimited', () => {
  assert.equal(cgroupCpuQuota(reader('v1-unlimited')), undefined);
});

test('no cgroup files at all: availableParallelism, at least 1', () => {
  assert.equal(cgroupCpuQuota(reader('none')), undefined);
  assert.equal(usableCpuCount(3, undefined), 3);
  assert.equal(usableCpuCount(0, undefined), 1);
});

test('malformed quota text is ignored, not trusted', () => {
  assert.equal(parseCgroupV2CpuMax('garbage'), undefined);
  assert.equal(parseCgroupV1Quota('0', '100000'), undefined);
});
