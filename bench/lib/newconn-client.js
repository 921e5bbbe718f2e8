#!/usr/bin/env node
// A load generator that really opens one TCP connection per request: LOOPS request loops, each doing
// http.get with `agent: false` and `Connection: close`, one after the other, for DURATION seconds.
// (autocannon's `-H Connection=close` loses requests silently.) Runs as its own process so the bench
// process's event loop does not share its thread. Prints one JSON line: requests, errors, latency
// percentiles of every request and of the fast ones (responses without `x-slow`), served per pid.
//
//   node bench/lib/newconn-client.js <url> <loops> <durationS> [timeoutMs]

import { request } from 'node:http';
import { percentile } from './report.js';

const [url, loopsRaw, durationRaw, timeoutRaw] = process.argv.slice(2);
const loops = Number(loopsRaw);
const durationMs = Number(durationRaw) * 1000;
const timeoutMs = Number(timeoutRaw ?? 5000);
if (url === undefined || !Number.isInteger(loops) || loops < 1 || !(durationMs > 0)) {
  process.stderr.write('usage: newconn-client.js <url> <loops >= 1> <durationS > 0> [timeoutMs]\n');
  process.exit(2);
}
const target = new URL(url);
const options = { host: target.hostname, port: Number(target.port), path: target.pathname + target.search, agent: false, headers: { connection: 'close' } };

const all = [];
const fast = [];
let slow = 0;
let errors = 0;
let timeouts = 0;
let non2xx = 0;
const perPid = {};

function once() {
  return new Promise((resolve) => {
    const started = performance.now();
    let done = false;
    const finish = (outcome) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const req = request(options, (res) => {
      res.resume();
      res.on('end', () => {
        const ms = performance.now() - started;
        if (res.statusCode < 200 || res.statusCode >= 300) non2xx += 1;
        all.push(ms);
        if (res.headers['x-slow'] === undefined) fast.push(ms);
        else slow += 1;
        const pid = res.headers['x-pid'];
        if (pid !== undefined) perPid[pid] = (perPid[pid] ?? 0) + 1;
        finish();
      });
      res.on('error', () => {
        errors += 1;
        finish();
      });
    });
    req.on('error', () => {
      errors += 1;
      finish();
    });
    const timer = setTimeout(() => {
      timeouts += 1;
      req.destroy();
      finish();
    }, timeoutMs);
    req.end();
  });
}

function summary(values) {
  const sorted = Float64Array.from(values).sort();
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), p999: percentile(sorted, 99.9), max: percentile(sorted, 100) };
}

const startedAt = performance.now();
const endAt = startedAt + durationMs;
async function loop() {
  while (performance.now() < endAt) await once();
}
await Promise.all(Array.from({ length: loops }, loop));
const elapsedS = (performance.now() - startedAt) / 1000;
process.stdout.write(`${JSON.stringify({
  requests: all.length, reqPerSec: all.length / elapsedS, errors, timeouts, non2xx, slow,
  latency: summary(all), fast: summary(fast), perPid, elapsedS,
})}\n`);
