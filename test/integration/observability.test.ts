// Who is who: process titles in /proc; JSON log records from two workers (one pid key, the app's own
// JSON lifted to the top level, a 100 KiB line whole, a crash mid-line loses nothing); the access log.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fixture, get, startWarden, waitFor } from './harness.js';

function cmdline(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
}

function records(text: string): Record<string, unknown>[] {
  const complete = text.slice(0, text.lastIndexOf('\n'));
  return complete.split('\n').map((line) => {
    const keys = [...line.matchAll(/[{,]"([^"]+)":/g)].map((match) => match[1]);
    const record = JSON.parse(line) as Record<string, unknown>;
    // Top-level keys only (nested objects may repeat a name legitimately).
    const top = keys.filter((key) => key !== undefined && Object.hasOwn(record, key));
    assert.equal(new Set(top).size, Object.keys(record).length, `no duplicate key in ${line.slice(0, 200)}`);
    return record;
  });
}

test('ps tells the primary and each worker apart by their process titles', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2']);
  assert.equal(cmdline(warden.pid), `warden: primary worker-env.mjs :${warden.port}`);
  const { workers } = await warden.workers();
  for (const worker of workers) assert.equal(cmdline(worker.pid as number), `warden: worker ${worker.slot} worker-env.mjs`);
});

test('JSON logs from two workers: one pid per record, app JSON lifted, a 100 KiB line whole, a crash mid-line kept', async (t) => {
  const warden = await startWarden(t, [fixture('log-shapes.mjs'), '--workers', '2', '--log-format', 'json', '--access-log', 'on']);
  const { workers } = await warden.workers();
  const pidOf = new Map(workers.map((worker) => [worker.slot, worker.pid]));
  await waitFor('both big lines', () => (warden.stdout().match(/-end"/g)?.length ?? 0) >= 2 || undefined, 10_000);
  const first = records(warden.stdout());
  for (const slot of [1, 2]) {
    const pino = first.filter((r) => r.msg === 'pino line 0' && r.pid === pidOf.get(slot));
    assert.equal(pino.length, 1, `slot ${slot} pino line lifted once`);
    assert.equal(pino[0]?.hostname, 'h', "the app's fields are at the top level");
    assert.equal(pino[0]?.slot, `app-${slot}`, "the app's slot field is not overwritten");
    assert.deepEqual(pino[0]?.warden, { slot }, "warden's slot is under warden");
    const big = first.filter((r) => typeof r.msg === 'string' && r.msg.startsWith(`big-${slot}-`));
    assert.equal(big.length, 1, 'the 100 KiB line is one record');
    assert.equal(big[0]?.msg, `big-${slot}-${'b'.repeat(100 * 1024)}-end`);
    assert.equal(big[0]?.slot, slot);
    assert.equal(big[0]?.pid, pidOf.get(slot));
  }
  await get(warden.port, '/hello?secret=1');
  const access = await waitFor('an access line', () => records(warden.stdout()).find((r) => r.event === 'http.access'), 5000);
  assert.equal(access.path, '/hello', 'no query string');
  assert.equal(access.status, 200);
  assert.equal(access.method, 'GET');
  assert.ok(typeof access.durationMs === 'number');
  assert.ok(access.slot === 1 || access.slot === 2);
  assert.equal(access.pid, pidOf.get(access.slot as number));

  await get(warden.port, '/crash');
  const last = await waitFor('the last words', () => records(warden.stdout()).find((r) => typeof r.msg === 'string' && r.msg.startsWith('last words of')), 10_000);
  assert.match(String(last.msg), /^last words of [12] without a newline$/);
  assert.equal(last.pid, pidOf.get(Number(String(last.msg).split(' ')[3])));
});

test('--access-log in text format, with the query string when asked', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--access-log', 'query']);
  await get(warden.port, '/q?x=1');
  await waitFor('the access line', () => /^\[w1 \d+\] GET \/q\?x=1 200 [\d.]+ms$/m.test(warden.stdout()) || undefined, 5000);
});
