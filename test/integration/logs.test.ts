// --log-format json: one JSON object per line, warden's events with an `event` field, worker output
// as worker.output records carrying slot and pid. Workers see WARDEN_WORKER_ID and WARDEN_WORKER_COUNT.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, startWarden, waitFor } from './harness.js';

test('--log-format json writes one parseable object per line, with events and attributed worker output', async (t) => {
  const warden = await startWarden(t, [fixture('chatty.mjs'), '--workers', '2', '--log-format', 'json']);
  await waitFor('worker output and both ready events', () => {
    const text = warden.stdout();
    return ((text.match(/"worker\.output"/g)?.length ?? 0) >= 40 && (text.match(/"worker\.ready"/g)?.length ?? 0) >= 2) || undefined;
  }, 10_000);
  // Only complete lines: the last one may still be arriving.
  const complete = warden.stdout().slice(0, warden.stdout().lastIndexOf('\n'));
  const records = complete.split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  const events = new Set(records.map((record) => record.event));
  for (const event of ['warden.started', 'worker.spawned', 'worker.ready', 'worker.output']) assert.ok(events.has(event), `has ${event}`);
  const { workers } = await warden.workers();
  const pids = new Set(workers.map((w) => w.pid));
  for (const record of records.filter((r) => r.event === 'worker.output')) {
    assert.ok(record.slot === 1 || record.slot === 2, 'slot');
    assert.ok(pids.has(record.pid as number), 'pid of a worker');
    const tag = record.stream === 'stdout' ? 'out' : 'err';
    assert.match(String(record.msg), new RegExp(`^${tag}-${String(record.slot)}-x+-end$`), 'the line, whole, from that slot and stream');
  }
  const ready = records.find((r) => r.event === 'worker.ready');
  assert.ok(typeof ready?.generation === 'number' && typeof ready?.pid === 'number', 'worker events carry slot, generation and pid');
});

test('each worker sees WARDEN_WORKER_ID (its slot) and WARDEN_WORKER_COUNT', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2']);
  // Four at a time on new connections until both slots answered: with --balance shared the kernel
  // picks the worker, and one often wins a run of sequential requests (see answeringPids).
  const { workers } = await warden.workers();
  const slotOfPid = new Map(workers.map((w) => [w.pid, String(w.slot)]));
  const seen = new Map<string, string>();
  for (let sent = 0; sent < 200 && seen.size < 2; sent += 4) {
    const answers = await Promise.all([0, 1, 2, 3].map(() => get(warden.port, '/')));
    for (const answer of answers) {
      const body = JSON.parse(answer.body) as { id: string; count: string; pid: number };
      assert.equal(slotOfPid.get(body.pid), body.id, `WARDEN_WORKER_ID is the slot of pid ${body.pid}`);
      seen.set(body.id, body.count);
    }
  }
  assert.deepEqual([...seen.entries()].sort(), [['1', '2'], ['2', '2']]);
});

test('WARDEN_WORKER_ID stays with the slot when its worker is replaced, and PORT is the port warden serves', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2']);
  type Env = { id: string; count: string; pid: number; port: string };
  const ask = async () => JSON.parse((await get(warden.port, '/')).body) as Env;
  const first = await ask();
  assert.equal(first.port, String(warden.port), 'PORT is the service port, as a self-listening app needs');
  const slot = Number(first.id);
  process.kill(first.pid, 'SIGKILL');
  const replacement = await waitFor('a new worker in the same slot', async () => {
    const worker = (await warden.workers()).workers.find((w) => w.slot === slot);
    return worker !== undefined && worker.pid !== first.pid && worker.state === 'ready' ? worker : undefined;
  }, 20_000);
  const seen = await waitFor('an answer from the replacement', async () => {
    const body = await ask();
    return body.pid === replacement.pid ? body : undefined;
  }, 10_000);
  assert.equal(seen.id, String(slot), 'the replacement has the id of its slot');
  assert.equal(seen.count, '2');
  assert.equal(seen.port, String(warden.port));
});
