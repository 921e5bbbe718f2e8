// GET /metrics parsed as Prometheus text: per-worker series, the restarts counter after a SIGKILL,
// the app's own prom-client counter per slot, and a prompt scrape while a worker is frozen.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { fixture, get, killQuietly, startWarden, waitFor } from './harness.js';

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
  for (let i = 0; i < 12; i++) await get(warden.port, '/work');
  const first = await waitFor('the app counter from both slots', async () => {
    const { families } = await scrape(warden.adminPort);
    const sum = (name: string, labels: Record<string, string>) => ['1', '2'].reduce((total, slot) => total + (value(families, name, { ...labels, slot }) ?? 0), 0);
    // The app's metrics arrive about once a second, the heartbeat stats four times a second.
    const ok = sum('app_hits_total', { route: '/work' }) === 12 && sum('warden_worker_requests_total', { status_class: '2xx' }) === 12;
    return ok ? families : undefined;
  }, 10_000);
  const { contentType, text } = await scrape(warden.adminPort);
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  const hits = ['1', '2'].map((slot) => value(first, 'app_hits_total', { slot, route: '/work' }) as number);
  assert.ok(hits[0] > 0 && hits[1] > 0, 'both slots counted requests');
  const { workers } = await warden.workers();
  for (const worker of workers) {
    const labels = { slot: String(worker.slot), generation: '1' };
    assert.equal(value(first, 'warden_worker_info', { ...labels, pid: String(worker.pid) }), 1);
    assert.equal(value(first, 'warden_worker_state', { ...labels, state: 'ready' }), 1);
    assert.ok((value(first, 'warden_worker_resident_memory_bytes', labels) ?? 0) > 1e6);
    assert.ok(value(first, 'warden_worker_heartbeat_age_seconds', labels) !== undefined);
    assert.equal(value(first, 'warden_worker_requests_total', { ...labels, status_class: '2xx' }), value(first, 'app_hits_total', { slot: String(worker.slot), route: '/work' }), "warden's count per slot matches the app's");
    // The parser folds a labelled histogram's series together; read its _count line directly.
    assert.ok(first.has('warden_worker_request_duration_seconds'));
    const count = new RegExp(`^warden_worker_request_duration_seconds_count\\{slot="${worker.slot}",generation="1"\\} (\\d+)$`, 'm').exec(text);
    assert.ok(Number(count?.[1]) >= worker.served - 1, 'histogram count per worker');
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
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const slow = await scrape(warden.adminPort);
  assert.ok(slow.ms < 500, `scrape took ${slow.ms.toFixed(0)} ms with a frozen worker`);
  assert.ok((value(slow.families, 'warden_app_metrics_age_seconds', { slot: '1' }) ?? 0) >= 1, 'the age of the frozen worker\'s app metrics grows');
  assert.ok((value(slow.families, 'warden_worker_heartbeat_age_seconds', { slot: '1' }) ?? 0) >= 1);
});
