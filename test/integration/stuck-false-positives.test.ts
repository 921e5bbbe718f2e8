// Apps that are slow, streaming or busy on purpose must never be judged stuck. Each runs on its own
// warden with default flags and 2 workers, under a light bounded load for 26 s; all six run at the
// same time so the file takes about 35 s. Each test also checks that its load really did what the
// app is about (long polls answered after 18 s, 8 s past the default --stuck-after, 8 s requests
// seen, the cold phase seen, requests queued behind each other's CPU), so a test cannot pass on a
// load that never reached the app.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fixture, getJson, startLoad, startWarden, waitFor, type LoadSample } from './harness.js';

const LOAD_MS = 26_000;
/** Long polls and streams last this long: 8 s past --stuck-after's default (10 s), answered within LOAD_MS. */
const HOLD_MS = 18_000;

interface Case {
  name: string;
  fixture: string;
  env?: NodeJS.ProcessEnv;
  load: { concurrency: number; timeoutMs: number; ratePerLoop?: number };
  /** What the answers must show for the run to mean anything; returns a failure message or undefined. */
  evidence: (ok: readonly LoadSample[]) => string | undefined;
}

const count = (samples: readonly LoadSample[], keep: (sample: LoadSample) => boolean) => samples.filter(keep).length;

const CASES: Case[] = [
  {
    name: `long polls of ${HOLD_MS / 1000} s`,
    fixture: 'long-poll.mjs',
    env: { LONG_POLL_MS: String(HOLD_MS) },
    load: { concurrency: 6, timeoutMs: 45_000 },
    evidence: (ok) => (count(ok, (s) => s.ms >= HOLD_MS - 1000) >= 6 ? undefined : `expected 6 long polls answered after ${HOLD_MS} ms, got ${ok.map((s) => s.ms).join(', ')} ms`),
  },
  {
    name: `SSE streams of ${HOLD_MS / 1000} s`,
    fixture: 'sse.mjs',
    env: { SSE_MS: String(HOLD_MS) },
    load: { concurrency: 6, timeoutMs: 45_000 },
    evidence: (ok) => (count(ok, (s) => s.ms >= HOLD_MS - 1000) >= 6 ? undefined : `expected 6 complete ${HOLD_MS} ms streams, got ${ok.length}`),
  },
  {
    name: 'every request taking 2 to 5 s',
    fixture: 'slow-every.mjs',
    load: { concurrency: 12, timeoutMs: 15_000 },
    evidence: (ok) => (count(ok, (s) => s.ms >= 1900) >= 60 && count(ok, (s) => s.ms >= 4000) >= 10 ? undefined : `expected 60 slow answers, 10 of 4 s or more; got ${ok.length}`),
  },
  {
    name: 'bimodal: fast, and 1 request in 50 taking 8 s',
    fixture: 'bimodal.mjs',
    load: { concurrency: 6, timeoutMs: 15_000, ratePerLoop: 10 },
    evidence: (ok) => {
      const slow = count(ok, (s) => s.ms >= 7900);
      const fast = count(ok, (s) => s.ms < 1000);
      return slow >= 4 && fast >= 200 ? undefined : `expected 4 answers of 8 s and 200 fast ones, got ${slow} and ${fast}`;
    },
  },
  {
    name: 'slow for the first 10 s after boot (a cold cache)',
    fixture: 'cold-start.mjs',
    load: { concurrency: 12, timeoutMs: 15_000, ratePerLoop: 5 },
    evidence: (ok) => {
      const cold = count(ok, (s) => s.ms >= 900);
      const warm = count(ok, (s) => s.ms < 500);
      return cold >= 12 && warm >= 200 ? undefined : `expected 12 cold answers (1 to 3 s) and 200 warm ones, got ${cold} and ${warm}`;
    },
  },
  {
    name: '100 ms of CPU per request (busy, not sick)',
    fixture: 'cpu-busy.mjs',
    load: { concurrency: 4, timeoutMs: 15_000, ratePerLoop: 1.5 },
    evidence: (ok) => {
      const queued = count(ok, (s) => s.ms >= 180);
      return ok.length >= 40 && queued >= 5 ? undefined : `expected 40 answers, 5 of them queued behind another (180 ms or more), got ${ok.length} and ${queued}`;
    },
  },
];

describe(`no false stuck verdict: ${CASES.length} apps under load for ${LOAD_MS / 1000} s each, at the same time, default flags`, { concurrency: CASES.length }, () => {
  for (const app of CASES) {
    test(`${app.name}: no worker is recycled`, { timeout: 180_000 }, async (t) => {
      const startedAt = Date.now();
      const warden = await startWarden(t, [fixture(app.fixture), '--workers', '2'], { waitReady: false, env: app.env });
      // Twelve workers booting at once on a shared 2-core machine can take half a minute.
      await waitFor('all workers ready', async () => (await getJson(warden.adminPort, '/readyz')).status === 200, 90_000, 200);
      const bootMs = Date.now() - startedAt;
      const pidsBefore = (await warden.workers()).workers.map((w) => w.pid);
      const load = startLoad(warden.port, { ...app.load, maxMs: LOAD_MS + 5000 });
      t.after(() => load.stop());
      await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
      // Samples are recorded when a request completes; the ones cut by stop() are not.
      const samples = await load.stop();
      const ok = samples.filter((sample) => sample.ok);
      const { workers } = await warden.workers();
      t.diagnostic(`ready after ${bootMs} ms; ${ok.length} answered, ${samples.length - ok.length} failed; slowest ${Math.max(0, ...ok.map((s) => s.ms))} ms`);

      // A verdict is in /workers and /incidents as soon as it is made; its log line may come later.
      for (const worker of workers) assert.ok(worker.state === 'ready' && worker.inRotation && worker.incidents.length === 0, `worker ${worker.slot} never judged sick: ${JSON.stringify(worker)}`);
      assert.deepEqual((await getJson<{ incidents: unknown[] }>(warden.adminPort, '/incidents')).body.incidents, [], 'no incident recorded');
      assert.doesNotMatch(warden.output(), /is stuck|is unhealthy|sent no heartbeat|stalled/, 'no worker was judged sick');
      assert.deepEqual(workers.map((w) => w.pid), pidsBefore, 'no worker was replaced');
      for (const worker of workers) assert.equal(worker.restarts, 0, `worker ${worker.slot} was never restarted`);
      assert.equal(samples.length - ok.length, 0, `no request failed (${samples.filter((s) => !s.ok).map((s) => s.error ?? s.status).slice(0, 5).join(', ')})`);
      const missing = app.evidence(ok);
      assert.equal(missing, undefined, missing);
    });
  }
});
