// Unit tests of how `warden check` reads warden's `/workers` and `/incidents` JSON: validation, which
// worker it freezes, what counts as a replacement, which incident is the frozen worker's, and the
// URLs it derives. No processes, no sockets.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { isWardenError } from '../../src/errors.js';
import {
  adminEndpoint,
  type AdminWorkers,
  incidentFor,
  parseIncidents,
  parseWorkers,
  pickWorker,
  replacementInSlot,
  serviceUrlFromListen,
  type WardenIncident,
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

function list(workers: Array<{ slot: number; pid: number | null; state: string; inspectPort?: number }>): AdminWorkers {
  return {
    primaryPid: 123,
    listen: { host: '127.0.0.1', port: 8000 },
    workers: workers.map((worker) => ({ ...worker, inspectPort: worker.inspectPort ?? null })),
  };
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
  test('keeps slot, pid, state and inspector port and ignores fields it does not need', () => {
    const parsed = parseWorkers(sample([{ slot: 1, generation: 1, pid: 456, state: 'ready', restarts: 0, inspectPort: 40111, extra: true }]), SOURCE);
    assert.deepEqual(parsed, {
      primaryPid: 123,
      listen: { host: '127.0.0.1', port: 8000 },
      workers: [{ slot: 1, pid: 456, state: 'ready', inspectPort: 40111 }],
    });
  });

  test('an inspector port that is null or absent (an older warden) is null; a malformed one is refused', () => {
    const parsed = parseWorkers(sample([{ slot: 1, pid: 10, state: 'ready', inspectPort: null }, { slot: 2, pid: 20, state: 'ready' }]), SOURCE);
    assert.deepEqual(parsed.workers.map((worker) => worker.inspectPort), [null, null]);
    assertCheckError(() => parseWorkers(sample([{ slot: 1, pid: 10, state: 'ready', inspectPort: 70000 }]), SOURCE), /workers\[0\]\.inspectPort must be a port number or null/);
  });

  test('accepts an empty slot (pid null), as warden lists a slot waiting out a restart backoff', () => {
    const parsed = parseWorkers(sample([{ slot: 1, pid: null, state: 'exited' }, { slot: 2, pid: 20, state: 'ready' }]), SOURCE);
    assert.deepEqual(parsed.workers[0], { slot: 1, pid: null, state: 'exited', inspectPort: null });
    assert.deepEqual(pickWorker(parsed, undefined, SOURCE), { slot: 2, pid: 20, inspectPort: null });
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
      { slot: 2, pid: 20, state: 'ready', inspectPort: 40002 },
      { slot: 1, pid: 10, state: 'booting', inspectPort: 40001 },
      { slot: 3, pid: 30, state: 'ready', inspectPort: 40003 },
    ]);
    assert.deepEqual(pickWorker(workers, undefined, SOURCE), { slot: 2, pid: 20, inspectPort: 40002 });
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

describe('incidents', () => {
  const stalled: WardenIncident = {
    at: '2025-06-01T10:00:05.000Z',
    slot: 1,
    pid: 10,
    kind: 'stalled',
    reason: 'no heartbeat for 2.0s',
    stack: '    at wardenCheckBusyLoop (warden-check-busy-loop.js:1:47)',
  };

  test('parseIncidents keeps the printed fields of each well-formed record and skips the others', () => {
    const parsed = parseIncidents({
      incidents: [
        { ...stalled, generation: 1, requests: { inFlight: 0 } },
        { at: '2025-06-01T10:00:06.000Z', slot: 2, generation: 1, pid: 20, kind: 'stalled', reason: 'r', noStack: 'no stack: inspector did not open' },
        { at: '2025-06-01T10:00:07.000Z', slot: 3, pid: null, kind: 'crashed', reason: 'boom', stack: 42 },
        { slot: 4, pid: 40, kind: 'stalled', reason: 'no time' },
        'not a record',
      ],
    });
    assert.deepEqual(parsed, [
      stalled,
      { at: '2025-06-01T10:00:06.000Z', slot: 2, pid: 20, kind: 'stalled', reason: 'r', noStack: 'no stack: inspector did not open' },
      { at: '2025-06-01T10:00:07.000Z', slot: 3, pid: null, kind: 'crashed', reason: 'boom' },
    ]);
  });

  test('parseIncidents answers null for a body that is not an incident list', () => {
    assert.equal(parseIncidents({ workers: [] }), null);
    assert.equal(parseIncidents([]), null);
  });

  test('incidentFor picks the latest record of the pid since the fault, not an older one of a reused pid', () => {
    const since = Date.parse('2025-06-01T10:00:00.000Z');
    const older = { ...stalled, at: '2025-06-01T09:00:00.000Z', reason: 'an earlier process with pid 10' };
    const later = { ...stalled, at: '2025-06-01T10:00:09.000Z', kind: 'crashed' };
    const other = { ...stalled, pid: 11 };
    assert.equal(incidentFor([older, stalled, other], 10, since), stalled);
    assert.equal(incidentFor([later, stalled], 10, since), later);
    assert.equal(incidentFor([older, other], 10, since), null);
    assert.equal(incidentFor([], 10, since), null);
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
