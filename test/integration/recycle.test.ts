// How a sick or oversized worker leaves, seen from outside under load (in the balance mode the
// harness is given: CI runs this file in both): one over --max-memory takes no new connection from
// the moment it is over, while its replacement boots; a stuck one is drained for --graceful-timeout
// and only then SIGKILLed. Both use fixtures/faults.mjs (/grow keeps 200 MB, /poison hangs the rest).

import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { test, type TestContext } from 'node:test';
import { fixture, get, isAlive, startLoad, startWarden, waitFor } from './harness.js';

/** Keep-alive agents until two hold a connection to the same worker; both are destroyed at the end. */
async function pinTwo(t: TestContext, port: number): Promise<[Agent, Agent] & { pid: number }> {
  const byPid = new Map<number, Agent[]>();
  const all: Agent[] = [];
  t.after(() => all.forEach((agent) => agent.destroy()));
  for (let tries = 0; tries < 100; tries++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    all.push(agent);
    const { pid } = JSON.parse((await get(port, '/', 5000, {}, agent)).body) as { pid: number };
    const list = [...(byPid.get(pid) ?? []), agent];
    byPid.set(pid, list);
    if (list.length === 2) return Object.assign([list[0], list[1]] as [Agent, Agent], { pid });
  }
  throw new Error('no two keep-alive connections reached the same worker in 100 tries');
}

/** A connection the primary handed over, or the kernel queued, just before the verdict may still land. */
const IN_TRANSIT_MS = 500;

test('a worker over --max-memory is out of rotation at once, before its replacement is ready, and gets no connection after', async (t) => {
  // Workers take 1.5 s to boot, so the replacement is seen booting for a while on any machine.
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--max-memory', '150'], { env: { BOOT_MS: '1500' } });
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 5000, ratePerLoop: 20, maxMs: 60_000 });
  t.after(() => load.stop());
  await waitFor('the load answered', () => load.samples.filter((sample) => sample.ok).length >= 40 || undefined, 15_000);
  const grown = JSON.parse((await get(warden.port, '/grow')).body) as { pid: number };
  const slot = (await warden.workers()).workers.find((worker) => worker.pid === grown.pid)?.slot;
  assert.ok(slot !== undefined, `the grown pid ${grown.pid} is a worker`);

  let outAt: number | undefined;
  /** One /workers answer showing the grown worker out of rotation while no replacement in its slot is ready yet. */
  let outBeforeReplacement = false;
  await waitFor('the grown worker replaced', async () => {
    const seen = (await warden.workers()).workers;
    const now = Date.now();
    const victim = seen.find((worker) => worker.pid === grown.pid);
    const replacement = seen.find((worker) => worker.slot === slot && worker.pid !== grown.pid && worker.state === 'ready' && worker.inRotation);
    if (victim === undefined || !victim.inRotation) outAt ??= now;
    if (victim !== undefined && !victim.inRotation && replacement === undefined) outBeforeReplacement = true;
    return replacement !== undefined || undefined;
  }, 30_000, 20);
  const samples = await load.stop();

  await warden.expectOutput(new RegExp(`worker ${slot} \\(pid ${grown.pid}\\) will be recycled: RSS \\d+ MB is above --max-memory 150 MB`));
  assert.ok(outBeforeReplacement, 'seen out of rotation while its replacement was not ready yet');
  // The worker's lines arrive in order: once its drain line is in, every connection line before it is too.
  await warden.expectOutput(new RegExp(`\\[w${slot} ${grown.pid}\\] faults: drain received after \\d+ connections while grown`), 'the grown worker was drained');
  assert.doesNotMatch(warden.output(), new RegExp(`\\[w${slot} ${grown.pid}\\] faults: connection after drain`), 'no connection reached it after its drain');
  const lateConnections = [...warden.output().matchAll(new RegExp(`\\[w${slot} ${grown.pid}\\] faults: connection at (\\d+)`, 'g'))]
    .map((match) => Number(match[1])).filter((at) => at > (outAt as number) + IN_TRANSIT_MS);
  assert.deepEqual(lateConnections.map((at) => `${at - (outAt as number)} ms after`), [], 'no connection reached the worker after it left rotation');
  assert.deepEqual(samples.filter((sample) => !sample.ok).map((sample) => sample.error ?? sample.status), [], 'no request failed');
});

test('a stuck worker is drained for --graceful-timeout (3 s) and only then SIGKILLed', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--graceful-timeout', '3']);
  // Clients give up after 2 s, as real ones do: the peer's answers keep coming, the poisoned worker's don't.
  const load = startLoad(warden.port, { concurrency: 8, timeoutMs: 2000, ratePerLoop: 10, maxMs: 60_000 });
  t.after(() => load.stop());
  await waitFor('the load answered', () => load.samples.filter((sample) => sample.ok).length >= 40 || undefined, 15_000);
  // Two keep-alive connections on one worker: one poisons it, the other holds a patient request on
  // it, so its drain has a request that never ends and lasts until the kill.
  const pinned = await pinTwo(t, warden.port);
  const poisoned = JSON.parse((await get(warden.port, '/poison', 5000, {}, pinned[0])).body) as { pid: number };
  assert.equal(poisoned.pid, pinned.pid, 'the pinned worker was poisoned');
  const held = get(warden.port, '/', 60_000, {}, pinned[1]).then(() => 'answered', (error: Error) => `failed: ${error.message}`);

  let seenDrainingAt: number | undefined;
  const goneAt = await waitFor('the stuck worker gone', async () => {
    const victim = (await warden.workers()).workers.find((worker) => worker.pid === poisoned.pid);
    const now = Date.now();
    // Shown `unhealthy` from the verdict until it exits: out of rotation, draining.
    if (victim !== undefined && victim.state === 'unhealthy' && !victim.inRotation) seenDrainingAt ??= now;
    return isAlive(poisoned.pid) ? undefined : now;
  }, 30_000, 20);
  await load.stop();
  const slot = (await warden.workers()).workers.find((worker) => worker.lastExit?.pid === poisoned.pid);

  assert.ok(seenDrainingAt !== undefined, 'the stuck worker was seen out of rotation, draining');
  await warden.expectOutput(new RegExp(`\\(pid ${poisoned.pid}\\) is stuck: .*; replacing it`));
  // The worker's own clock when the drain reached it, moments after the verdict: the kill is due 3 s after that.
  const drainLine = new RegExp(`\\[w\\d+ ${poisoned.pid}\\] faults: drain received after \\d+ connections while poisoned at (\\d+)`);
  const drained = drainLine.exec(await warden.expectOutput(drainLine, 'the stuck worker was told to drain'));
  assert.ok(drained);
  const drainedAt = Number(drained[1]);
  await warden.expectOutput(new RegExp(`\\(pid ${poisoned.pid}\\) did not finish draining within 3\\.0s; killing it`));
  t.diagnostic(`drained for ${goneAt - drainedAt} ms before it was seen gone`);
  assert.ok(goneAt - drainedAt >= 2500, `alive and draining for ${goneAt - drainedAt} ms before the kill (--graceful-timeout 3 s)`);
  assert.ok(goneAt - drainedAt < 3000 + 5000, `killed ${goneAt - drainedAt} ms after its drain began (bound 3 s plus slack)`);
  assert.equal(slot?.lastExit?.signal, 'SIGKILL', `the stuck worker ended by SIGKILL: ${JSON.stringify(slot?.lastExit)}`);
  assert.match(await held, /^failed/, 'the patient request was held by the stuck worker until the kill');
});
