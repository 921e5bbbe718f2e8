// Shared by the framework tests: install an example with its own lockfile (npm ci, skipped when the
// installed tree is newer than the lockfile), and the checks every framework must pass under warden.
// The harness is the integration tests' one, from dist/ (run `npm run build` first).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { answeringPids, get, runCli, startLoad, startWarden, waitFor } from '../../dist/test/integration/harness.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function exampleDir(name) {
  return join(ROOT, 'examples', name);
}

/** `npm ci --prefix examples/<name>`, unless node_modules was installed from this very lockfile. */
export function install(name) {
  const dir = exampleDir(name);
  const marker = join(dir, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(join(dir, 'package-lock.json')).mtimeMs) return 'cached';
  const result = spawnSync('npm', ['ci', '--prefix', dir, '--no-audit', '--no-fund'], { stdio: ['ignore', 'inherit', 'inherit'], timeout: 600_000 });
  assert.equal(result.status, 0, `npm ci --prefix examples/${name} failed`);
  return 'installed';
}

/** Run a command in an example folder; fails the test with its output otherwise. */
export function run(name, command, args, env = {}) {
  const result = spawnSync(command, args, { cwd: exampleDir(name), env: { ...process.env, ...env }, encoding: 'utf8', timeout: 600_000 });
  assert.equal(result.status, 0, `${command} ${args.join(' ')} in examples/${name} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/**
 * Serve on 2 workers (both answer), reload under load with no failed request, then SIGTERM: exit 0
 * and no process left. Returns the figures for the report.
 */
export async function serveReloadStop(t, name, args, { env = {}, path = '/', reloads = 2 } = {}) {
  const warden = await startWarden(t, [...withWorkers(args)], { cwd: exampleDir(name), env });
  const ready = (await warden.workers()).workers.filter((worker) => worker.state === 'ready');
  assert.equal(ready.length, 2, 'both workers are ready');
  // With --sticky every request from 127.0.0.1 goes to the same worker, by design.
  if (!args.includes('--sticky')) {
    const pids = await answeringPids(warden.port, 2, { path });
    assert.equal(pids.size, 2, `both workers answer (${[...pids].join(', ')})`);
  }

  const load = startLoad(warden.port, { concurrency: 3, keepAlive: true, timeoutMs: 10_000, path, maxMs: 240_000, ratePerLoop: 20 });
  const fresh = startLoad(warden.port, { concurrency: 2, keepAlive: false, timeoutMs: 10_000, path, maxMs: 240_000, ratePerLoop: 20 });
  const failedReloads = [];
  for (let reload = 1; reload <= reloads; reload++) {
    const outcome = await runCli(t, ['reload', '--control', warden.control], { timeoutMs: 120_000 });
    if (outcome.code !== 0) failedReloads.push(`reload ${reload}: exit ${outcome.code}\n${outcome.stdout}${outcome.stderr}`);
  }
  const samples = [...(await load.stop()), ...(await fresh.stop())];
  const failed = samples.filter((sample) => !sample.ok);
  t.diagnostic(`${name}: ${reloads} reloads, ${failedReloads.length} failed; ${samples.length} requests under load, ${failed.length} failed`);
  assert.deepEqual(failedReloads, [], 'every reload completed');
  assert.ok(samples.length > 20, `the load ran (${samples.length} requests)`);
  assert.equal(failed.length, 0, `${failed.length} of ${samples.length} requests failed: ${JSON.stringify(failed.slice(0, 5))}`);

  warden.child.kill('SIGTERM');
  const exit = await warden.exit(60_000);
  assert.equal(exit.code, 0, `SIGTERM: exit 0\n${warden.output().slice(-3000)}`);
  await warden.processes.expectAllGone('after SIGTERM');
  return { reloads, failedReloads: failedReloads.length, requests: samples.length, failedRequests: failed.length };
}

/** Ctrl-C in a terminal: SIGINT to warden's whole process group with 4 slow requests in flight. */
export async function ctrlCWithRequestsInFlight(t, name, args, slowPath, { env = {} } = {}) {
  const warden = await startWarden(t, [...withWorkers(args)], { cwd: exampleDir(name), env, detached: true });
  const inFlight = [1, 2, 3, 4].map(() => get(warden.port, slowPath, 30_000));
  await waitFor('4 requests in flight', async () => {
    const { workers } = await warden.workers();
    return workers.reduce((sum, worker) => sum + worker.inFlight, 0) >= 4 || undefined;
  }, 15_000);
  process.kill(-warden.pid, 'SIGINT');
  const answers = await Promise.allSettled(inFlight);
  const finished = answers.filter((answer) => answer.status === 'fulfilled' && answer.value.status === 200).length;
  t.diagnostic(`${name}: Ctrl-C with 4 requests in flight, ${finished} finished`);
  assert.equal(finished, 4, `all 4 finished: ${JSON.stringify(answers.map((a) => (a.status === 'fulfilled' ? a.value.status : String(a.reason))))}\n${warden.output().slice(-3000)}`);
  const exit = await warden.exit(60_000);
  assert.equal(exit.code, 0, `exit 0\n${warden.output().slice(-3000)}`);
  await warden.processes.expectAllGone('after Ctrl-C');
}

/** `--workers 2` goes before a `--` (what follows belongs to the app). */
function withWorkers(args) {
  const dashes = args.indexOf('--');
  return dashes < 0 ? [...args, '--workers', '2'] : [...args.slice(0, dashes), '--workers', '2', ...args.slice(dashes)];
}
