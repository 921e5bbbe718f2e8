// `npm run bench -- restart`: restart warden itself under load, as `systemctl restart` does, and count
// what clients saw. Two ways, side by side in one run:
//   plain       warden binds --port itself: SIGTERM, wait for the exit, start a new warden
//   activated   a holder owns the listening socket (bench/lib/socket-holder.py, systemd's part) and
//               passes it as --fd 3: the same stop and start, while the socket and its queue live on
// Load: CONNECTIONS (16) closed loops, a new connection per request, for BEFORE (2) s, through the
// restart, and AFTER (2) s once the new warden is ready. Each request is ok (200), refused
// (ECONNREFUSED: nothing listened), or failed (a reset, a timeout, another status). WORKERS (2).

import { join } from 'node:path';
import { ROOT } from './lib/contenders.js';
import { httpGet, pollUntil } from './lib/http.js';
import { sendSignal, sleep, startProcess } from './lib/processes.js';
import { envNumber, machineLine, round, table } from './lib/report.js';

const WARDEN = join(ROOT, 'bin', 'warden.js');
const APP = join(ROOT, 'bench', 'apps', 'hello.js');
const HOLDER = join(ROOT, 'bench', 'lib', 'socket-holder.py');

function params() {
  return {
    connections: envNumber('CONNECTIONS', 16, { min: 1, integer: true }),
    beforeS: envNumber('BEFORE', 2, { min: 0 }),
    afterS: envNumber('AFTER', 2, { min: 0 }),
    workers: envNumber('WORKERS', 2, { min: 1, integer: true }),
    port: envNumber('PORT', 18300, { min: 1024, integer: true }),
  };
}

/** Closed loops of new-connection GETs until stop(); outcomes are tallied by kind. */
function startLoad(url, connections) {
  const counts = { ok: 0, refused: 0, failed: 0 };
  const errors = {};
  let slowestMs = 0;
  let isStopped = false;
  const loop = async () => {
    while (!isStopped) {
      const answer = await httpGet(url, { timeoutMs: 15_000 });
      slowestMs = Math.max(slowestMs, answer.ms);
      if (answer.status === 200) counts.ok += 1;
      else if (answer.error === 'ECONNREFUSED') {
        counts.refused += 1;
        // A refused connect returns at once: pace the loop so the count measures time, not CPU.
        await sleep(10);
      } else {
        counts.failed += 1;
        const key = answer.error ?? `status ${answer.status}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  const loops = Array.from({ length: connections }, loop);
  return {
    async stop() {
      isStopped = true;
      await Promise.all(loops);
      return { ...counts, errors, slowestMs: Math.round(slowestMs) };
    },
  };
}

function wardenArgs(p, extra) {
  return [WARDEN, 'serve', APP, '--workers', String(p.workers), '--admin-port', String(p.port + 1), '--graceful-timeout', '10', ...extra];
}

async function readyPid(adminUrl, notPid) {
  const answer = await pollUntil(`${adminUrl}/workers`, (result) => {
    if (result.status !== 200) return false;
    const body = JSON.parse(result.body);
    return body.primary.pid !== notPid && body.workers.filter((worker) => worker.inRotation).length >= 1 && body.primary.phase === 'running';
  }, { timeoutMs: 30_000, intervalMs: 50, what: 'a new warden in rotation' });
  return JSON.parse(answer.body).primary.pid;
}

async function scenario(name, p) {
  const url = `http://127.0.0.1:${p.port}/`;
  const adminUrl = `http://127.0.0.1:${p.port + 1}`;
  let process1;
  let holder;
  if (name === 'plain') {
    process1 = startProcess(process.execPath, wardenArgs(p, ['--port', String(p.port)]), { label: 'warden (plain)' });
  } else {
    holder = startProcess('python3', [HOLDER, String(p.port), '511', '--', process.execPath, ...wardenArgs(p, ['--fd', '3'])], { label: 'socket holder' });
  }
  try {
    const firstPid = await readyPid(adminUrl, undefined);
    const load = startLoad(url, p.connections);
    await sleep(p.beforeS * 1000);
    const restartAt = performance.now();
    let process2;
    if (name === 'plain') {
      sendSignal(process1.pid, 'SIGTERM');
      await process1.exited;
      process2 = startProcess(process.execPath, wardenArgs(p, ['--port', String(p.port)]), { label: 'warden (plain, restarted)' });
    } else {
      sendSignal(holder.pid, 'SIGHUP');
      await holder.waitForLine(/^holder: \d+ exited with/, 30_000);
    }
    const stopMs = performance.now() - restartAt;
    await readyPid(adminUrl, firstPid);
    const restartMs = performance.now() - restartAt;
    await sleep(p.afterS * 1000);
    const result = await load.stop();
    await process2?.stop(15_000);
    return { name, stopMs: Math.round(stopMs), restartMs: Math.round(restartMs), ...result };
  } finally {
    await process1?.stop(15_000);
    await holder?.stop(15_000);
  }
}

export async function runRestart(log = (line) => process.stdout.write(`${line}\n`)) {
  const p = params();
  log(`== restart: warden restarted under ${p.connections} new-connection loops, ${p.workers} workers (${machineLine()})`);
  const results = [];
  for (const name of ['plain', 'activated']) {
    const result = await scenario(name, p);
    results.push(result);
    log(`   ${name}: ${result.ok} ok, ${result.refused} refused, ${result.failed} failed${Object.keys(result.errors).length > 0 ? ` (${JSON.stringify(result.errors)})` : ''}; old warden gone after ${result.stopMs} ms, new one in rotation after ${result.restartMs} ms; slowest answer ${result.slowestMs} ms`);
  }
  log(table(['restart', 'ok', 'refused', 'failed', 'stop ms', 'restart ms', 'slowest answer ms'], results.map((r) => [r.name, r.ok, r.refused, r.failed, r.stopMs, r.restartMs, r.slowestMs])));
  return { params: p, results: results.map((r) => ({ ...r, restartS: round(r.restartMs / 1000, 2) })) };
}
