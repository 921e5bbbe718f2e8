// Tests of the /proc reader `warden check` uses to find workers: parsing /proc/<pid>/stat, and
// listing this test process's real children (Linux only; skipped elsewhere).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, test } from 'node:test';

import { hasProcFs, listChildren, parseStat, readStat } from '../../src/os/proc.js';

describe('parseStat', () => {
  test('reads state, ppid and start time after a command name holding spaces and parentheses', () => {
    const fields = Array.from({ length: 49 }, (_, i) => String(i + 3));
    fields[0] = 'T';
    fields[1] = '77';
    fields[19] = '123456';
    assert.deepEqual(parseStat(`4312 (node (worker) 1) ${fields.join(' ')}\n`), { pid: 4312, state: 'T', ppid: 77, startTime: 123456 });
  });

  test('answers null for text of another form', () => {
    assert.equal(parseStat(''), null);
    assert.equal(parseStat('4312 node S 1'), null);
  });
});

describe('listChildren', { skip: hasProcFs() ? false : 'needs Linux /proc' }, () => {
  test('lists the live children of a process, oldest first, and nothing for a process that is gone', async (t) => {
    const first = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    t.after(() => first.kill('SIGKILL'));
    const second = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    t.after(() => second.kill('SIGKILL'));
    const pids = listChildren(process.pid).map((child) => child.pid);
    assert.deepEqual(
      pids.filter((pid) => pid === first.pid || pid === second.pid),
      [first.pid, second.pid],
    );
    assert.equal(readStat(first.pid ?? 0)?.ppid, process.pid);
    assert.deepEqual(listChildren(2 ** 22 + 1), [], 'a pid above the kernel maximum has no children');
  });
});
