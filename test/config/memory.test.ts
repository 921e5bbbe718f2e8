// Memory-aware `--workers auto`: the cgroup memory limit read from fixture trees (v1, v2, nested,
// unlimited) and the fit rule with plain numbers.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { explicitWorkersWarning, workersThatFit } from '../../src/config/memory.js';
import { cgroupMemoryLimit, parseCgroupV1MemoryLimit, parseCgroupV2MemoryMax, readTextFile } from '../../src/os/cgroup.js';
import { checkWorkersRange, startupNotes, type SizingFacts } from '../../src/config/worker-sizing.js';
import { WardenError } from '../../src/errors.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/cgroup/', import.meta.url));
const MiB = 1024 * 1024;

function reader(name: string) {
  const root = join(FIXTURES, name);
  return (path: string) => readTextFile(path === '/proc/self/cgroup' ? join(root, 'proc-self-cgroup') : join(root, path));
}

test('cgroup v2 memory.max 536870912 is a 512 MiB limit', () => {
  assert.equal(cgroupMemoryLimit(reader('v2-memory-limit')), 512 * MiB);
});

test('cgroup v2 memory.max "max" is no limit', () => {
  assert.equal(cgroupMemoryLimit(reader('v2-memory-unlimited')), undefined);
});

test("the process's own nested v2 cgroup is read (256 MiB under an unlimited root)", () => {
  assert.equal(cgroupMemoryLimit(reader('v2-memory-nested')), 256 * MiB);
});

test('cgroup v1 memory.limit_in_bytes 1073741824 is a 1 GiB limit', () => {
  assert.equal(cgroupMemoryLimit(reader('v1-memory-limit')), 1024 * MiB);
});

test("cgroup v1's unlimited value (9223372036854771712) is no limit", () => {
  assert.equal(cgroupMemoryLimit(reader('v1-memory-unlimited')), undefined);
  assert.equal(parseCgroupV1MemoryLimit('9223372036854771712'), undefined);
});

test('no memory files at all (a CPU-only tree, or not Linux): no limit', () => {
  assert.equal(cgroupMemoryLimit(reader('v2-limit')), undefined);
  assert.equal(cgroupMemoryLimit(reader('none')), undefined);
});

test('malformed or zero limits are ignored, not trusted', () => {
  assert.equal(parseCgroupV2MemoryMax('lots'), undefined);
  assert.equal(parseCgroupV2MemoryMax('0'), undefined);
  assert.equal(parseCgroupV2MemoryMax('-5'), undefined);
  assert.equal(parseCgroupV1MemoryLimit(''), undefined);
});

// The rule: floor((0.8 × limit − primary) / worker), at least 1, at most the CPU count.
test('512 MiB, primary 60 MiB, workers of 100 MiB: floor((409.6 − 60) / 100) = 3 workers, memory sets it below 8 CPUs', () => {
  const fit = workersThatFit({ cpuCount: 8, limitBytes: 512 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 100 * MiB });
  assert.equal(fit.workers, 3);
  assert.equal(fit.limitedBy, 'memory');
  assert.equal(fit.memoryAllows, 3);
  assert.match(fit.reason, /80% of the 512 MiB memory limit, less 60 MiB for the primary, fits 3 workers of 100 MiB, fewer than the 8 usable CPUs/);
});

test('when memory holds more workers than there are CPUs, the CPUs decide', () => {
  const fit = workersThatFit({ cpuCount: 2, limitBytes: 4096 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 100 * MiB });
  assert.equal(fit.workers, 2);
  assert.equal(fit.limitedBy, 'cpu');
  assert.equal(fit.memoryAllows, 32);
});

test('exactly at the boundary: (0.8 × 1000 − 200) / 150 = 4 workers', () => {
  assert.equal(workersThatFit({ cpuCount: 16, limitBytes: 1000, primaryRssBytes: 200, workerRssBytes: 150 }).workers, 4);
  assert.equal(workersThatFit({ cpuCount: 16, limitBytes: 1000, primaryRssBytes: 201, workerRssBytes: 150 }).workers, 3);
});

test('a limit too small for even one worker still runs one, and says it may run out of memory', () => {
  const fit = workersThatFit({ cpuCount: 4, limitBytes: 100 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 80 * MiB });
  assert.equal(fit.workers, 1);
  assert.equal(fit.memoryAllows, 0);
  assert.match(fit.reason, /running 1 anyway/);
});

test('no memory limit: the CPU count alone, at least 1', () => {
  assert.deepEqual(workersThatFit({ cpuCount: 6, limitBytes: undefined, primaryRssBytes: 60 * MiB, workerRssBytes: 100 * MiB }).workers, 6);
  assert.equal(workersThatFit({ cpuCount: 0, limitBytes: undefined, primaryRssBytes: 0, workerRssBytes: 1 }).workers, 1);
});

test('explicit --workers above what fits gets a warning naming the figures; one that fits gets none', () => {
  const input = { limitBytes: 512 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 100 * MiB };
  const warning = explicitWorkersWarning(5, input);
  assert.ok(warning !== undefined, 'a warning for 5 workers');
  assert.match(warning, /--workers 5 may not fit in the memory limit: 80% of the 512 MiB memory limit.*fits 3 workers of 100 MiB \(5 need about 560 MiB\)/);
  assert.equal(explicitWorkersWarning(3, input), undefined);
  assert.equal(explicitWorkersWarning(64, { ...input, limitBytes: undefined }), undefined);
});

test('startup notes: auto set by memory is logged as info with the reason; auto set by CPUs says nothing extra', () => {
  const facts: SizingFacts = { cpuCount: 8, limitBytes: 512 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 100 * MiB };
  const byMemory = workersThatFit(facts);
  const notes = startupNotes(facts, byMemory.workers, byMemory);
  assert.equal(notes.length, 1);
  assert.equal(notes[0]?.level, 'info');
  assert.equal(notes[0]?.event, 'workers.sized');
  assert.match(notes[0]?.msg ?? '', /^--workers auto: 3 workers, set by memory: /);
  const byCpu = workersThatFit({ ...facts, limitBytes: undefined });
  assert.deepEqual(startupNotes({ ...facts, limitBytes: undefined }, byCpu.workers, byCpu), []);
  const explicit = startupNotes(facts, 6, undefined);
  assert.equal(explicit[0]?.level, 'warn');
  assert.equal(explicit[0]?.event, 'workers.memory_warning');
});

test('--workers MIN..MAX: MAX past the cgroup CPU quota is refused, naming the quota and the range that fits', () => {
  const facts: SizingFacts = { cpuCount: 4, cpuQuota: 3.5, limitBytes: undefined, primaryRssBytes: 60 * MiB, workerRssBytes: 50 * MiB };
  assert.throws(() => checkWorkersRange({ min: 2, max: 8 }, facts), (error: unknown) => {
    assert.ok(error instanceof WardenError);
    assert.equal(error.code, 'WARDEN_CONFIG');
    assert.equal(error.message, '--workers 2..8: MAX 8 is more than the 4 CPUs the cgroup CPU quota allows (3.5 CPUs)');
    assert.equal(error.hint, 'lower MAX to 4 (--workers 2..4), or raise the CPU limit');
    return true;
  });
  assert.deepEqual(checkWorkersRange({ min: 2, max: 4 }, facts).caps, { cpuCount: 4, memoryAllows: undefined }, 'a 3.5 CPU quota rounds up, as --workers auto counts it');
});

test('--workers MIN..MAX: MAX past what the memory limit holds is refused with the figures', () => {
  const facts: SizingFacts = { cpuCount: 8, limitBytes: 512 * MiB, primaryRssBytes: 60 * MiB, workerRssBytes: 50 * MiB };
  assert.throws(() => checkWorkersRange({ min: 2, max: 8 }, facts), (error: unknown) => {
    assert.ok(error instanceof WardenError);
    assert.match(error.message, /^--workers 2\.\.8: MAX 8 does not fit in the memory limit: 80% of the 512 MiB memory limit, less 60 MiB for the primary, fits 6 workers of 50 MiB$/);
    assert.equal(error.hint, 'lower MAX to 6 (--workers 2..6), or raise the memory limit');
    return true;
  });
  assert.deepEqual(checkWorkersRange({ min: 2, max: 6 }, facts), { caps: { cpuCount: undefined, memoryAllows: 6 }, notes: [] });
});

test('--workers MIN..MAX with no CPU quota: MAX past the cores is allowed, with a warning', () => {
  const { caps, notes } = checkWorkersRange({ min: 2, max: 4 }, { cpuCount: 2, limitBytes: undefined, primaryRssBytes: 60 * MiB, workerRssBytes: 50 * MiB });
  assert.deepEqual(caps, { cpuCount: undefined, memoryAllows: undefined });
  assert.equal(notes.length, 1);
  assert.equal(notes[0]?.level, 'warn');
  assert.match(notes[0]?.msg ?? '', /MAX 4 is more than the 2 CPUs of this host \(no cgroup CPU quota caps it\)/);
});
