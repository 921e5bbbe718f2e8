// Apps that call listen() themselves after async work (a config read, a framework's bootstrap):
// warden must serve them on every boot and every reload, never refuse them on a guess.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fixture, get, getJson, runCli, startLoad, startWarden } from './harness.js';

const APP = fixture('shapes/listen-after-file-work.cjs');
const BOOTS = 5;
const RELOADS = 10;

test(`an app that listens after 3000 awaited file opens boots ${BOOTS} times of ${BOOTS} on 1 worker`, async (t) => {
  for (let boot = 1; boot <= BOOTS; boot++) {
    const warden = await startWarden(t, [APP, '--workers', '1']);
    const answer = await get(warden.port);
    assert.equal(answer.status, 200, `boot ${boot}: served`);
    warden.child.kill('SIGTERM');
    const { code } = await warden.exit();
    assert.equal(code, 0, `boot ${boot}: clean stop\n${warden.output()}`);
  }
});

test(`${RELOADS} reloads of a self-listening app under light load: every reload completes, no request fails`, async (t) => {
  const warden = await startWarden(t, [APP, '--workers', '2']);
  const load = startLoad(warden.port, { concurrency: 2, keepAlive: true, timeoutMs: 5000, ratePerLoop: 20, maxMs: 180_000 });
  const failedReloads: string[] = [];
  for (let reload = 1; reload <= RELOADS; reload++) {
    const outcome = await runCli(t, ['reload', '--control', warden.control], { timeoutMs: 60_000 });
    if (outcome.code !== 0) failedReloads.push(`reload ${reload}: exit ${outcome.code}: ${outcome.stdout}${outcome.stderr}`);
  }
  const samples = await load.stop();
  const failed = samples.filter((sample) => !sample.ok);
  assert.deepEqual(failedReloads, [], `${failedReloads.length} of ${RELOADS} reloads failed`);
  assert.ok(samples.length > 50, `the load ran (${samples.length} requests)`);
  assert.equal(failed.length, 0, `${failed.length} of ${samples.length} requests failed: ${JSON.stringify(failed.slice(0, 5))}`);
  const body = (await getJson<{ primary: { generation: number } }>(warden.adminPort, '/workers')).body;
  assert.equal(body.primary.generation, RELOADS + 1, 'every reload raised the generation');
  warden.child.kill('SIGTERM');
  assert.equal((await warden.exit()).code, 0);
});
