// A frozen worker cannot hide: stopped (SIGSTOP), busy-looping, or deadlocked (Atomics.wait), it
// leaves rotation, /readyz tells, it is killed and replaced in its slot, and the service answers.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, getJson, processState, startLoad, startWarden, waitFor, type RunningWarden } from './harness.js';

const TIMEOUT_S = 2;

/** Watch /readyz and the frozen slot until the worker is replaced and /readyz is green again. */
async function watchRecovery(warden: RunningWarden, slot: number, frozenPid: number, frozenAt: number) {
  let redAt: number | undefined;
  /** The frozen process's state (`T`: stopped, not yet killed) when /readyz was first seen 503. */
  let frozenStateWhenRed: string | undefined;
  let replacedAt: number | undefined;
  let readyAgainAt: number | undefined;
  await waitFor('replacement and /readyz 200 again', async () => {
    const now = Date.now();
    const ready = await getJson<{ missing: { slot: number }[] }>(warden.adminPort, '/readyz', 2000);
    if (ready.status === 503 && redAt === undefined) {
      redAt = now;
      frozenStateWhenRed = processState(frozenPid);
    }
    const { workers } = await warden.workers();
    const current = workers.find((w) => w.slot === slot && w.state === 'ready');
    if (replacedAt === undefined && current && current.pid !== frozenPid) replacedAt = now;
    if (replacedAt !== undefined && ready.status === 200) readyAgainAt = now;
    return readyAgainAt !== undefined;
  }, 40_000, 50);
  return { redAfterMs: (redAt as number) - frozenAt, frozenStateWhenRed, replacedAfterMs: (replacedAt as number) - frozenAt, readyAfterMs: (readyAgainAt as number) - frozenAt };
}

test('a worker stopped with SIGSTOP under load leaves rotation, is replaced in its slot, and the service never stops answering', async (t) => {
  // --timeout 5 (the default): leaving rotation (after the 1 s heartbeat window) and the kill are far
  // enough apart that "503 before the kill" holds on a busy machine too.
  const timeoutS = 5;
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', String(timeoutS)]);
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 15_000 });
  t.after(() => load.stop());
  await waitFor('load to flow', () => load.samples.filter((s) => s.ok).length > 20 || undefined);
  const { workers } = await warden.workers();
  const victim = workers.find((w) => w.slot === 1);
  assert.ok(victim?.pid);
  const frozenAt = Date.now();
  process.kill(victim.pid, 'SIGSTOP');
  const timings = await watchRecovery(warden, 1, victim.pid, frozenAt);
  const afterRecovery = Date.now();
  await waitFor('more load after recovery', () => load.samples.filter((s) => s.at > afterRecovery && s.ok).length > 20 || undefined);
  const samples = await load.stop();
  t.diagnostic(`SIGSTOP: /readyz 503 after ${timings.redAfterMs} ms, replaced after ${timings.replacedAfterMs} ms, green after ${timings.readyAfterMs} ms, ${samples.length} requests`);
  // /readyz was 503 while the frozen worker still existed, stopped: before the kill. And well before
  // the --timeout verdict, which also turns it 503: the 1 s heartbeat window plus 2.5 s for a loaded
  // machine's slow polls (how fast it turns is readiness.test.ts's claim).
  assert.equal(timings.frozenStateWhenRed, 'T', `/readyz turned 503 before the kill (after ${timings.redAfterMs} ms, the frozen process then ${timings.frozenStateWhenRed ?? 'gone'})`);
  assert.ok(timings.redAfterMs < timeoutS * 1000 - 1500, `/readyz turned 503 on the missed heartbeats, not at the --timeout verdict (after ${timings.redAfterMs} ms)`);
  assert.ok(timings.replacedAfterMs < timeoutS * 1000 + 10_000, `replaced within timeout + margin (after ${timings.replacedAfterMs} ms)`);
  // Only the requests the worker had already taken when it froze can be lost (at most one per
  // client loop); connections handed to it afterwards are held and given to another worker.
  const failed = samples.filter((s) => !s.ok);
  assert.ok(failed.length <= 4, `at most the requests in flight on the frozen worker failed (${failed.length} of ${samples.length})`);
  for (const sample of failed) assert.ok(sample.at <= frozenAt, `a failed request was sent ${sample.at - frozenAt} ms after the freeze (${sample.error ?? sample.status})`);
  // After the verdict no new connection reaches the frozen worker: had one, it would have waited
  // at least the reclaim deadline (1 s) before another worker got it, or failed. So every request
  // sent from then on is answered, and those that took a second or more are rare: on a loaded
  // machine a few may stall on their own, but a worker left in rotation would hold about half.
  const afterVerdict = samples.filter((s) => s.at > frozenAt + timings.redAfterMs + 50);
  assert.ok(afterVerdict.length > 10, 'requests were sent after the verdict');
  assert.ok(afterVerdict.every((s) => s.ok), `every request after the verdict answered: ${afterVerdict.filter((s) => !s.ok).length} failed`);
  const slow = afterVerdict.filter((s) => s.ms >= 1000);
  assert.ok(slow.length <= afterVerdict.length / 10, `few requests after the verdict waited a second or more (${slow.length} of ${afterVerdict.length}: ${slow.map((s) => s.ms).join(', ')} ms)`);
  // The service never stopped answering: no gap between answers from the freeze to green again as
  // long as the kill at --timeout would make, with room for a loaded machine's pauses.
  const answeredAt = samples.filter((s) => s.ok).map((s) => s.at + s.ms).filter((at) => at >= frozenAt).sort((a, b) => a - b);
  let gap = 0;
  let previous = frozenAt;
  for (const at of answeredAt.filter((at) => at <= frozenAt + timings.readyAfterMs)) {
    gap = Math.max(gap, at - previous);
    previous = at;
  }
  assert.ok(gap < 2500, `the service answered all along: the longest gap between answers was ${gap} ms (the kill comes at ${timeoutS * 1000} ms)`);
  const { workers: after } = await warden.workers();
  assert.equal(after.find((w) => w.slot === 2)?.pid, workers.find((w) => w.slot === 2)?.pid, 'the healthy worker was not touched');
  await warden.expectOutput(/worker 1 \(pid \d+\) sent no heartbeat for/);
});

for (const [name, route] of [['a busy loop', '/spin'], ['an Atomics.wait deadlock', '/atomics']] as const) {
  test(`a worker frozen by ${name} is detected, killed and replaced while the other keeps serving`, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', String(TIMEOUT_S)]);
    const before = await warden.workers();
    const frozenAt = Date.now();
    // The freezing request itself is lost with its worker; that is the one request that cannot be saved.
    get(warden.port, route, 30_000).catch(() => undefined);
    const frozen = await waitFor('a worker to go silent', async () => {
      const { workers } = await warden.workers();
      return workers.find((w) => w.state !== 'ready') ?? undefined;
    }, 5000, 20);
    const frozenPid = before.workers.find((w) => w.slot === frozen.slot)?.pid as number;
    for (let i = 0; i < 5; i++) assert.equal((await get(warden.port, '/', 5000)).status, 200, 'the service keeps answering');
    const timings = await watchRecovery(warden, frozen.slot, frozenPid, frozenAt);
    t.diagnostic(`${name}: /readyz 503 after ${timings.redAfterMs} ms, replaced after ${timings.replacedAfterMs} ms`);
    assert.ok(timings.replacedAfterMs < TIMEOUT_S * 1000 + 10_000, `replaced after ${timings.replacedAfterMs} ms`);
    // The replacement can be ready before the frozen worker exits: its kill waits for the stack and
    // the one-second CPU profile.
    const reason = await waitFor('the frozen worker\'s exit in its slot', async () => (await warden.workers()).workers.find((w) => w.slot === frozen.slot)?.lastExit?.reason, 10_000);
    assert.match(reason, /no heartbeat/);
  });
}

test('/livez, /readyz and /workers answer at once while a worker is frozen (they never wait on a worker)', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '30']);
  const { workers } = await warden.workers();
  process.kill(workers[0]?.pid as number, 'SIGSTOP');
  await waitFor('/readyz to report the frozen worker', async () => (await getJson(warden.adminPort, '/readyz')).status === 503 || undefined);
  for (const path of ['/livez', '/readyz', '/workers']) {
    const times: number[] = [];
    for (let i = 0; i < 9; i++) {
      const started = performance.now();
      await get(warden.adminPort, path, 2000);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    // Waiting on the frozen worker would take seconds; the median tells that apart from a busy
    // machine's scheduling delays. Measured figures belong to bench/.
    t.diagnostic(`${path}: median ${times[4]?.toFixed(1)} ms`);
    assert.ok((times[4] as number) < 500, `${path}: median ${times[4]?.toFixed(1)} ms`);
  }
  const live = await getJson<{ live: boolean }>(warden.adminPort, '/livez');
  assert.equal(live.status, 200, 'the supervisor can still keep workers serving');
  const ready = await getJson<{ missing: { slot: number; state: string; reason: string }[] }>(warden.adminPort, '/readyz');
  assert.equal(ready.status, 503);
  assert.equal(ready.body.missing[0]?.slot, workers[0]?.slot);
  assert.match(ready.body.missing[0]?.reason ?? '', /no heartbeat/, 'the body says which worker is missing and why');
});

test('one worker frozen by a busy loop: requests sent meanwhile wait for its replacement instead of failing', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '1', '--timeout', '1']);
  const { workers } = await warden.workers();
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  await waitFor('the worker to go silent', async () => (await warden.workers()).workers.some((w) => w.state !== 'ready') || undefined, 5000, 20);
  // Sent while the only worker is frozen: held by the primary, then served by the new worker.
  const answers = await Promise.all([0, 1, 2].map(() => get(warden.port, '/', 15_000)));
  for (const answer of answers) {
    assert.equal(answer.status, 200);
    assert.notEqual(JSON.parse(answer.body).pid, workers[0]?.pid, 'served by the replacement');
  }
});
