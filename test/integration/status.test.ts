// `warden status` against a running warden (table and --json), and its error with none running.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { fixture, get, quarantineOne, startWarden, WARDEN } from './harness.js';

function status(args: string[]) {
  return spawnSync(process.execPath, [WARDEN, 'status', ...args], { encoding: 'utf8', timeout: 15_000, env: { ...process.env, NO_COLOR: '' } });
}

test('warden status prints one line per worker, and --json the same rows', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '2']);
  for (let i = 0; i < 4; i++) await get(warden.port, '/');
  const { workers } = await warden.workers();
  const table = status(['--admin', `http://127.0.0.1:${warden.adminPort}`]);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0] as string, new RegExp(`^warden primary ${warden.pid} .* 2/2 ready  elu \\d+%  queue 0/511$`));
  assert.match(lines[1] as string, /^slot\s+pid\s+state\s+uptime\s+req\/s\s+in flight\s+loop\s+elu\s+rss\s+restarts\s+suspicion \/ last exit/);
  for (const worker of workers) assert.ok(lines.some((line) => new RegExp(`^${worker.slot}\\s+${worker.pid}\\s+ready\\s`).test(line)), `a line for worker ${worker.slot}`);
  assert.ok(!table.stdout.includes('\x1b['), 'no colour when not on a terminal');

  const json = status(['--admin', `http://127.0.0.1:${warden.adminPort}`, '--json']);
  assert.equal(json.status, 0, json.stderr);
  const body = JSON.parse(json.stdout) as { primary: { pid: number }; workers: { slot: number; pid: number; state: string; requestsPerSecond: number | null; restarts: number }[] };
  assert.equal(body.primary.pid, warden.pid);
  assert.deepEqual(body.workers.map((w) => [w.slot, w.pid, w.state]), workers.map((w) => [w.slot, w.pid, 'ready']));
  assert.ok(body.workers.every((w) => typeof w.requestsPerSecond === 'number' && w.restarts === 0));
});

test('warden status with no primary running: a clear error and a non-zero exit', async () => {
  // A port that was free a moment ago: nothing listens on it.
  const port = await new Promise<number>((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number };
      server.close(() => resolve(address.port));
    });
  });
  const result = status(['--admin', `http://127.0.0.1:${port}`]);
  assert.equal(result.status, 1);
  assert.match(result.stderr, new RegExp(`^warden: no warden primary answers at http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n  hint: start one with`));
  assert.equal(result.stdout, '');
});

test('warden status finds the primary through its control socket: by --port (its service port) or --control, with no --admin', async (t) => {
  const warden = await startWarden(t, [fixture('worker-env.mjs'), '--workers', '1']);
  for (const args of [['--port', String(warden.port)], ['--control', warden.control]]) {
    const table = status([...args, '--json']);
    assert.equal(table.status, 0, `${args.join(' ')}: ${table.stderr}`);
    assert.equal((JSON.parse(table.stdout) as { primary: { pid: number } }).primary.pid, warden.pid, `${args.join(' ')} reached this warden, whose admin port is ${warden.adminPort}`);
  }
});

test('warden status shows a quarantined worker as such: its state, out of rotation, for how long and why; --json the same', async (t) => {
  // --compare-probe off: the comparison would be the evidence that recycles it; the views of a quarantine are the subject.
  const warden = await startWarden(t, [fixture('faults.mjs'), '--workers', '2', '--compare-probe', 'off']);
  const victim = await quarantineOne(warden);
  const table = status(['--admin', `http://127.0.0.1:${warden.adminPort}`]);
  assert.equal(table.status, 0, table.stderr);
  const lines = table.stdout.trimEnd().split('\n');
  assert.match(lines[0] as string, /1\/2 ready, 1 quarantined(  elu \d+%)?  queue \d+\/\d+$/, lines[0]);
  const line = lines.find((candidate) => new RegExp(`^${victim.slot}\\s+${victim.pid}\\s`).test(candidate)) ?? '';
  assert.match(line, new RegExp(`^${victim.slot}\\s+${victim.pid}\\s+quarantined\\s.*quarantined \\d+s \\(out of rotation\\): \\d+ request\\(s\\)`), table.stdout);
  const json = JSON.parse(status(['--admin', `http://127.0.0.1:${warden.adminPort}`, '--json']).stdout) as { workers: { pid: number; state: string; suspicion: string | null }[] };
  const row = json.workers.find((worker) => worker.pid === victim.pid);
  assert.equal(row?.state, 'quarantined');
  assert.match(row?.suspicion ?? '', /^quarantined \d+s \(out of rotation\): /);
  assert.ok(json.workers.filter((worker) => worker.pid !== victim.pid).every((worker) => worker.state === 'ready' && worker.suspicion === null), 'its peer reads ready, not suspect');
  void Promise.allSettled(victim.hanging);
});
