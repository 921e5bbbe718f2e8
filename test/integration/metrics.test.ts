// GET /metrics parsed as Prometheus text: per-worker series, the restarts counter after a SIGKILL,
// the app's own prom-client counter per slot, and a prompt scrape while a worker is frozen.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fixture, get, killQuietly, quarantineOne, startLoad, startWarden, waitFor } from './harness.js';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; buckets?: Record<string, string>; count?: string }[];
}
const parsePrometheusTextFormat = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => Family[];

async function scrape(adminPort: number): Promise<{ families: Map<string, Family>; ms: number; contentType: string; text: string }> {
  const start = performance.now();
  const answer = await get(adminPort, '/metrics', 5000);
  const ms = performance.now() - start;
  assert.equal(answer.status, 200);
  const families = new Map(parsePrometheusTextFormat(answer.body).map((family) => [family.name, family]));
  return { families, ms, contentType: String(answer.headers['content-type']), text: answer.body };
}

function value(families: Map<string, Family>, name: string, labels: Record<string, string>): number | undefined {
  const family = families.get(name);
  const series = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return series?.value === undefined ? undefined : Number(series.value);
}

test('/metrics: per-worker series, restarts after a SIGKILL, the app counter per slot, prompt while a worker is frozen', async (t) => {
  const warden = await startWarden(t, [fixture('app-metrics.mjs'), '--workers', '2', '--timeout', '4']);
  // With --balance shared one worker can win a run of connections: send four at a time until both answered.
  const slots = new Set<string>();
  let sent = 0;
  while (slots.size < 2 && sent < 200) {
    const answers = await Promise.all([0, 1, 2, 3].map(() => get(warden.port, '/work')));
    for (const answer of answers) slots.add((JSON.parse(answer.body) as { slot: string }).slot);
    sent += 4;
  }
  assert.equal(slots.size, 2, `both slots answered within ${sent} requests`);
  const { families: first, contentType, text } = await waitFor('the app counter from both slots', async () => {
    const scraped = await scrape(warden.adminPort);
    const sum = (name: string, labels: Record<string, string>) => ['1', '2'].reduce((total, slot) => total + (value(scraped.families, name, { ...labels, slot }) ?? 0), 0);
    // The app's metrics arrive about once a second, the heartbeat stats four times a second.
    const ok = sum('app_hits_total', { route: '/work' }) === sent && sum('warden_worker_requests_total', { status_class: '2xx' }) === sent;
    return ok ? scraped : undefined;
  }, 10_000);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const hits = ['1', '2'].map((slot) => value(first, 'app_hits_total', { slot, route: '/work' }) as number);
  assert.ok(hits[0] > 0 && hits[1] > 0, 'both slots counted requests');
  const { workers } = await warden.workers();
  for (const worker of workers) {
    const labels = { slot: String(worker.slot), generation: '1' };
    assert.equal(value(first, 'warden_worker_info', { ...labels, pid: String(worker.pid) }), 1);
    assert.equal(value(first, 'warden_worker_state', { ...labels, state: 'ready' }), 1);
    assert.ok((value(first, 'warden_worker_resident_memory_bytes', labels) ?? 0) > 1e6);
    // Heartbeats come four times a second: a healthy worker's age stays well under the 4 s --timeout.
    const age = value(first, 'warden_worker_heartbeat_age_seconds', labels);
    assert.ok(age !== undefined && age >= 0 && age < 2, `heartbeat age of slot ${worker.slot}: ${age} s`);
    assert.equal(value(first, 'warden_worker_requests_total', { ...labels, status_class: '2xx' }), value(first, 'app_hits_total', { slot: String(worker.slot), route: '/work' }), "warden's count per slot matches the app's");
    // The parser folds a labelled histogram's series together; read its _count line directly.
    assert.ok(first.has('warden_worker_request_duration_seconds'));
    const count = new RegExp(`^warden_worker_request_duration_seconds_count\\{slot="${worker.slot}",generation="1"\\} (\\d+)$`, 'm').exec(text);
    // From the same scrape as the requests counter: one observation per answered request.
    assert.equal(Number(count?.[1]), value(first, 'warden_worker_requests_total', { ...labels, status_class: '2xx' }), `histogram count of slot ${worker.slot}`);
  }
  assert.equal(value(first, 'warden_workers', { state: 'ready' }), 2);
  for (const reason of ['crashed', 'stalled', 'max-requests', 'reload', 'scale']) assert.equal(value(first, 'warden_worker_replacements_total', { reason }), 0, reason);

  const victim = workers.find((w) => w.slot === 2)?.pid as number;
  killQuietly(victim, 'SIGKILL');
  await waitFor('slot 2 replaced', async () => (await warden.workers()).workers.some((w) => w.slot === 2 && w.pid !== victim && w.state === 'ready') || undefined, 20_000);
  const after = (await scrape(warden.adminPort)).families;
  assert.equal(value(after, 'warden_worker_restarts_total', { slot: '2' }), 1);
  assert.equal(value(after, 'warden_worker_replacements_total', { reason: 'crashed' }), 1);
  assert.equal(after.get('warden_worker_info')?.metrics.filter((m) => m.labels?.pid === String(victim)).length, 0, "the dead worker's series are gone");

  // Freeze slot 1: scrapes stay fast; its app series stay, with a growing age.
  const frozen = (await warden.workers()).workers.find((w) => w.slot === 1)?.pid as number;
  killQuietly(frozen, 'SIGSTOP');
  t.after(() => killQuietly(frozen, 'SIGKILL'));
  const slow = await waitFor('the frozen worker\'s ages to pass 1 s', async () => {
    const scraped = await scrape(warden.adminPort);
    const appAge = value(scraped.families, 'warden_app_metrics_age_seconds', { slot: '1' }) ?? 0;
    const heartbeatAge = value(scraped.families, 'warden_worker_heartbeat_age_seconds', { slot: '1' }) ?? 0;
    return appAge >= 1 && heartbeatAge >= 1 ? scraped : undefined;
  }, 3500);
  assert.equal(value(slow.families, 'warden_worker_info', { slot: '1', generation: '1', pid: String(frozen) }), 1, 'the frozen worker\'s series stay');
  // Prompt: a scrape never waits on the frozen worker. Several samples, bounded generously, so one
  // descheduled scrape on a loaded machine does not decide.
  const timings: number[] = [slow.ms];
  for (let i = 0; i < 4; i++) timings.push((await scrape(warden.adminPort)).ms);
  timings.sort((a, b) => a - b);
  assert.ok((timings[2] as number) < 500, `median scrape ${(timings[2] as number).toFixed(0)} ms with a frozen worker (${timings.map((ms) => ms.toFixed(0)).join(', ')})`);
  assert.ok((timings[4] as number) < 2000, `slowest scrape ${(timings[4] as number).toFixed(0)} ms with a frozen worker`);
});

test('/metrics: a quarantined worker in warden_worker_quarantined, warden_worker_state and warden_workers; quarantines counted, and how they ended', async (t) => {
  // --compare-probe off: the comparison would be the evidence that recycles it; the views of a quarantine are the subject.
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--compare-probe', 'off']);
  const victim = await quarantineOne(warden);
  const { families } = await scrape(warden.adminPort);
  const peer = (await warden.workers()).workers.find((worker) => worker.pid !== victim.pid);
  const labels = { slot: String(victim.slot), generation: '1' };
  assert.equal(value(families, 'warden_worker_quarantined', labels), 1);
  assert.equal(value(families, 'warden_worker_quarantined', { slot: String(peer?.slot), generation: '1' }), 0);
  assert.equal(value(families, 'warden_worker_state', { ...labels, state: 'quarantined' }), 1);
  assert.equal(value(families, 'warden_worker_state', { ...labels, state: 'ready' }), 0, 'a quarantined worker does not read ready');
  assert.equal(value(families, 'warden_workers', { state: 'quarantined' }), 1);
  assert.equal(value(families, 'warden_workers', { state: 'ready' }), 1);
  assert.equal(value(families, 'warden_worker_quarantines_total', {}), 1);
  for (const outcome of ['released', 'recycled', 'returned', 'exited']) assert.equal(value(families, 'warden_worker_quarantine_ends_total', { outcome }), 0, outcome);
  // Traffic again: the peer answers what the quarantined worker does not, the evidence that recycles it.
  const load = startLoad(warden.port, { concurrency: 4, timeoutMs: 2000, maxMs: 30_000, ratePerLoop: 10 });
  t.after(() => load.stop());
  const ended = await waitFor('the quarantine ended by a recycle', async () => {
    const scraped = (await scrape(warden.adminPort)).families;
    return value(scraped, 'warden_worker_quarantine_ends_total', { outcome: 'recycled' }) === 1 ? scraped : undefined;
  }, 20_000);
  await load.stop();
  assert.equal(value(ended, 'warden_worker_quarantines_total', {}), 1);
  assert.equal(value(ended, 'warden_worker_quarantine_ends_total', { outcome: 'exited' }), 0, 'its exit after the recycle is not counted again');
  void Promise.allSettled(victim.hanging);
});
