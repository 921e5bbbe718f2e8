// The loads every throughput experiment can apply, each returning the same record:
// { reqPerSec, p50Ms, p99Ms, p999Ms, errors, non2xx, fast?, perPid? }.
//   autocannon    autocannon, keep-alive (its default), in this process
//   newconn       bench/lib/newconn-client.js in its own process: one real TCP connection per request
//   wrk           wrk -t1, keep-alive (only when wrk is installed)
//   wrk-newconn   wrk -t1 with `Connection: close`: wrk reconnects after each response
// Latencies are in milliseconds.

import autocannon from 'autocannon';
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { addCleanupStep } from './processes.js';

const NEWCONN_CLIENT = fileURLToPath(new URL('./newconn-client.js', import.meta.url));

export const LOADS = {
  autocannon: { label: 'keep-alive (autocannon)', newConnections: false },
  newconn: { label: 'new connection per request (node client)', newConnections: true },
  wrk: { label: 'keep-alive (wrk)', newConnections: false },
  'wrk-newconn': { label: 'new connection per request (wrk)', newConnections: true },
};

let wrkPath;
/** The wrk binary, or undefined when it is not installed. */
export function wrkBin() {
  if (wrkPath !== undefined) return wrkPath || undefined;
  try {
    wrkPath = execFileSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' }).trim();
  } catch {
    wrkPath = '';
  }
  return wrkPath || undefined;
}

export async function runLoad(load, url, { durationS, connections }) {
  switch (load) {
    case 'autocannon':
      return runAutocannon(url, { durationS, connections });
    case 'newconn':
      return runNewconnClient(url, { durationS, connections });
    case 'wrk':
      return runWrk(url, { durationS, connections, close: false });
    case 'wrk-newconn':
      return runWrk(url, { durationS, connections, close: true });
    default:
      throw new Error(`unknown load "${load}" (expected one of ${Object.keys(LOADS).join(', ')})`);
  }
}

async function runAutocannon(url, { durationS, connections }) {
  const result = await autocannon({ url, connections, duration: durationS, timeout: 5 });
  return {
    reqPerSec: result.requests.total / result.duration,
    p50Ms: result.latency.p50, p99Ms: result.latency.p99, p999Ms: result.latency.p99_9,
    errors: result.errors + result.timeouts, non2xx: result.non2xx,
  };
}

/** Output of a child process, killed if it outlives `timeoutMs` (and when the bench is interrupted). */
function runChild(command, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const removeCleanup = addCleanupStep(() => child.kill('SIGKILL'));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      removeCleanup();
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      removeCleanup();
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} ended with ${signal ?? code}: ${stderr.trim().slice(-500)}`));
    });
  });
}

async function runNewconnClient(url, { durationS, connections }) {
  const out = await runChild(process.execPath, [NEWCONN_CLIENT, url, String(connections), String(durationS), '5000'], (durationS + 15) * 1000);
  const result = JSON.parse(out.trim().split('\n').at(-1));
  return {
    reqPerSec: result.reqPerSec, p50Ms: result.latency.p50, p99Ms: result.latency.p99, p999Ms: result.latency.p999,
    errors: result.errors + result.timeouts, non2xx: result.non2xx, fast: result.fast, slow: result.slow, perPid: result.perPid,
  };
}

/** "1.23ms" / "850.00us" / "1.20s" -> ms */
function wrkMs(text) {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text);
  if (match === null) return undefined;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 'ms' ? value : match[2] === 's' ? value * 1000 : value * 60_000;
}

export function parseWrk(out) {
  const reqPerSec = Number(/^Requests\/sec:\s+([\d.]+)/m.exec(out)?.[1]);
  const percentile = (p) => {
    const match = new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out);
    return match === null ? undefined : wrkMs(match[1]);
  };
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  // With `Connection: close` wrk counts the server's close after each response as a read error;
  // connect errors, write errors and timeouts are real failures.
  const errors = socket === null ? 0 : Number(socket[1]) + Number(socket[3]) + Number(socket[4]);
  if (!Number.isFinite(reqPerSec)) throw new Error(`could not read wrk's output:\n${out}`);
  return { reqPerSec, p50Ms: percentile(50), p99Ms: percentile(99), p999Ms: undefined, errors, non2xx };
}

async function runWrk(url, { durationS, connections, close }) {
  const bin = wrkBin();
  if (bin === undefined) throw new Error('wrk is not installed');
  const args = ['-t1', `-c${connections}`, `-d${durationS}s`, '--latency', '--timeout', '5s', ...(close ? ['-H', 'Connection: close'] : []), url];
  return parseWrk(await runChild(bin, args, (durationS + 15) * 1000));
}
