// `warden check` against real processes: a node:cluster server (the trap), the same server with a
// heartbeat watchdog (passes), a stand-in warden admin server, an aborted run, and targets the
// check must refuse. Every frozen worker must be running again when runCheck returns or throws.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';

import { hasProcFs, readStat } from '../../src/os/proc.js';
import { type CheckOptions, type CheckReport, formatCheckReport, runCheck } from '../../src/check/run-check.js';
import { isWardenError } from '../../src/errors.js';
import { ownProcesses } from '../integration/harness.js';
import { abortOnceFrozen, type ClusterServer, pollUntil, startClusterPrimary } from './cluster-fixture.js';

// With the default round-robin policy Node's primary hands a stopped worker one more connection
// (then skips it, as it never acknowledges), so one health poll may hang. With "none" workers share
// the socket and a stopped one accepts nothing: health stays green, as in the field report.
const SHARED_SOCKET = { NODE_CLUSTER_SCHED_POLICY: 'none' };

function pidOptions(server: ClusterServer, durationMs: number): CheckOptions {
  return {
    target: {
      kind: 'pid',
      pid: server.pid,
      healthUrl: `http://127.0.0.1:${server.port}/health`,
      serviceUrl: `http://127.0.0.1:${server.port}/`,
    },
    durationMs,
    intervalMs: 100,
    requestTimeoutMs: 1_000,
  };
}

/** Runs the check, recording the frozen worker's /proc state the moment the check reports the freeze. */
async function runAndWatchFreeze(options: CheckOptions, signal?: AbortSignal): Promise<{ report: CheckReport; stateWhenFrozen: string | undefined; lines: string[] }> {
  const lines: string[] = [];
  let stateWhenFrozen: string | undefined;
  const report = await runCheck(options, {
    signal,
    log: (line) => {
      lines.push(line);
      const frozen = /^froze worker (\d+)/.exec(line);
      if (frozen !== null) stateWhenFrozen = readStat(Number(frozen[1]))?.state;
    },
  });
  return { report, stateWhenFrozen, lines };
}

async function assertRunning(pid: number): Promise<void> {
  const state = await pollUntil(() => readStat(pid)?.state, (s) => s !== 'T');
  assert.notEqual(state, 'T', `worker ${pid} is not left stopped`);
}

async function assertCheckRejects(promise: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isWardenError(error), `a WardenError, got ${String(error)}`);
    assert.equal(error.code, 'WARDEN_CHECK');
    assert.match(error.message, message);
    return true;
  });
}

describe('runCheck against a pid', { skip: hasProcFs() ? false : 'needs Linux /proc' }, () => {
  test('a node:cluster server stays green and never replaces a frozen worker: trap, and the worker is resumed', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
    const workersBefore = server.workers();
    assert.equal(workersBefore.length, 2);

    const { report, stateWhenFrozen } = await runAndWatchFreeze(pidOptions(server, 3_000));

    assert.equal(report.verdict, 'trap', formatCheckReport(report));
    assert.equal(report.frozen.pid, workersBefore[0], 'the oldest child is frozen by default');
    assert.equal(stateWhenFrozen, 'T', 'the worker really was stopped during the check');
    assert.equal(report.healthFirstRedAtMs, null, 'health stayed green');
    assert.ok(report.healthGreenAfterFreezeMs >= 2_900, `green for ${report.healthGreenAfterFreezeMs} ms`);
    assert.equal(report.replacedAtMs, null, 'not replaced');
    assert.equal(report.newPid, null);
    assert.equal(report.endedEarly, false);
    assert.equal(report.restoredBy, 'SIGCONT');
    assert.ok(report.requests.sent >= 20 && report.requests.sent <= 31, `${report.requests.sent} requests sent`);
    assert.ok(report.health.polls >= 20 && report.health.polls <= 31, `${report.health.polls} health polls`);
    assert.match(report.reasons.join('\n'), /was never replaced in 3\.0 s/);
    assert.match(report.reasons.join('\n'), /health stayed green for 3\.0 s/);
    await assertRunning(report.frozen.pid);
    assert.deepEqual(server.workers(), workersBefore, 'the same workers still run after the check');
  });

  test('with round-robin the frozen worker swallows a connection, and it is still a trap', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2 });
    const { report } = await runAndWatchFreeze(pidOptions(server, 3_000));
    assert.equal(report.verdict, 'trap', formatCheckReport(report));
    assert.equal(report.replacedAtMs, null);
    const unserved = report.health.failed + report.requests.failed + report.requests.timedOut;
    assert.ok(unserved >= 1, `a health poll or a request hung on the frozen worker:\n${formatCheckReport(report)}`);
    await assertRunning(report.frozen.pid);
  });

  test('a server whose watchdog kills the silent worker and forks another passes, and the check ends early', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: { ...SHARED_SOCKET, WATCHDOG_MS: '1000' } });
    const workersBefore = server.workers();

    const { report } = await runAndWatchFreeze(pidOptions(server, 10_000));

    assert.equal(report.verdict, 'pass', formatCheckReport(report));
    assert.ok(report.replacedAtMs !== null && report.replacedAtMs < 5_000, `replaced after ${report.replacedAtMs} ms`);
    assert.ok(report.frozenExitedAtMs !== null && report.frozenExitedAtMs <= report.replacedAtMs);
    assert.ok(report.newPid !== null && !workersBefore.includes(report.newPid), `new worker ${report.newPid}`);
    assert.deepEqual(
      server.workers().filter((pid) => pid !== report.newPid),
      workersBefore.filter((pid) => pid !== report.frozen.pid),
      'only the frozen worker was replaced',
    );
    assert.equal(report.restoredBy, 'already-exited');
    assert.equal(report.endedEarly, true);
    assert.ok(report.elapsedMs < 10_000, `watched ${report.elapsedMs} ms`);
  });

  test('an aborted check resumes the frozen worker and says so', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
    const controller = new AbortController();
    const watcher = abortOnceFrozen(controller);
    const run = runCheck(pidOptions(server, 20_000), { signal: controller.signal, log: watcher.log });
    const startedAt = Date.now();
    await assertCheckRejects(run, /^check aborted after 0\.\d s; resumed worker \d+ with SIGCONT$/);
    assert.ok(Date.now() - startedAt < 5_000, 'the abort ends the check promptly');
    assert.ok(watcher.frozenPid() > 0);
    await assertRunning(watcher.frozenPid());
  });

  test('refuses a pid without children, or no process at all, before freezing anything', async (t) => {
    const lonely = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    ownProcesses(t).own(lonely.pid, 'a process without children');
    const options = (pid: number): CheckOptions => ({
      target: { kind: 'pid', pid, healthUrl: 'http://127.0.0.1:1/health', serviceUrl: 'http://127.0.0.1:1/' },
      durationMs: 1_000,
      intervalMs: 100,
      requestTimeoutMs: 500,
    });
    await assertCheckRejects(runCheck(options(lonely.pid ?? 0)), /has no child processes/);
    await assertCheckRejects(runCheck(options(2 ** 22 + 1)), /no process with pid/);
  });

  test('refuses to start when the health URL is not answering', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
    const options = pidOptions(server, 1_000);
    if (options.target.kind !== 'pid') throw new Error('unreachable');
    options.target.healthUrl = `http://127.0.0.1:${await closedPort()}/health`;
    await assertCheckRejects(runCheck(options), /health URL .* is not green before any worker was frozen: ECONNREFUSED/);
    for (const pid of server.workers()) assert.notEqual(readStat(pid)?.state, 'T');
  });
});

describe('runCheck against warden', { skip: hasProcFs() ? false : 'needs Linux /proc' }, () => {
  test('reads /workers, freezes the lowest ready slot and sees the slot get a new ready pid: pass', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: { ...SHARED_SOCKET, WATCHDOG_MS: '1000' } });
    const admin = await startStandInAdmin(t, server);

    const { report, stateWhenFrozen } = await runAndWatchFreeze({
      target: { kind: 'warden', adminUrl: admin },
      durationMs: 10_000,
      intervalMs: 100,
      requestTimeoutMs: 1_000,
    });

    assert.equal(report.verdict, 'pass', formatCheckReport(report));
    assert.deepEqual(report.target, { kind: 'warden', adminUrl: `${admin}/`, primaryPid: server.pid });
    assert.equal(report.healthUrl, `${admin}/readyz`);
    assert.equal(report.serviceUrl, `http://127.0.0.1:${server.port}/`);
    assert.equal(report.frozen.slot, 1);
    assert.equal(report.workerCount, 2);
    assert.equal(stateWhenFrozen, 'T');
    assert.ok(report.newPid !== null && report.newPid !== report.frozen.pid);
    assert.equal(report.restoredBy, 'already-exited');
    assert.equal(report.endedEarly, true);
  });

  test('an admin URL nobody listens on is a WARDEN_CHECK error with a hint', async () => {
    const options: CheckOptions = {
      target: { kind: 'warden', adminUrl: `http://127.0.0.1:${await closedPort()}` },
      durationMs: 1_000,
      intervalMs: 100,
      requestTimeoutMs: 500,
    };
    await assert.rejects(runCheck(options), (error: unknown) => {
      assert.ok(isWardenError(error));
      assert.equal(error.code, 'WARDEN_CHECK');
      assert.match(error.message, /cannot read warden's workers from http:\/\/127\.0\.0\.1:\d+\/workers: ECONNREFUSED/);
      assert.match(error.hint ?? '', /--pid, --health and --url/);
      return true;
    });
  });

  test('the spin fault needs an inspector port: a warden listing none is refused before anything is frozen', async (t) => {
    const server = await startClusterPrimary(t, { workers: 2, env: SHARED_SOCKET });
    const admin = await startStandInAdmin(t, server);
    const workersBefore = server.workers();
    await assert.rejects(
      runCheck({ target: { kind: 'warden', adminUrl: admin }, fault: 'spin', durationMs: 1_000, intervalMs: 100, requestTimeoutMs: 500 }),
      (error: unknown) => {
        assert.ok(isWardenError(error));
        assert.equal(error.code, 'WARDEN_CHECK');
        assert.match(error.message, /warden lists no inspector port for worker \d+ \(slot 1\)/);
        assert.match(error.hint ?? '', /--capture-stacks on/);
        return true;
      },
    );
    assert.deepEqual(server.workers(), workersBefore, 'no worker was touched');
    for (const pid of workersBefore) assert.notEqual(readStat(pid)?.state, 'T');
  });

  test('bad options are a WARDEN_USAGE error naming the option and its rule', async () => {
    const options: CheckOptions = { target: { kind: 'warden', adminUrl: 'http://127.0.0.1:9000' }, durationMs: 5, intervalMs: 100, requestTimeoutMs: 500 };
    await assert.rejects(runCheck(options), { code: 'WARDEN_USAGE', message: 'durationMs must be an integer from 1000 to 600000 (got 5)' });
    options.durationMs = 1_000;
    options.target = { kind: 'warden', adminUrl: 'ftp://x' };
    await assert.rejects(runCheck(options), { code: 'WARDEN_USAGE', message: 'admin URL "ftp://x" must start with http:// or https://' });
    options.target = { kind: 'pid', pid: 4242, healthUrl: 'http://127.0.0.1:1/health', serviceUrl: 'http://127.0.0.1:1/' };
    options.fault = 'spin';
    await assert.rejects(runCheck(options), { code: 'WARDEN_USAGE', message: /^the spin fault needs a warden target/ });
    options.fault = 'freeze' as CheckOptions['fault'];
    await assert.rejects(runCheck(options), { code: 'WARDEN_USAGE', message: 'fault must be one of stop, spin (got freeze)' });
  });
});

/**
 * Stands in for warden's admin server: `/workers` lists the fixture's children in stable slots
 * (a new child takes the slot its predecessor left), and `/readyz` answers 200.
 */
async function startStandInAdmin(t: TestContext, server: ClusterServer): Promise<string> {
  const slotByPid = new Map<number, number>();
  const workers = (): Array<{ slot: number; generation: number; pid: number; state: string; restarts: number }> => {
    const pids = server.workers();
    for (const pid of slotByPid.keys()) if (!pids.includes(pid)) slotByPid.delete(pid);
    for (const pid of pids) {
      if (slotByPid.has(pid)) continue;
      const taken = new Set(slotByPid.values());
      let slot = 1;
      while (taken.has(slot)) slot += 1;
      slotByPid.set(pid, slot);
    }
    return [...slotByPid].map(([pid, slot]) => ({ slot, generation: 1, pid, state: 'ready', restarts: 0 }));
  };
  workers(); // slots 1..N in start order
  const admin = http.createServer((req, res) => {
    if (req.url === '/workers') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          primary: { pid: server.pid, version: '0.1.0', phase: 'running', listen: { host: '0.0.0.0', port: server.port }, admin: {} },
          workers: workers(),
        }),
      );
    } else if (req.url === '/readyz') {
      res.end('ready\n');
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => admin.close(() => resolve())));
  return `http://127.0.0.1:${(admin.address() as AddressInfo).port}`;
}

/** A port that was free a moment ago and has nothing listening now. */
async function closedPort(): Promise<number> {
  const probe = http.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
