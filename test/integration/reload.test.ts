// Rolling reload with real processes under a real load on 127.0.0.1: `warden reload`, SIGHUP, new
// code that cannot start, queued reloads, the app's close hook, and --reload on file changes.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { fixture, get, getJson, runCli, startLoad, startWarden, waitFor, type LoadSample, type RunningWarden, type WorkersBody } from './harness.js';

type PrimaryView = WorkersBody;

/** A copy of the versioned app in a temp dir of its own, with the log its close hook writes. */
function appCopy(t: TestContext): { dir: string; app: string; closeLog: string; setVersion(version: string): void; write(source: string): void } {
  const dir = mkdtempSync(join(tmpdir(), 'warden-reload-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const app = join(dir, 'app.mjs');
  copyFileSync(fixture('lifecycle/versioned.mjs'), app);
  const original = readFileSync(app, 'utf8');
  return {
    dir, app, closeLog: join(dir, 'close.log'),
    setVersion: (version) => writeFileSync(app, original.replace("const VERSION = 'v1'", `const VERSION = '${version}'`)),
    write: (source) => writeFileSync(app, source),
  };
}

async function view(warden: RunningWarden): Promise<PrimaryView> {
  await warden.workers();
  return (await getJson<PrimaryView>(warden.adminPort, '/workers')).body;
}

async function servingPids(warden: RunningWarden): Promise<number[]> {
  return (await view(warden)).workers.filter((w) => w.state === 'ready').map((w) => w.pid as number).sort();
}

function failures(samples: readonly LoadSample[]): string {
  const failed = samples.filter((sample) => !sample.ok);
  return `${failed.length} of ${samples.length} failed: ${JSON.stringify(failed.slice(0, 5))}`;
}

/** Keep-alive and new-connection clients at once, with the 2 s client time-out real clients use. */
function mixedLoad(port: number) {
  const keepAlive = startLoad(port, { concurrency: 3, keepAlive: true, timeoutMs: 5000, maxMs: 90_000 });
  const fresh = startLoad(port, { concurrency: 3, keepAlive: false, timeoutMs: 5000, maxMs: 90_000 });
  return {
    /** Both loads answered `count` requests each since `from`: they run, through whatever happened last. */
    async flowing(from = 0, count = 20) {
      const answered = (samples: readonly { at: number; ok: boolean }[]) => samples.filter((sample) => sample.ok && sample.at >= from).length;
      await waitFor(`${count} answers on each load`, () => (answered(keepAlive.samples) >= count && answered(fresh.samples) >= count) || undefined, 15_000);
    },
    async stop() {
      const kept = (await keepAlive.stop()).map((sample) => ({ ...sample, error: sample.error && `keep-alive: ${sample.error}` }));
      const samples = [...kept, ...(await fresh.stop()).map((sample) => ({ ...sample, error: sample.error && `new connection: ${sample.error}` }))];
      return { samples, keepAlive: keepAlive.samples.length, fresh: fresh.samples.length };
    },
  };
}

/** /readyz polled until stop(), which returns every status seen (0: no answer). */
function pollReadiness(t: TestContext, warden: RunningWarden): { stop(): Promise<number[]> } {
  const readiness: number[] = [];
  let polling = true;
  t.after(() => (polling = false));
  const poller = (async () => {
    while (polling) {
      readiness.push((await getJson(warden.adminPort, '/readyz').catch(() => ({ status: 0 }))).status);
      // Often: on a fast machine a whole reload takes a few hundred milliseconds.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      polling = false;
      await poller;
      return readiness;
    },
  };
}

/** A reload to v2 while /readyz is polled all through it: it succeeds and /readyz never leaves 200. */
async function reloadKeepingReady(t: TestContext, warden: RunningWarden, copy: { setVersion(version: string): void }) {
  copy.setVersion('v2');
  const polls = pollReadiness(t, warden);
  const reload = await runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 });
  const readiness = await polls.stop();
  assert.equal(reload.code, 0, `warden reload succeeded\n${reload.stdout}${reload.stderr}`);
  assert.ok(readiness.length > 5, `readiness was polled (${readiness.length} times)`);
  assert.deepEqual(readiness.filter((status) => status !== 200), [], `/readyz stayed 200 through the reload (${readiness.length} polls)`);
  return reload;
}

test('a rolling reload under keep-alive and new-connection load fails no request, replaces every worker and serves the new code; SIGHUP does the same', async (t) => {
  const copy = appCopy(t);
  const warden = await startWarden(t, [copy.app, '--workers', '2'], { env: { CLOSE_LOG: copy.closeLog } });
  const before = await servingPids(warden);
  assert.equal(before.length, 2);
  const load = mixedLoad(warden.port);
  await load.flowing();

  // With --min-ready all, /readyz must never leave 200.
  const reload = await reloadKeepingReady(t, warden, copy);
  assert.match(reload.stdout, /reload: slot 1 now runs generation 2[\s\S]*reload: slot 2 now runs generation 2[\s\S]*completed/, 'progress streams slot by slot');
  const afterFirst = await waitFor('old workers gone', async () => {
    const pids = await servingPids(warden);
    return pids.length === 2 && pids.every((pid) => !before.includes(pid)) ? pids : undefined;
  }, 30_000);
  assert.equal(JSON.parse((await get(warden.port)).body).version, 'v2', 'the new code answers');

  copy.setVersion('v3');
  process.kill(warden.pid, 'SIGHUP');
  await waitFor('the SIGHUP reload completes', async () => (await view(warden)).primary.reload.last?.generation === 3 || undefined, 60_000);
  const afterSecond = await waitFor('generation-2 workers gone', async () => {
    const pids = await servingPids(warden);
    return pids.length === 2 && pids.every((pid) => !afterFirst.includes(pid)) ? pids : undefined;
  }, 30_000);
  await load.flowing(Date.now());
  const result = await load.stop();
  assert.ok(result.keepAlive > 50 && result.fresh > 50, `both loads ran (${result.keepAlive} keep-alive, ${result.fresh} new-connection requests)`);
  assert.equal(result.samples.filter((s) => !s.ok).length, 0, failures(result.samples));
  assert.equal(JSON.parse((await get(warden.port)).body).version, 'v3');
  assert.equal(warden.child.exitCode, null, 'SIGHUP did not stop warden');

  const closeLines = readFileSync(copy.closeLog, 'utf8').trim().split('\n');
  const retired = [...before, ...afterFirst];
  assert.deepEqual(closeLines.filter((line) => line.startsWith('closed')).map((line) => Number(line.split(' ')[1])).sort(), retired.sort(),
    'the close hook ran once for each retired worker');
  for (const line of closeLines.filter((l) => l.startsWith('closed'))) assert.equal(line.split(' ')[2], '0', `no request in flight when the hook ran: ${line}`);
  assert.equal(closeLines.filter((line) => line.startsWith('late')).length, 0, 'no request reached a worker after its close hook');
  assert.ok(!afterSecond.some((pid) => closeLines.some((line) => line.includes(String(pid)))), 'serving workers were not closed');
});

test('a reload to broken code fails at the first slot: old workers keep serving with 0 failed requests, `warden reload` exits 1 with the app error; fixed code then reloads', async (t) => {
  const copy = appCopy(t);
  const warden = await startWarden(t, [copy.app, '--workers', '2']);
  const before = await servingPids(warden);
  const load = mixedLoad(warden.port);
  await load.flowing();

  copy.write("export default (req, res) => { res.end('broken' \n");
  const broken = await runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 });
  assert.equal(broken.code, 1, `warden reload failed\n${broken.stdout}${broken.stderr}`);
  assert.match(broken.stderr, /failed at slot 1: cannot load app ".*app\.mjs": SyntaxError/, 'the app\'s own error is printed');
  assert.match(broken.stderr, /the old workers keep serving/);
  const failed = await view(warden);
  assert.equal(failed.primary.reload.last?.outcome, 'failed');
  assert.match(failed.primary.reload.last?.error ?? '', /SyntaxError/, '/workers shows the last reload and its error');
  assert.deepEqual(await servingPids(warden), before, 'the old workers still serve');
  await warden.expectOutput(/reload to generation 2 failed at slot 1/, 'the failure is in the log');
  // Nothing retried in a loop: for 2 s after the failure, no other generation-2 worker is started
  // and the reload is neither running nor queued again.
  const startsOfGeneration2 = () => warden.output().match(/worker \d started \(pid \d+, generation 2\)/g)?.length ?? 0;
  assert.equal(startsOfGeneration2(), 1, 'one worker of the broken generation was tried');
  const watchUntil = Date.now() + 2000;
  while (Date.now() < watchUntil) {
    const { primary } = await view(warden);
    assert.equal(primary.reload.running, null, 'the failed reload is not retried');
    assert.equal(primary.reload.queued, false);
    assert.deepEqual(primary.reload.counts, { completed: 0, failed: 1, aborted: 0 });
    assert.equal(startsOfGeneration2(), 1, `no new worker of the broken generation:\n${warden.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.deepEqual(await servingPids(warden), before, 'the old workers still serve, unreplaced');

  copy.setVersion('v2');
  const fixed = await runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 });
  assert.equal(fixed.code, 0, `${fixed.stdout}${fixed.stderr}`);
  const result = await load.stop();
  assert.equal(result.samples.filter((s) => !s.ok).length, 0, failures(result.samples));
  await waitFor('the new code answers', async () => JSON.parse((await get(warden.port)).body).version === 'v2' || undefined, 10_000);
});

test('a reload asked while one runs is queued, said so, and runs after it, never interleaved; one asked while another is queued joins it', async (t) => {
  // Two seconds per boot: the first reload lasts four, long enough for two more CLIs to start and ask on a loaded machine.
  const warden = await startWarden(t, [fixture('lifecycle/slow-boot.mjs'), '--workers', '2'], { env: { BOOT_MS: '2000' } });
  const first = runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 });
  await waitFor('the first reload running', async () => (await view(warden)).primary.reload.running !== null || undefined, 10_000);
  // Asked at once: whichever arrives first is queued, the other joins it.
  const [firstResult, ...later] = await Promise.all([first, runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 }), runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 })]);
  for (const result of [firstResult, ...later]) assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
  const queued = later.find((result) => /is running; this one is queued/.test(result.stdout));
  const joined = later.find((result) => /another is already queued; this request waits for the queued one/.test(result.stdout));
  assert.ok(queued !== undefined && joined !== undefined && queued !== joined, `one request queued, the other joined it:\n${later.map((result) => result.stdout).join('\n--\n')}`);
  for (const result of later) assert.match(result.stdout, /generation 3 completed/, 'both are answered by the queued reload\'s completion');
  const final = await view(warden);
  assert.equal(final.primary.reload.counts.completed, 2, 'three requests, two reloads');
  assert.equal(final.primary.reload.last?.generation, 3);
  assert.equal(final.primary.reload.queued, false, 'nothing left queued');
  const log = warden.output();
  assert.doesNotMatch(log, /generation 4/, 'no third reload ran');
  const secondStart = log.indexOf('reloading (asked by a queued request)');
  assert.ok(secondStart > log.indexOf('reload to generation 2 completed'), 'the queued reload started only after the first completed');
});

test('a reload with --workers 1 under load keeps /readyz 200 and fails no request: the new worker serves before the old one drains', async (t) => {
  const copy = appCopy(t);
  const warden = await startWarden(t, [copy.app, '--workers', '1']);
  const before = await servingPids(warden);
  assert.equal(before.length, 1);
  const load = mixedLoad(warden.port);
  await load.flowing();
  const reload = await reloadKeepingReady(t, warden, copy);
  await waitFor('the old worker gone', async () => {
    const pids = await servingPids(warden);
    return pids.length === 1 && pids[0] !== before[0] || undefined;
  }, 30_000);
  await load.flowing(Date.now());
  const result = await load.stop();
  assert.ok(result.keepAlive > 20 && result.fresh > 20, `both loads ran (${result.keepAlive} keep-alive, ${result.fresh} new-connection requests)`);
  assert.equal(result.samples.filter((s) => !s.ok).length, 0, failures(result.samples));
  assert.equal(JSON.parse((await get(warden.port)).body).version, 'v2', 'the new code answers');
});

test('--reload: editing the app under load replaces every worker with 0 failed requests; a broken save keeps serving until the next good one', async (t) => {
  const copy = appCopy(t);
  const warden = await startWarden(t, [copy.app, '--workers', '2', '--reload']);
  const before = await servingPids(warden);
  const load = mixedLoad(warden.port);
  await load.flowing();

  copy.setVersion('v2');
  const afterEdit = await waitFor('workers replaced after the edit', async () => {
    const pids = await servingPids(warden);
    return pids.length === 2 && pids.every((pid) => !before.includes(pid)) && (await view(warden)).primary.reload.running === null ? pids : undefined;
  }, 60_000);
  assert.equal(JSON.parse((await get(warden.port)).body).version, 'v2');

  copy.write('export default (req, res) => { syntax error here\n');
  await waitFor('the broken save is reported', () => /reload to generation \d+ failed/.test(warden.output()) || undefined, 60_000);
  assert.deepEqual(await servingPids(warden), afterEdit, 'the workers of the last good save keep serving');

  copy.setVersion('v3');
  await waitFor('the next good save recovers', async () => JSON.parse((await get(warden.port)).body).version === 'v3' || undefined, 60_000);
  const result = await load.stop();
  assert.equal(result.samples.filter((s) => !s.ok).length, 0, failures(result.samples));
});
