// The app of `npm run bench -- verdicts`: one traffic shape per cell of the verdict matrix, chosen
// by VERDICT_SHAPE, on /work; every other route answers at once (the contenders' start-up checks).
// Counts each request on arrival (stats.js), so the bench sees which worker traffic reached, a
// poisoned one included. Nothing here is unhealthy except after /poison.
//   fast        answers at once                      long-poll   held VERDICT_HOLD_MS (30 s), then answered
//   sse         an event a second for VERDICT_HOLD_MS slow-every  2 to 5 s each (uniform)
//   rare-slow   1 request in 50 takes 8 s            slow-boot   3 s each for the first 10 s after the process started
//   cpu         100 ms of CPU each (measured, not timed: a busy neighbour makes it take longer)
//   dependency  waits for VERDICT_DEPENDENCY_URL, which the bench slows for every worker at once
// /pid answers the pid; /poison: from then on everything but /health and /pid hangs.

import { get } from 'node:http';
import { count } from './stats.js';

const SHAPES = ['fast', 'long-poll', 'sse', 'slow-every', 'rare-slow', 'slow-boot', 'cpu', 'dependency'];
const shape = process.env.VERDICT_SHAPE ?? 'fast';
if (!SHAPES.includes(shape)) throw new Error(`VERDICT_SHAPE must be one of ${SHAPES.join(', ')} (got "${shape}")`);
const holdMs = Number(process.env.VERDICT_HOLD_MS ?? 30_000);
const dependencyUrl = process.env.VERDICT_DEPENDENCY_URL;
if (shape === 'dependency' && !dependencyUrl) throw new Error('VERDICT_SHAPE=dependency needs VERDICT_DEPENDENCY_URL');
const bootedAt = performance.now();
let isPoisoned = false;

function burnCpu(ms) {
  const start = process.cpuUsage();
  for (;;) {
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return;
  }
}

function answerLater(req, res, ms) {
  const timer = setTimeout(() => res.end(`held ${Math.round(ms)} ms\n`), ms);
  req.on('close', () => clearTimeout(timer));
}

function work(req, res) {
  switch (shape) {
    case 'fast':
      return res.end('ok\n');
    case 'long-poll':
      return answerLater(req, res, holdMs);
    case 'sse': {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'x-pid': String(process.pid) });
      const started = Date.now();
      const timer = setInterval(() => {
        res.write(`data: ${Date.now() - started}\n\n`);
        if (Date.now() - started >= holdMs) {
          clearInterval(timer);
          res.end();
        }
      }, 1000);
      return req.on('close', () => clearInterval(timer));
    }
    case 'slow-every':
      return answerLater(req, res, 2000 + Math.random() * 3000);
    case 'rare-slow':
      return Math.random() < 1 / 50 ? answerLater(req, res, 8000) : res.end('ok\n');
    case 'slow-boot':
      return performance.now() - bootedAt < 10_000 ? answerLater(req, res, 3000) : res.end('ok\n');
    case 'cpu':
      burnCpu(100);
      return res.end('ok\n');
    case 'dependency': {
      const upstream = get(dependencyUrl, { agent: false }, (answer) => {
        answer.resume();
        answer.on('end', () => res.end('ok\n'));
      });
      upstream.on('error', () => {
        res.statusCode = 502;
        res.end('dependency failed\n');
      });
      return req.on('close', () => upstream.destroy());
    }
  }
}

export default function verdictCells(req, res) {
  count(req);
  res.setHeader('x-pid', String(process.pid));
  if (req.url === '/health') return res.end('ok\n');
  if (req.url === '/pid') return res.end(String(process.pid));
  if (req.url === '/poison') {
    isPoisoned = true;
    return res.end(`poisoned ${process.pid}\n`);
  }
  if (isPoisoned) return undefined; // hangs, like an exhausted pool
  if (req.url === '/work') return work(req, res);
  return res.end('ok\n');
}
