// Unit tests of how `warden check` reads warden's `/workers` JSON: validation, which worker it
// freezes, what counts as a replacement, and the URLs it derives. No processes, no sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isWardenError } from '../../src/errors.js';
import {
  adminEndpoint,
  type AdminWorkers,
  parseWorkers,
  pickWorker,
  replacementInSlot,
  serviceUrlFromListen,
} from '../../src/check/warden-admin.js';

const SOURCE = 'http://127.0.0.1:9000/';

function sample(workers: unknown[]): unknown {
  return {
    primary: {
      pid: 123,
      version: '0.1.0',
      phase: 'running',
      listen: { host: '127.0.0.1', port: 8000 },
      admin: { host: '127.0.0.1', port: 9000 },
    },
    workers,
  };
}

function list(workers: Array<{ slot: number; pid: number | null; state: string }>): AdminWorkers {
  return { primaryPid: 123, listen: { host: '127.0.0.1', port: 8000 }, workers };
}

function assertCheckError(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isWardenError(error), 'throws a WardenError');
    assert.equal(error.code, 'WARDEN_CHECK');
    assert.match(error.message, message);
    return true;
  });
}

describe('parseWorkers', () => {
  test('keeps slot, pid and state and ignores fields it does not need', () => {
    const parsed = parseWorkers(sample([{ slot: 1, generation: 1, pid: 456, state: 'ready', restarts: 0, extra: true }]), SOURCE);
    assert.deepEqual(parsed, { primaryPid: 123, listen: { host: '127.0.0.1', port: 8000 }, workers: [{ slot: 1, pid: 456, state: 'ready' }] });
  });

  test('accepts an empty slot (pid null), as warden lists a slot waiting out a restart backoff', () => {
    const parsed = parseWorkers(sample([{ slot: 1, pid: null, state: 'exited' }, { slot: 2, pid: 20, state: 'ready' }]), SOURCE);
    assert.deepEqual(parsed.workers[0], { slot: 1, pid: null, state: 'exited' });
    assert.deepEqual(pickWorker(parsed, undefined, SOURCE), { slot: 2, pid: 20 });
    assertCheckError(() => pickWorker(parsed, 1, SOURCE), /slot 1 \(pid none\) is "exited", not "ready"/);
  });

  test('names the first field that is missing or malformed', () => {
    assertCheckError(() => parseWorkers([], SOURCE), /the body must be a JSON object/);
    assertCheckError(() => parseWorkers({ workers: [] }, SOURCE), /primary must be an object/);
    assertCheckError(() => parseWorkers(sample([{ slot: 1, pid: '456', state: 'ready' }]), SOURCE), /workers\[0\]\.pid must be a positive integer/);
    const noPort = { primary: { listen: { host: '127.0.0.1' } }, workers: [] };
    assertCheckError(() => parseWorkers(noPort, SOURCE), /primary\.listen\.port must be a port number/);
  });
});

describe('pickWorker', () => {
  test('picks the ready worker with the lowest slot by default', () => {
    const workers = list([
      { slot: 2, pid: 20, state: 'ready' },
      { slot: 1, pid: 10, state: 'booting' },
      { slot: 3, pid: 30, state: 'ready' },
    ]);
    assert.deepEqual(pickWorker(workers, undefined, SOURCE), { slot: 2, pid: 20 });
  });

  test('skips a slot that lists two workers (a reload is under way)', () => {
    const workers = list([
      { slot: 1, pid: 10, state: 'ready' },
      { slot: 1, pid: 11, state: 'booting' },
      { slot: 2, pid: 20, state: 'ready' },
    ]);
    assert.equal(pickWorker(workers, undefined, SOURCE).pid, 20);
    assertCheckError(() => pickWorker(workers, 1, SOURCE), /slot 1 lists 2 workers/);
  });

  test('takes the requested slot, and refuses one that is missing or not ready', () => {
    const workers = list([
      { slot: 1, pid: 10, state: 'ready' },
      { slot: 2, pid: 20, state: 'draining' },
    ]);
    assert.equal(pickWorker(workers, 1, SOURCE).pid, 10);
    assertCheckError(() => pickWorker(workers, 2, SOURCE), /slot 2 \(pid 20\) is "draining", not "ready"/);
    assertCheckError(() => pickWorker(workers, 7, SOURCE), /no worker in slot 7 \(slots: 1, 2\)/);
  });

  test('refuses a warden with no ready worker', () => {
    assertCheckError(() => pickWorker(list([{ slot: 1, pid: 10, state: 'booting' }]), undefined, SOURCE), /no ready worker/);
  });
});

describe('replacementInSlot', () => {
  test('is the new pid in the frozen slot once it is ready, and null before', () => {
    assert.equal(replacementInSlot(list([{ slot: 1, pid: 10, state: 'ready' }]), 1, 10), null);
    assert.equal(replacementInSlot(list([{ slot: 1, pid: 11, state: 'booting' }]), 1, 10), null);
    assert.equal(replacementInSlot(list([{ slot: 2, pid: 21, state: 'ready' }]), 1, 10), null, 'another slot does not count');
    assert.equal(replacementInSlot(list([{ slot: 1, pid: null, state: 'exited' }]), 1, 10), null, 'an empty slot is not a replacement');
    assert.equal(replacementInSlot(list([{ slot: 1, pid: 10, state: 'stopping' }, { slot: 1, pid: 11, state: 'ready' }]), 1, 10), 11);
  });
});

describe('URLs', () => {
  test('admin endpoints keep a path prefix and drop a query', () => {
    assert.equal(adminEndpoint(new URL('http://127.0.0.1:9000'), 'workers').href, 'http://127.0.0.1:9000/workers');
    assert.equal(adminEndpoint(new URL('http://h:9000/warden?x=1'), 'readyz').href, 'http://h:9000/warden/readyz');
  });

  test('the service URL turns wildcard listen addresses into loopback', () => {
    assert.equal(serviceUrlFromListen({ host: '0.0.0.0', port: 8000 }).href, 'http://127.0.0.1:8000/');
    assert.equal(serviceUrlFromListen({ host: '::', port: 8000 }).href, 'http://[::1]:8000/');
    assert.equal(serviceUrlFromListen({ host: 'fe80::1', port: 8000 }).href, 'http://[fe80::1]:8000/');
    assert.equal(serviceUrlFromListen({ host: '10.0.0.5', port: 80 }).href, 'http://10.0.0.5/');
  });
});
