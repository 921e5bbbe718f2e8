// `warden check` against a real `warden serve` (test/fixtures/faults.mjs, 2 workers, --timeout 2):
// the spin fault (a busy loop started through the worker's inspector) and the default stop fault,
// each followed by the incident warden recorded. No process may be left spinning or stopped.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

import { httpGet } from '../../src/net/http-get.js';
import { hasProcFs, listChildren, readStat } from '../../src/os/proc.js';
import { type CheckOptions, type CheckReport, formatCheckReport, runCheck } from '../../src/check/run-check.js';
import { errnoCode, isWardenError } from '../../src/errors.js';
import { abortOnceFrozen, pollUntil } from './cluster-fixture.js';
import { fixturePath, startWarden, type WardenServer } from './warden-fixture.js';

async function startFaultsApp(t: Parameters<typeof startWarden>[0], timeoutS: number): Promise<WardenServer> {
  const warden = await startWarden(t, [fixturePath('faults.mjs'), '--workers', '2', '--timeout', String(timeoutS)]);
  await waitUntilReady(warden);
  return warden;
}

async function waitUntilReady(warden: WardenServer): Promise<void> {
  const readyz = new URL('/readyz', warden.adminUrl);
  const signal = new AbortController().signal;
  const deadline = Date.now() + 15_000;
  for (;;) {
    const outcome = await httpGet(readyz, { timeoutMs: 1_000, signal, maxBodyBytes: 0 });
    if (outcome.kind === 'response' && outcome.status === 200) return;
    if (Date.now() > deadline) throw new Error(`warden's workers were not all ready within 15 s; output:\n${warden.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function checkOptions(warden: WardenServer, overrides: Partial<CheckOptions>): CheckOptions {
  return { target: { kind: 'warden', adminUrl: warden.adminUrl }, durationMs: 15_000, intervalMs: 100, requestTimeoutMs: 1_000, ...overrides };
}

async function runLogged(options: CheckOptions, warden: WardenServer): Promise<{ report: CheckReport; explain: string }> {
  const lines: string[] = [];
  const report = await runCheck(options, { log: (line) => lines.push(line) });
  return { report, explain: `${formatCheckReport(report)}\n-- check log:\n${lines.join('\n')}\n-- warden output:\n${warden.output()}` };
}

/** CPU time (user + system) of a process in clock ticks, or null once it is gone. */
function cpuTicks(pid: number): number | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ESRCH') return null;
    throw error;
  }
  // After ") ": utime is field 14 (rest[11]) and stime field 15 (rest[12]).
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return Number(rest[11]) + Number(rest[12]);
}

/** The frozen worker is gone, and no worker of warden is stopped or burning a core. */
async function assertNothingLeftFrozen(warden: WardenServer, frozenPid: number): Promise<void> {
  const state = await pollUntil(() => readStat(frozenPid)?.state, (s) => s === undefined);
  assert.equal(state, undefined, `worker ${frozenPid} is gone (state ${state})`);
  await waitUntilReady(warden);
  const workers = listChildren(warden.pid).map((stat) => stat.pid);
  assert.equal(workers.length, 2, `warden runs 2 workers again (${workers.join(', ')})`);
  const before = workers.map(cpuTicks);
  await new Promise((resolve) => setTimeout(resolve, 500));
  workers.forEach((pid, index) => {
    assert.notEqual(readStat(pid)?.state, 'T', `worker ${pid} is not stopped`);
    const used = (cpuTicks(pid) ?? 0) - (before[index] ?? 0);
    // A busy loop takes ~50 ticks in 0.5 s (100 Hz); an idle worker sending heartbeats, about none.
    assert.ok(used < 20, `worker ${pid} is not spinning (${used} ticks of CPU in 0.5 s)`);
  });
}

describe('runCheck against a real warden', { skip: hasProcFs() ? false : 'needs Linux /proc' }, () => {
  test('spin: warden replaces the busy-looping worker, and its incident shows the stack at wardenCheckBusyLoop', async (t) => {
    const warden = await startFaultsApp(t, 2);
    const { report, explain } = await runLogged(checkOptions(warden, { fault: 'spin' }), warden);

    assert.equal(report.verdict, 'pass', explain);
    assert.equal(report.fault, 'spin');
    assert.ok(report.healthFirstRedAtMs !== null, `health turned red:\n${explain}`);
    assert.equal(report.restoredBy, 'already-exited', `warden itself killed the spinning worker:\n${explain}`);
    assert.ok(report.incident !== null, `warden recorded an incident for worker ${report.frozen.pid}:\n${explain}`);
    assert.equal(report.incident.pid, report.frozen.pid);
    assert.equal(report.incident.kind, 'stalled');
    assert.match(report.incident.stack ?? '', /at wardenCheckBusyLoop \(warden-check-busy-loop\.js:1:\d+\)/, explain);
    assert.match(formatCheckReport(report), /^ {2}incident {2}stalled \(.*\); its main thread was here:\n {6}at wardenCheckBusyLoop /m);
    await assertNothingLeftFrozen(warden, report.frozen.pid);
  });

  test('spin: a busy-looping worker warden has not replaced by the end is killed with SIGKILL', async (t) => {
    // --timeout 30: warden takes the worker out of rotation but would kill it only after 30 s.
    const warden = await startFaultsApp(t, 30);
    const { report, explain } = await runLogged(checkOptions(warden, { fault: 'spin', durationMs: 2_000 }), warden);

    assert.equal(report.verdict, 'trap', explain);
    assert.equal(report.replacedAtMs, null);
    assert.equal(report.restoredBy, 'SIGKILL', explain);
    assert.match(formatCheckReport(report), /restored {2}worker \d+ was still busy-looping: killed with SIGKILL/);
    await assertNothingLeftFrozen(warden, report.frozen.pid);
  });

  test('spin: an aborted check kills the spinning worker and says so', async (t) => {
    const warden = await startFaultsApp(t, 30);
    const controller = new AbortController();
    const watcher = abortOnceFrozen(controller);
    const run = runCheck(checkOptions(warden, { fault: 'spin' }), { signal: controller.signal, log: watcher.log });
    await assert.rejects(run, (error: unknown) => {
      assert.ok(isWardenError(error));
      assert.equal(error.code, 'WARDEN_CHECK');
      assert.match(error.message, /^check aborted after 0\.\d s; worker \d+ was still busy-looping \(not replaced\); killed it with SIGKILL$/);
      return true;
    });
    assert.ok(watcher.frozenPid() > 0);
    await assertNothingLeftFrozen(warden, watcher.frozenPid());
  });

  test('stop: the default fault now carries warden\'s incident, which says why no stack could be taken', async (t) => {
    const warden = await startFaultsApp(t, 2);
    const { report, explain } = await runLogged(checkOptions(warden, {}), warden);

    assert.equal(report.verdict, 'pass', explain);
    assert.equal(report.fault, 'stop');
    assert.equal(report.restoredBy, 'already-exited', explain);
    assert.ok(report.incident !== null, `warden recorded an incident for worker ${report.frozen.pid}:\n${explain}`);
    assert.equal(report.incident.pid, report.frozen.pid);
    assert.equal(report.incident.stack, undefined);
    assert.match(report.incident.noStack ?? '', /^no stack: .*inspector did not open/, explain);
    assert.match(formatCheckReport(report), /^ {2}incident {2}stalled \(.*\)\n {6}no stack: /m);
    await assertNothingLeftFrozen(warden, report.frozen.pid);
  });
});
