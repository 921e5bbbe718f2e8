// What a sick worker was doing, captured before it is replaced: the stack of a blocked event loop,
// the requests in flight of a stuck worker and a CPU profile of it, the error of a crash, each attributed to its slot.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { Agent } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Incident } from '../../src/diagnose/incidents.js';
import { fixture, get, getJson, pinAgents, startLoad, startWarden, waitFor, type RunningWarden } from './harness.js';

/** An incident as /incidents serves it (the record type, serialized). */
type IncidentView = Incident;

async function incidentFor(adminPort: number, pid: number, kind: string): Promise<IncidentView> {
  return waitFor(`a ${kind} incident for pid ${pid}`, async () => {
    const { body } = await getJson<{ incidents: IncidentView[] }>(adminPort, '/incidents');
    return body.incidents.find((incident) => incident.pid === pid && incident.kind === kind);
  }, 20_000);
}

/** The pid that wrote "<route> pid N" (faults.mjs does, right before it freezes). */
async function frozenBy(warden: RunningWarden, route: string): Promise<number> {
  const match = await waitFor(`the worker to report ${route}`, () => new RegExp(`^\\[w\\d \\d+\\] ${route} pid (\\d+)$`, 'm').exec(warden.output()) ?? undefined, 10_000);
  return Number(match[1]);
}

/**
 * Three keep-alive connections held by one worker, so that worker surely holds several unanswered
 * requests: with --balance shared the kernel, not warden, picks the worker of a new connection.
 */
async function pinThree(t: TestContext, warden: RunningWarden): Promise<{ pinned: Agent[]; target: number | undefined }> {
  const target = (await warden.workers()).workers.find((worker) => worker.state === 'ready')?.pid ?? undefined;
  assert.ok(target !== undefined, 'a ready worker to pin');
  return { pinned: await pinAgents(t, warden.port, [target], 3), target };
}

test('a busy loop: the stack names the spinning function and its file, logged before the worker is killed', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2']);
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  const spinner = await frozenBy(warden, '/spin');
  const incident = await incidentFor(warden.adminPort, spinner, 'stalled');
  assert.match(incident.stack ?? '', /at spinForever \(.*test\/fixtures\/faults\.mjs:\d+:\d+\)/);
  assert.equal(incident.profile?.path, undefined, 'without --profile-dir nothing is written');
  const output = await waitFor('the kill to be logged', () => (warden.output().includes(`(pid ${incident.pid}) was killed by SIGKILL`) ? warden.output() : undefined));
  const stackAt = output.indexOf('at spinForever');
  const killedAt = output.indexOf(`(pid ${incident.pid}) was killed by SIGKILL`);
  assert.ok(stackAt > 0 && killedAt > stackAt, `the stack is logged before the kill:\n${output}`);
  assert.match(output, new RegExp(`worker ${incident.slot} \\(pid ${incident.pid}\\) was stalled \\(no heartbeat for \\d\\.\\ds\\); its main thread was here:`));
  const { body } = await getJson<{ incidents: IncidentView[] }>(warden.adminPort, '/incidents');
  assert.deepEqual(body.incidents.filter((i) => i.kind === 'stalled').map((i) => i.pid), [spinner], 'only the worker that got /spin stalled');
});

test('a busy loop: a one-second CPU profile is taken after the stack, its top functions in the incident and its .cpuprofile in --profile-dir', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-profiles-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2', '--profile-dir', dir]);
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  const spinner = await frozenBy(warden, '/spin');
  const incident = await incidentFor(warden.adminPort, spinner, 'stalled');
  assert.match(incident.stack ?? '', /at spinForever/);
  const profile = incident.profile;
  assert.ok(profile !== undefined, `no profile: ${incident.noProfile}`);
  const [top] = profile.top;
  // V8 may count a loop it inlined before the profiler started in its caller (see profile-capture.ts).
  assert.ok(top !== undefined && top.url.endsWith('test/fixtures/faults.mjs') && top.selfPercent > 50, `the top function is the app's loop: ${JSON.stringify(profile.top.slice(0, 3))}`);
  assert.ok(profile.path !== undefined && profile.path.startsWith(dir) && profile.path.endsWith('.cpuprofile'), `saved: ${profile.path} ${profile.notSaved}`);
  assert.deepEqual(readdirSync(dir).filter((name) => name.endsWith('.cpuprofile')).length, 1);
  await warden.expectOutput(/top functions by self time over a 1\.0s CPU profile/, 'the profile is in the logged incident');
});

test('SIGSTOP: no stack can be taken, and the record says so instead of staying silent', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '1']);
  const { workers } = await warden.workers();
  const pid = workers[0]?.pid as number;
  process.kill(pid, 'SIGSTOP');
  const incident = await incidentFor(warden.adminPort, pid, 'stalled');
  assert.equal(incident.stack, undefined);
  assert.match(incident.noStack ?? '', /^no stack: .*inspector did not open/);
  // The log line is written when the record is; the primary's output reaches the pipe a moment later.
  const logged = new RegExp(`\\(pid ${pid}\\) was stalled \\(no heartbeat for \\d\\.\\ds\\); no stack: `);
  await waitFor('the incident in the log', () => logged.test(warden.output()) || undefined, 10_000);
});

test('Atomics.wait: the record holds the stack of the waiting function (V8 wakes the thread for the inspector)', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--timeout', '2']);
  get(warden.port, '/atomics', 20_000).catch(() => undefined);
  const waiter = await frozenBy(warden, '/atomics');
  const incident = await incidentFor(warden.adminPort, waiter, 'stalled');
  assert.equal(incident.noStack, undefined, `a stack, not: ${incident.noStack ?? ''}`);
  assert.match(incident.stack ?? '', /^ +at faults \(.*test\/fixtures\/faults\.mjs:\d+:\d+\)/, 'the waiting function, on top');
});

test('an app with its own SIGUSR1 handler: the inspector cannot open, and the record says "no stack" and why', async (t) => {
  const warden = await startWarden(t, [fixture('own-sigusr1.mjs'), '--workers', '2', '--timeout', '1']);
  get(warden.port, '/spin', 20_000).catch(() => undefined);
  const spinner = await frozenBy(warden, '/spin');
  const incident = await incidentFor(warden.adminPort, spinner, 'stalled');
  assert.equal(incident.stack, undefined);
  assert.match(incident.noStack ?? '', /^no stack: inspector did not open on 127\.0\.0\.1:\d+ within \d+ ms/);
  await warden.expectOutput(new RegExp(`\\(pid ${spinner}\\) was stalled \\(no heartbeat for \\d\\.\\ds\\); no stack: `));
  await waitFor('the stalled worker to be replaced', async () => {
    const slot = (await warden.workers()).workers.find((w) => w.slot === incident.slot);
    return slot !== undefined && slot.pid !== spinner && slot.state === 'ready';
  }, 15_000);
});

test('a stuck worker: its requests in flight are listed (method, path without query, age)', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--stuck-after', '3']);
  const { pinned, target } = await pinThree(t, warden);
  const poisoned = JSON.parse((await get(warden.port, '/poison', 5000, {}, pinned[0])).body) as { pid: number };
  assert.equal(poisoned.pid, target, 'the worker of those connections is poisoned');
  const pinnedSentAt = Date.now();
  for (const agent of pinned) void get(warden.port, '/orders?customer=secret', 20_000, {}, agent).catch(() => undefined);
  // The other worker keeps answering: the verdict needs a peer that does. These clients give up after
  // 2 s, as real ones do, so those that first reached the poisoned worker come back on new connections,
  // which reach the other worker once the poisoned one is out of rotation.
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 2000, path: '/orders?customer=secret', maxMs: 20_000, ratePerLoop: 20 });
  t.after(() => load.stop());
  const incident = await incidentFor(warden.adminPort, poisoned.pid, 'stuck');
  await load.stop();
  const listed = incident.requests?.requests ?? [];
  assert.ok(listed.length > 0, 'requests in flight are listed');
  for (const request of listed) {
    assert.equal(request.method, 'GET');
    // GET /: warden's comparison probe, sent at the quarantine and left unanswered too (listed, as it is evidence).
    if (request.path !== '/') assert.equal(request.path, '/orders', 'the query string is dropped');
  }
  assert.ok(listed.some((request) => request.path === '/orders'), 'the clients\' requests are listed');
  // Ages as of the capture: none older than the test's first request, the oldest (listed first) held
  // at least most of --stuck-after (3 s), since the worker answered nothing after /poison.
  const capturedAfterMs = Date.parse(incident.at) - pinnedSentAt;
  const ages = listed.map((request) => request.ageMs);
  assert.ok(ages.every((age) => age >= 0 && age <= capturedAfterMs + 1000), `ages ${ages.join(', ')} ms, captured ${capturedAfterMs} ms after the first request`);
  assert.ok((ages[0] as number) >= 2000, `the oldest request in flight is ${ages[0]} ms old (--stuck-after 3)`);
  // In flight first, then the ended ones the worker never answered (504s), each part oldest first.
  const inFlightAges = listed.filter((request) => request.endedBy === undefined).map((request) => request.ageMs);
  const endedAges = listed.filter((request) => request.endedBy !== undefined).map((request) => request.ageMs);
  assert.deepEqual(ages, [...inFlightAges, ...endedAges], 'requests in flight are listed before the ended ones');
  assert.deepEqual(inFlightAges, [...inFlightAges].sort((a, b) => b - a), 'requests in flight oldest first');
  assert.deepEqual(endedAges, [...endedAges].sort((a, b) => b - a), 'ended requests oldest first');
  await warden.expectOutput(/was stuck \(.*\); (its last answer was \d+\.\ds ago|it never answered a request); \d+ request\(s\) in flight( and \d+ it never answered that ended)?:\n +GET \/orders +\d+\.\ds/);
});

test('a stuck worker whose loop still turns: a CPU profile is taken before it is killed, its top function the busy one, the kill after --graceful-timeout', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--stuck-after', '3', '--graceful-timeout', '4']);
  const { pinned, target } = await pinThree(t, warden);
  const poisoned = JSON.parse((await get(warden.port, '/poison-busy', 5000, {}, pinned[0])).body) as { pid: number };
  assert.equal(poisoned.pid, target);
  for (const agent of pinned) void get(warden.port, '/orders', 30_000, {}, agent).catch(() => undefined);
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 2000, path: '/orders', maxMs: 30_000, ratePerLoop: 20 });
  t.after(() => load.stop());
  const incident = await incidentFor(warden.adminPort, poisoned.pid, 'stuck');
  await load.stop();
  assert.ok((incident.requests?.requests.length ?? 0) > 0, 'its requests are listed as before');
  const profile = incident.profile;
  assert.ok(profile !== undefined, `a profile was taken: ${incident.noProfile}`);
  assert.equal(profile.durationMs, 1000);
  const [top] = profile.top;
  // spinChunk, or churnCpu when V8 inlined spinChunk into it (docs/incidents.md).
  assert.ok(top !== undefined && ['spinChunk', 'churnCpu'].includes(top.functionName) && top.url.endsWith('test/fixtures/faults.mjs'), `the top function is the busy one: ${JSON.stringify(profile.top.slice(0, 3))}`);
  await warden.expectOutput(/top functions by self time over a 1\.0s CPU profile:\n.*(spinChunk|churnCpu)/, 'the logged incident carries the profile');
  // The order stays: drain, --graceful-timeout (4 s), then SIGKILL; the profile came before.
  await warden.expectOutput(new RegExp(`worker \\d \\(pid ${poisoned.pid}\\) did not finish draining within 4\\.0s; killing it`), 'killed after the graceful timeout', 20_000);
  const killedAt = warden.output().indexOf(`(pid ${poisoned.pid}) did not finish draining`);
  assert.ok(warden.output().indexOf('top functions by self time over a 1.0s CPU profile') < killedAt, 'the profile is logged before the kill');
});

test('a crash: the uncaught error and its stack are recorded for the slot that crashed', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2']);
  const crashed = JSON.parse((await get(warden.port, '/crash')).body) as { pid: number; worker: string };
  const incident = await incidentFor(warden.adminPort, crashed.pid, 'crashed');
  assert.equal(incident.slot, Number(crashed.worker), 'attributed to the right slot');
  assert.equal(incident.error?.message, 'fixture crash on purpose');
  assert.match(incident.error?.stack ?? '', /faults\.mjs:\d+:\d+/);
  await warden.expectOutput(new RegExp(`worker ${crashed.worker} \\(pid ${crashed.pid}\\) crashed: Error: fixture crash on purpose`));
  const { workers } = await warden.workers();
  assert.ok(workers.find((w) => w.slot === incident.slot)?.incidents.some((i) => i.kind === 'crashed'), '/workers shows the incident on its slot');
});

test('--max-memory: a worker over the limit is recycled gracefully, with its memory trend and a heap snapshot', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'warden-heap-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const warden = await startWarden(t, [fixture('memory.mjs'), '--workers', '2', '--max-memory', '150', '--heap-snapshot-on-recycle', dir]);
  let grown = { pid: 0, worker: '0' };
  for (let i = 0; i < 2; i++) grown = JSON.parse((await get(warden.port, '/grow')).body) as typeof grown;
  // Round-robin: the two /grow requests may have gone to two workers; grow until one is over the limit.
  for (let i = 0; i < 4; i++) grown = JSON.parse((await get(warden.port, '/grow')).body) as typeof grown;
  const incident = await waitFor('a memory incident', async () => {
    const { body } = await getJson<{ incidents: IncidentView[] }>(warden.adminPort, '/incidents');
    return body.incidents.find((i) => i.kind === 'memory');
  }, 20_000);
  assert.match(incident.reason, /RSS \d+ MB is above --max-memory 150 MB/);
  assert.ok((incident.memory?.samples.length ?? 0) >= 1, 'the RSS trend is recorded');
  const snapshot = incident.heapSnapshot;
  assert.ok(snapshot !== undefined && 'path' in snapshot, `a heap snapshot was written (${JSON.stringify(snapshot)})`);
  assert.ok(existsSync(snapshot.path));
  assert.ok(readdirSync(dir).some((name) => name.endsWith('.heapsnapshot')));
  const replacement = await waitFor('the recycled slot to be ready again', async () => {
    const current = (await warden.workers()).workers.find((w) => w.slot === incident.slot && w.state === 'ready');
    return current !== undefined && current.pid !== incident.pid ? current : undefined;
  }, 20_000);
  // The replacement's ready line comes after a backoff line would have been written.
  await warden.expectOutput(new RegExp(`worker ${incident.slot} ready \\(pid ${replacement.pid}\\)`), 'the replacement ready in the log');
  assert.doesNotMatch(warden.output(), /restarting worker \d in/, 'a memory recycle is not a failure: no backoff');
  await warden.expectOutput(/was recycled \(RSS \d+ MB is above --max-memory 150 MB\); memory before the recycle:\n +-?\d+s +rss/);
});

test('--request-timeout: the incident lists the requests warden answered 504 for the worker that never answered them', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--request-timeout', '2']);
  // Five keep-alive connections held by one worker: one request on each, all hanging, makes the five
  // timeouts in a row that recycle it. No other traffic, so the verdict is --request-timeout's.
  const agents: Agent[] = [];
  t.after(() => agents.forEach((agent) => agent.destroy()));
  const pinned: Agent[] = [];
  let target: number | undefined;
  for (let i = 0; i < 100 && pinned.length < 5; i++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    const { pid } = JSON.parse((await get(warden.port, '/', 5000, {}, agent)).body) as { pid: number };
    target ??= pid;
    if (pid === target) pinned.push(agent);
  }
  assert.equal(pinned.length, 5, 'five keep-alive connections on one worker');
  const poisoned = JSON.parse((await get(warden.port, '/poison', 5000, {}, pinned[0])).body) as { pid: number };
  assert.equal(poisoned.pid, target, 'the worker of those connections is poisoned');
  const statuses = await Promise.all(pinned.map((agent) => get(warden.port, '/orders?customer=secret', 20_000, {}, agent).then((answer) => answer.status, () => 0)));
  assert.ok(statuses.filter((status) => status === 504).length >= 1, `warden answered 504 (statuses ${statuses.join(', ')})`);
  const incident = await waitFor(`an incident for pid ${poisoned.pid}`, async () => {
    const { body } = await getJson<{ incidents: IncidentView[] }>(warden.adminPort, '/incidents');
    return body.incidents.find((entry) => entry.pid === poisoned.pid && (entry.kind === 'unhealthy' || entry.kind === 'stuck'));
  }, 20_000);
  const listed = incident.requests?.requests ?? [];
  const by504 = listed.filter((request) => request.endedBy === 'warden504');
  assert.ok(by504.length >= 1, `the requests answered 504 are listed (listed: ${JSON.stringify(listed)})`);
  for (const request of by504) {
    assert.equal(request.method, 'GET');
    assert.equal(request.path, '/orders', 'the query string is dropped');
    assert.ok(request.ageMs >= 1900, `its age counts from its arrival, past the 2 s timeout (${request.ageMs} ms)`);
  }
  assert.equal(incident.requests?.neverAnswered, listed.filter((request) => request.endedBy !== undefined).length);
  await warden.expectOutput(/was (unhealthy|stuck) \(.*\); .*request\(s\) in flight and \d+ it never answered that ended:\n(.*\n)* *GET \/orders +\d+\.\ds +\(answered 504 by warden, --request-timeout\)/);
});
