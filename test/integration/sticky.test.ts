// --sticky: the primary hands every connection from one client address to the same worker while that
// worker is in rotation; when it dies, its clients move to a live worker. Refused with --balance shared.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { fixture, runCli, startWarden, waitFor } from './harness.js';

/** One GET on a new connection from `localAddress` (127.0.0.x are all this machine's): the pid that answered. */
function pidFrom(port: number, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, localAddress }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve((JSON.parse(body) as { pid: number }).pid) : reject(new Error(`status ${res.statusCode}: ${body}`))));
    });
    req.setTimeout(5000, () => req.destroy(new Error('GET / from ' + localAddress + ' took over 5 s')));
    req.on('error', reject);
    req.end();
  });
}

async function pidsFrom(port: number, localAddress: string, count: number): Promise<number[]> {
  const pids: number[] = [];
  // Four at a time: the least-loaded rule would spread these over the workers.
  for (let i = 0; i < count; i += 4) pids.push(...(await Promise.all([0, 1, 2, 3].map(() => pidFrom(port, localAddress)))));
  return pids;
}

test('--sticky: every connection from one address reaches the same worker; other addresses spread; a dead worker\'s client moves', async (t) => {
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '3', '--sticky']);
  const home = await pidsFrom(warden.port, '127.0.0.1', 24);
  assert.equal(new Set(home).size, 1, `all 24 connections from 127.0.0.1 reached one worker: ${home.join(', ')}`);
  const homePid = home[0] as number;

  const byAddress = new Map<string, number>();
  for (let i = 2; i <= 9; i++) {
    const address = `127.0.0.${i}`;
    const pids = new Set(await pidsFrom(warden.port, address, 8));
    assert.equal(pids.size, 1, `${address} sticks to one worker too: ${[...pids].join(', ')}`);
    byAddress.set(address, [...pids][0] as number);
  }
  assert.ok(new Set([homePid, ...byAddress.values()]).size >= 2, `nine addresses do not all land on one worker: ${JSON.stringify([...byAddress])}`);

  // A frozen worker leaves rotation (late): its client goes to a healthy worker meanwhile.
  process.kill(homePid, 'SIGSTOP');
  t.after(() => {
    try {
      process.kill(homePid, 'SIGCONT');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
    }
  });
  const survivors = new Set((await warden.workers()).workers.map((w) => w.pid).filter((pid) => pid !== homePid));
  const moved = await waitFor('127.0.0.1 to be served by a healthy worker', async () => {
    const pid = await pidFrom(warden.port, '127.0.0.1').catch(() => undefined);
    return pid !== undefined && survivors.has(pid) ? pid : undefined;
  }, 15_000);
  const meanwhile = await pidsFrom(warden.port, '127.0.0.1', 8);
  assert.deepEqual(new Set(meanwhile), new Set([moved]), 'and it sticks to that one while the home worker is out');
  // Addresses whose worker is healthy stayed where they were.
  for (const [address, pid] of byAddress) {
    if (pid !== homePid) assert.equal(await pidFrom(warden.port, address), pid, `${address} kept its worker`);
  }
  // Killed and replaced: the new worker in that slot gets the slot's clients back.
  process.kill(homePid, 'SIGKILL');
  const replacement = await waitFor('a replacement in the dead worker\'s slot', async () => {
    const { workers } = await warden.workers();
    const fresh = workers.find((w) => w.state === 'ready' && w.pid !== null && w.pid !== homePid && !survivors.has(w.pid));
    return fresh?.pid ?? undefined;
  }, 20_000);
  const after = await pidsFrom(warden.port, '127.0.0.1', 12);
  assert.deepEqual(new Set(after), new Set([replacement]), `127.0.0.1 reaches the replacement: ${after.join(', ')}`);
});

test('--sticky with --balance shared is refused: the kernel picks the worker there', async (t) => {
  const outcome = await runCli(t, ['serve', fixture('faults.mjs'), '--sticky', '--balance', 'shared', '--port', '0', '--admin-port', '0']);
  assert.notEqual(outcome.code, 0);
  assert.match(outcome.stderr, /--sticky cannot work with --balance shared/);
  assert.match(outcome.stderr, /handoff/);
});
