// Verdicts seen from outside, in both balance modes, with default flags: a worker that is only
// waiting (long polls, a dependency slow for every worker) is never recycled, and a poisoned worker
// leaves rotation (`inRotation: false` in /workers) and is replaced, under load and under sparse
// traffic. Each test checks its traffic really did what the case is about (polls held past
// --stuck-after on a worker, requests hung on the poisoned one while a peer answered). The timing
// goals are measured by `npm run bench -- verdicts`; the bounds here are generous.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { fixture, get, pinAgents, startLoad, startWarden, waitFor, type RunningWarden, type WorkerView } from './harness.js';

/** --stuck-after's default: a worker only waiting must be watched past it. */
const STUCK_AFTER_MS = 10_000;
/** Under load the goal is 2 s out of rotation and 3 s to a replacement; a shared 2-core machine gets slack. */
const OUT_OF_ROTATION_UNDER_LOAD_MS = 6000;
const REPLACED_UNDER_LOAD_MS = 15_000;
/** Sparse traffic: the goal is 3 s from the first request left unanswered while a peer answers. */
const OUT_OF_ROTATION_SPARSE_MS = 8000;

type View = WorkerView & { oldestInFlightMs: number; inFlight: number };

interface Watched {
  /** Every pid seen per slot, in order. */
  pidsBySlot: Map<number, number[]>;
  /** When each pid was first seen out of rotation (or gone) while the watch ran. */
  outAt: Map<number, number>;
  /** When each pid was first seen in rotation. */
  inRotationAt: Map<number, number>;
  /** The longest any worker held a request, and the most requests in flight at once, over the watch. */
  oldestInFlightMs: Map<number, number>;
  maxInFlight: number;
}

/** Poll /workers every 100 ms until `until()` is true or `timeoutMs` passes; returns what was seen. */
async function watchWorkers(warden: RunningWarden, timeoutMs: number, until: (seen: Watched) => boolean = () => false): Promise<Watched> {
  const seen: Watched = { pidsBySlot: new Map(), outAt: new Map(), inRotationAt: new Map(), oldestInFlightMs: new Map(), maxInFlight: 0 };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const workers = (await warden.workers()).workers as View[];
    const now = Date.now();
    const live = new Set<number>();
    let inFlight = 0;
    for (const worker of workers) {
      if (worker.pid === null) continue;
      live.add(worker.pid);
      const pids = seen.pidsBySlot.get(worker.slot) ?? [];
      if (!pids.includes(worker.pid)) pids.push(worker.pid);
      seen.pidsBySlot.set(worker.slot, pids);
      if (worker.inRotation && !seen.inRotationAt.has(worker.pid)) seen.inRotationAt.set(worker.pid, now);
      // A ready worker out of rotation was seen in it before (a quarantine may come before the watch does).
      const wasInRotation = seen.inRotationAt.has(worker.pid) || worker.state === 'ready' || worker.state === 'quarantined';
      if (!worker.inRotation && wasInRotation && !seen.outAt.has(worker.pid)) seen.outAt.set(worker.pid, now);
      seen.oldestInFlightMs.set(worker.pid, Math.max(seen.oldestInFlightMs.get(worker.pid) ?? 0, worker.oldestInFlightMs));
      inFlight += worker.inFlight;
    }
    for (const pids of seen.pidsBySlot.values()) {
      for (const pid of pids) if (!live.has(pid) && !seen.outAt.has(pid)) seen.outAt.set(pid, now);
    }
    seen.maxInFlight = Math.max(seen.maxInFlight, inFlight);
    if (until(seen)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return seen;
}

function recycledPids(seen: Watched): number[] {
  return [...seen.pidsBySlot.values()].flatMap((pids) => pids.slice(0, -1));
}

/** A dependency served by the test: answers in 5 ms, or in `slowMs` for everyone once slowed. */
async function startDependency(t: TestContext, slowMs: number) {
  let delayMs = 5;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const timer = setTimeout(() => res.end('ok'), delayMs);
    req.on('close', () => clearTimeout(timer));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, slow: () => (delayMs = slowMs) };
}

async function poison(warden: RunningWarden): Promise<{ pid: number; slot: number; at: number }> {
  const { pid } = JSON.parse((await get(warden.port, '/poison')).body) as { pid: number };
  const at = Date.now();
  const slot = (await warden.workers()).workers.find((worker) => worker.pid === pid)?.slot;
  assert.ok(slot !== undefined, `the poisoned pid ${pid} is a worker`);
  return { pid, slot, at };
}

// Only waiting, in both modes: four wardens watched at once (the watches are time, not CPU), so the
// four take about as long as one.
describe('a worker only waiting is never recycled', { concurrency: 4 }, () => {
  for (const mode of ['shared', 'handoff']) {
    test(`a worker holding only long polls is never recycled (--balance ${mode})`, { timeout: 90_000 }, async (t) => {
      const warden = await startWarden(t, [fixture('long-poll.mjs'), '--workers', '2', '--balance', mode], { env: { LONG_POLL_MS: '30000' } });
      // Twelve clients, each holding a 30 s poll on a new connection: wherever the kernel or warden
      // puts them, some worker holds polls far longer than --stuck-after.
      const load = startLoad(warden.port, { concurrency: 12, timeoutMs: 45_000, maxMs: 60_000 });
      t.after(() => load.stop());
      const seen = await watchWorkers(warden, STUCK_AFTER_MS + 5000);
      await load.stop();
      assert.deepEqual(recycledPids(seen), [], 'no worker was recycled');
      assert.doesNotMatch(warden.output(), /is stuck/, 'no stuck verdict was logged');
      const held = Math.max(...seen.oldestInFlightMs.values());
      assert.ok(seen.maxInFlight >= 12, `the twelve polls reached the workers (at most ${seen.maxInFlight} in flight at once)`);
      assert.ok(held > STUCK_AFTER_MS + 2000, `a worker held a poll past --stuck-after (longest ${held} ms)`);
    });

    test(`a dependency slow for every worker recycles nobody (--balance ${mode})`, { timeout: 90_000 }, async (t) => {
      const dependency = await startDependency(t, 15_000);
      const warden = await startWarden(t, [fixture('slow-dependency.mjs'), '--workers', '2', '--balance', mode], { env: { DEPENDENCY_URL: dependency.url } });
      // Four keep-alive clients on each worker, so every worker surely has requests waiting on the
      // dependency (with new connections the kernel may give all of them to one worker).
      const { workers } = await warden.workers();
      const agents = await pinAgents(t, warden.port, workers.map((worker) => worker.pid as number), 4);
      let isRunning = true;
      const answered: number[] = [];
      const loops = agents.map(async (agent) => {
        while (isRunning) {
          const answer = await get(warden.port, '/', 30_000, {}, agent).catch(() => undefined);
          if (answer?.status === 200) answered.push(Date.now());
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      });
      t.after(() => (isRunning = false));
      // Answered at once first, so each worker has a pace the verdicts can judge by.
      await waitFor('answers from the fast dependency', () => answered.length >= 20 || undefined, 15_000);
      dependency.slow();
      const seen = await watchWorkers(warden, STUCK_AFTER_MS + 5000);
      isRunning = false;
      for (const agent of agents) agent.destroy();
      await Promise.all(loops);
      assert.deepEqual(recycledPids(seen), [], 'no worker was recycled');
      assert.doesNotMatch(warden.output(), /is stuck/, 'no stuck verdict was logged');
      const waited = [...seen.oldestInFlightMs.values()];
      assert.ok(waited.length === 2 && waited.every((ms) => ms > STUCK_AFTER_MS + 1000), `every worker waited on the dependency past --stuck-after (${waited.join(', ')} ms)`);
    });
  }
});

for (const mode of ['shared', 'handoff']) {
  test(`a poisoned worker under load leaves rotation and is replaced (--balance ${mode})`, { timeout: 90_000 }, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--balance', mode]);
    const load = startLoad(warden.port, { concurrency: 8, timeoutMs: 2000, maxMs: 60_000, ratePerLoop: 10 });
    t.after(() => load.stop());
    await waitFor('the load answered', () => load.samples.filter((sample) => sample.ok).length >= 40 || undefined, 15_000);
    const victim = await poison(warden);
    const seen = await watchWorkers(warden, 30_000, (watched) => {
      const replacement = (watched.pidsBySlot.get(victim.slot) ?? []).find((pid) => pid !== victim.pid);
      return replacement !== undefined && watched.inRotationAt.has(replacement);
    });
    await load.stop();
    const outAt = seen.outAt.get(victim.pid);
    const replacement = (seen.pidsBySlot.get(victim.slot) ?? []).find((pid) => pid !== victim.pid);
    const replacedAt = replacement === undefined ? undefined : seen.inRotationAt.get(replacement);
    t.diagnostic(`out of rotation ${(outAt ?? NaN) - victim.at} ms, replaced ${(replacedAt ?? NaN) - victim.at} ms after the poison`);
    assert.ok(load.samples.some((sample) => !sample.ok && sample.at >= victim.at), 'requests hung on the poisoned worker');
    assert.ok(outAt !== undefined && outAt - victim.at < OUT_OF_ROTATION_UNDER_LOAD_MS, `out of rotation ${(outAt ?? NaN) - victim.at} ms after the poison (bound ${OUT_OF_ROTATION_UNDER_LOAD_MS} ms)`);
    assert.ok(replacedAt !== undefined && replacedAt - victim.at < REPLACED_UNDER_LOAD_MS, `a replacement in rotation ${(replacedAt ?? NaN) - victim.at} ms after the poison (bound ${REPLACED_UNDER_LOAD_MS} ms)`);
  });

  test(`after a burst then silence the poisoned worker leaves rotation (--balance ${mode})`, { timeout: 90_000 }, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--balance', mode]);
    const victim = await poison(warden);
    // Bursts of 8 new connections, until one of them is left unanswered and the peer has answered
    // some (the kernel or warden may give a whole burst to one worker); then silence. Answers are
    // instant unless poisoned.
    let firstHungAt: number | undefined;
    let peerAnswered = 0;
    const pending: Promise<unknown>[] = [];
    for (let burst = 0; burst < 8 && (firstHungAt === undefined || peerAnswered === 0); burst++) {
      const sentAt = Date.now();
      const answers = Array.from({ length: 8 }, () => get(warden.port, '/', 30_000).then((answer) => JSON.parse(answer.body) as { pid: number }, () => undefined));
      pending.push(...answers);
      const settled = await Promise.all(answers.map((answer) => Promise.race([answer, new Promise((resolve) => setTimeout(() => resolve('hung'), 1500))])));
      peerAnswered += settled.filter((answer) => typeof answer === 'object' && answer !== null && (answer as { pid: number }).pid !== victim.pid).length;
      if (settled.includes('hung')) firstHungAt ??= sentAt;
    }
    assert.ok(firstHungAt !== undefined, 'a request of a burst reached the poisoned worker and hung');
    assert.ok(peerAnswered > 0, 'the peer answered requests of the bursts');
    const seen = await watchWorkers(warden, 30_000, (watched) => watched.outAt.has(victim.pid));
    const outAt = seen.outAt.get(victim.pid);
    t.diagnostic(`out of rotation ${(outAt ?? NaN) - firstHungAt} ms after the first request it left unanswered`);
    assert.ok(outAt !== undefined && outAt - firstHungAt < OUT_OF_ROTATION_SPARSE_MS,
      `out of rotation ${(outAt ?? NaN) - firstHungAt} ms after the first unanswered request (bound ${OUT_OF_ROTATION_SPARSE_MS} ms)`);
    void Promise.allSettled(pending);
  });
}

for (const mode of ['shared', 'handoff']) {
  test(`keep-alive clients pinned to a poisoned worker, nothing else arriving: the comparison probe replaces it (--balance ${mode})`, { timeout: 90_000 }, async (t) => {
    const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--balance', mode]);
    const { workers } = await warden.workers();
    const agents = await pinAgents(t, warden.port, workers.map((worker) => worker.pid as number), 4);
    // The first four agents hold their connection to the first worker: poisoned through one of them.
    const victimAgents = agents.slice(0, 4);
    const { pid: victimPid } = JSON.parse((await get(warden.port, '/poison', 5000, {}, victimAgents[0])).body) as { pid: number };
    const victimAt = Date.now();
    const victimSlot = workers.find((worker) => worker.pid === victimPid)?.slot as number;
    assert.equal(victimPid, workers[0]?.pid, 'poisoned through a connection pinned to the first worker');
    // The clients wait far longer than the bound: only the probe, not their giving up, can bring the evidence.
    const asked = victimAgents.map((agent) => get(warden.port, '/', 60_000, {}, agent).then(() => 'answered', () => 'failed'));
    const seen = await watchWorkers(warden, 30_000, (watched) => {
      const replacement = (watched.pidsBySlot.get(victimSlot) ?? []).find((pid) => pid !== victimPid);
      return replacement !== undefined && watched.inRotationAt.has(replacement);
    });
    const replacement = (seen.pidsBySlot.get(victimSlot) ?? []).find((pid) => pid !== victimPid);
    const replacedAt = replacement === undefined ? undefined : seen.inRotationAt.get(replacement);
    t.diagnostic(`replaced ${(replacedAt ?? NaN) - victimAt} ms after the poison`);
    assert.ok(replacedAt !== undefined && replacedAt - victimAt < REPLACED_UNDER_LOAD_MS, `a replacement in rotation ${(replacedAt ?? NaN) - victimAt} ms after the poison (bound ${REPLACED_UNDER_LOAD_MS} ms)`);
    assert.match(warden.output(), /compared with worker \d+: it did not answer the same probe a peer answered/, 'the comparison was the evidence');
    assert.equal(recycledPids(seen).length, 1, 'only the poisoned worker was replaced');
    for (const agent of agents) agent.destroy();
    await Promise.all(asked);
  });
}
