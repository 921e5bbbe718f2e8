// Runtime scaling and upkeep recycling with real processes under a real load on 127.0.0.1:
// `warden scale`, SIGTTOU, --max-requests with jitter, and --max-memory with a leaking app.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, getJson, runCli, startLoad, startWarden, waitFor, type LoadSample, type RunningWarden, type WorkersBody } from './harness.js';

type View = WorkersBody;

async function view(warden: RunningWarden): Promise<View> {
  await warden.workers();
  return (await getJson<View>(warden.adminPort, '/workers')).body;
}

function failures(samples: readonly LoadSample[]): string {
  const failed = samples.filter((sample) => !sample.ok);
  return `${failed.length} of ${samples.length} failed: ${JSON.stringify(failed.slice(0, 5))}`;
}

/** Replacements for a reason, summed over slots (a slot being swapped shows two workers with the same counts). */
async function replacements(warden: RunningWarden, reason: string): Promise<number> {
  const bySlot = new Map<number, number>();
  for (const worker of (await view(warden)).workers) bySlot.set(worker.slot, worker.replacements?.[reason] ?? 0);
  return [...bySlot.values()].reduce((sum, count) => sum + count, 0);
}

async function servingCount(warden: RunningWarden): Promise<number> {
  return (await view(warden)).workers.filter((w) => w.state === 'ready').length;
}

test('warden scale 3, then scale -1, then SIGTTOU: the count follows, /readyz stays truthful, no request fails', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2']);
  const load = startLoad(warden.port, { concurrency: 4, keepAlive: false, timeoutMs: 5000, maxMs: 90_000 });

  const up = await runCli(t, ['scale', '3', '--control', warden.control], { timeoutMs: 60_000 });
  assert.equal(up.code, 0, `${up.stdout}${up.stderr}`);
  assert.match(up.stdout, /now serving with 3 workers/);
  let current = await view(warden);
  assert.equal(current.primary.workersTarget, 3);
  assert.equal(current.primary.requiredReady, 3, '--min-ready all follows the target');
  assert.equal(await servingCount(warden), 3);
  assert.equal((await getJson(warden.adminPort, '/readyz')).status, 200);
  const env = await waitFor('the new worker answering', async () => {
    for (let i = 0; i < 12; i++) {
      const body = (await getJson<{ id: string; count: string }>(warden.port, '/')).body;
      if (body.id === '3') return body;
    }
    return undefined;
  }, 20_000);
  assert.equal(env.count, '3', 'the new worker is told the new count');

  const down = await runCli(t, ['scale', '-1', '--control', warden.control], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, `${down.stdout}${down.stderr}`);
  current = await view(warden);
  assert.equal(current.primary.workersTarget, 2);
  assert.deepEqual(current.workers.map((w) => w.slot), [1, 2], 'the highest slot went first');

  process.kill(warden.pid, 'SIGTTOU');
  await waitFor('one worker left', async () => {
    const now = await view(warden);
    return now.primary.workersTarget === 1 && now.workers.length === 1 && now.workers[0]?.state === 'ready' ? now : undefined;
  }, 30_000);
  assert.equal((await getJson(warden.adminPort, '/readyz')).status, 200);
  await warden.expectOutput(/scaling from 2 to 1 worker \(asked by SIGTTOU\)/);

  const refused = await runCli(t, ['scale', '-1', '--control', warden.control], { timeoutMs: 30_000 });
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /cannot scale to 0 workers: at least 1 is needed/);
  const tooMany = await runCli(t, ['scale', '2000', '--control', warden.control], { timeoutMs: 30_000 });
  assert.equal(tooMany.code, 2, 'refused before it reaches the primary');
  assert.match(tooMany.stderr, /at most 1024 workers \(got "2000"\)/);

  const samples = await load.stop();
  assert.ok(samples.length > 50, `load ran (${samples.length} requests)`);
  assert.equal(samples.filter((s) => !s.ok).length, 0, failures(samples));
});

test('--max-requests 200 --max-requests-jitter 50 under load: workers recycled at staggered counts, no request fails', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2', '--max-requests', '200', '--max-requests-jitter', '50']);
  const load = startLoad(warden.port, { concurrency: 4, keepAlive: true, timeoutMs: 5000, maxMs: 90_000 });
  const replaced = await waitFor('four recycles', async () => {
    const count = await replacements(warden, 'max-requests');
    return count >= 4 ? count : undefined;
  }, 60_000);
  const samples = await load.stop();
  const limits = await waitFor('each recycle logged with its limit', () => {
    const found = [...warden.output().matchAll(/will be recycled: served (\d+) requests \(its --max-requests limit is (\d+)\)/g)].map((match) => Number(match[2]));
    return found.length >= replaced ? found : undefined;
  }, 10_000);
  for (const limit of limits) assert.ok(limit >= 200 && limit <= 250, `limit ${limit} is within 200..250`);
  assert.ok(new Set(limits).size >= 2, `workers recycle at staggered counts: ${limits.join(', ')}`);
  // A backoff line is written when the recycled worker exits, before its replacement starts: wait
  // until every replacement is ready in the log, so a late line cannot slip past the check.
  await waitFor('the replacements ready in the log', () => (warden.output().match(/worker \d ready \(pid/g)?.length ?? 0) >= 2 + replaced || undefined, 20_000);
  assert.doesNotMatch(warden.output(), /restarting worker \d in/, 'recycling is no failure: no backoff');
  assert.equal(samples.filter((s) => !s.ok).length, 0, failures(samples));
});

test('a leaking app with --max-memory 150M is recycled gracefully under load, no request fails', async (t) => {
  const warden = await startWarden(t, [fixture('lifecycle/leak.mjs'), '--workers', '2', '--max-memory', '150M']);
  const load = startLoad(warden.port, { concurrency: 2, keepAlive: false, timeoutMs: 5000, maxMs: 90_000, ratePerLoop: 100 });
  await waitFor('two memory recycles', () => (warden.output().match(/will be recycled: RSS \d+ MB is above --max-memory 150 MB/g) ?? []).length >= 2 || undefined, 60_000);
  await waitFor('every slot serving again', async () => (await servingCount(warden)) === 2 || undefined, 30_000);
  const samples = await load.stop();
  assert.ok(samples.length > 100, `load ran (${samples.length} requests)`);
  assert.equal(samples.filter((s) => !s.ok).length, 0, failures(samples));
  const replaced = await replacements(warden, 'memory');
  assert.ok(replaced >= 2, `replacements counted as memory (${replaced})`);
});
