// The cells of the verdict matrix (`npm run bench -- verdicts`) and the traffic each one sends.
// A healthy cell must never see a worker recycled; a caught cell poisons one worker (bench/apps/
// verdict-cells.js, /poison) and must see it leave rotation and be replaced. The traffic goes to
// /work through the closed-loop clients of closed-loop.js, on keep-alive or new connections.

import { setMaxListeners } from 'node:events';
import { Agent, createServer } from 'node:http';
import { startClosedLoop } from './closed-loop.js';
import { httpGet } from './http.js';
import { sleep } from './processes.js';

/**
 * kind: healthy (0 recycles is the target) or caught (the poisoned worker leaves rotation);
 * shape: VERDICT_SHAPE of the app; conns: the connection kinds the cell runs with; clients, rate
 * (requests a second per client, unpaced when absent), timeoutMs: the clients' own patience.
 */
export const CELLS = {
  'long-poll': { kind: 'healthy', label: 'long polls only (12 clients, 30 s each)', shape: 'long-poll', conns: ['newconn', 'keepalive'], clients: 12, timeoutMs: 40_000 },
  sse: { kind: 'healthy', label: 'SSE only (12 streams, 30 s each)', shape: 'sse', conns: ['newconn', 'keepalive'], clients: 12, timeoutMs: 40_000 },
  'slow-every': { kind: 'healthy', label: 'every request 2-5 s', shape: 'slow-every', conns: ['newconn', 'keepalive'], clients: 8, timeoutMs: 15_000 },
  'rare-slow': { kind: 'healthy', label: '1 in 50 requests 8 s', shape: 'rare-slow', conns: ['newconn', 'keepalive'], clients: 8, rate: 10, timeoutMs: 15_000 },
  'slow-boot': { kind: 'healthy', label: 'slow (3 s) for 10 s after boot', shape: 'slow-boot', conns: ['newconn', 'keepalive'], clients: 8, rate: 5, timeoutMs: 15_000 },
  cpu: { kind: 'healthy', label: '100 ms of CPU per request', shape: 'cpu', conns: ['newconn', 'keepalive'], clients: 4, timeoutMs: 15_000 },
  dependency: { kind: 'healthy', label: 'a dependency slow (15 s) for every worker at once', shape: 'dependency', conns: ['newconn', 'keepalive'], clients: 8, rate: 5, timeoutMs: 30_000 },
  pinned: { kind: 'healthy', label: 'all traffic pinned to one worker (6 keep-alive clients, 2-5 s each)', shape: 'slow-every', conns: ['keepalive'], clients: 6, timeoutMs: 15_000, pinned: true },
  'poisoned-steady': { kind: 'caught', label: 'poisoned under steady load', shape: 'fast', conns: ['newconn', 'keepalive'], clients: 4, rate: 10, timeoutMs: 5000, poisonAtS: 2 },
  'poisoned-pinned': { kind: 'caught', label: 'keep-alive clients pinned to the poisoned worker, new connections arriving', shape: 'fast', conns: ['keepalive'], clients: 4, rate: 5, timeoutMs: 5000, poisonAtS: 0.5, pinnedToVictim: true },
  'burst-silence': { kind: 'caught', sparse: true, label: 'a burst of 8, then silence', shape: 'fast', conns: ['newconn', 'keepalive'], clients: 8, timeoutMs: 8000, poisonAtS: 0.5 },
  'one-per-second': { kind: 'caught', sparse: true, label: 'one request a second (each on time, whether the last was answered or not)', shape: 'fast', conns: ['newconn', 'keepalive'], clients: 1, rate: 1, timeoutMs: 5000, poisonAtS: 0.5, openLoop: true },
};

export const QUICK_CELLS = ['long-poll', 'dependency', 'poisoned-steady', 'burst-silence'];

/**
 * Keep-alive agents each holding one connection to the worker `pid` (the first to answer when
 * undefined), opened until `count` are held or `maxTries` connections were tried; the others are
 * closed. With --balance shared the kernel picks the worker of each new connection.
 */
export async function pinAgents(url, count, { pid, maxTries = 300 } = {}) {
  const pinned = [];
  let target = pid;
  for (let tries = 0; tries < maxTries && pinned.length < count; tries++) {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answer = await httpGet(new URL('/pid', url), { agent, timeoutMs: 2000 });
    const answered = answer.status === 200 ? Number(answer.body) : undefined;
    target ??= answered;
    if (answered !== undefined && answered === target) pinned.push(agent);
    else agent.destroy();
  }
  return { agents: pinned, pid: target };
}

/**
 * The dependency of the `dependency` cell, served by the bench: answers in 5 ms, and in `slowMs`
 * for every worker at once while slowed. Resolves with { url, slow(), fast(), close() }.
 */
export async function startDependency({ slowMs = 15_000 } = {}) {
  let delayMs = 5;
  const pending = new Set();
  const server = createServer((req, res) => {
    const timer = setTimeout(() => {
      pending.delete(timer);
      res.end('ok\n');
    }, delayMs);
    pending.add(timer);
    req.on('close', () => clearTimeout(timer));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}/`,
    slow: () => (delayMs = slowMs),
    fast: () => (delayMs = 5),
    close: () => new Promise((resolve) => {
      for (const timer of pending) clearTimeout(timer);
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

/** Poison one worker through a keep-alive connection of its own; resolves with its pid and when. */
export async function poisonOne(url) {
  const { agents, pid } = await pinAgents(url, 1);
  if (agents.length === 0) throw new Error('verdicts: no worker answered /pid, so none could be poisoned');
  const at = performance.now();
  const answer = await httpGet(new URL('/poison', url), { agent: agents[0], timeoutMs: 5000 });
  agents[0].destroy();
  if (answer.status !== 200 || answer.pid !== pid) throw new Error(`verdicts: /poison reached pid ${answer.pid ?? answer.error}, not ${pid}`);
  return { pid, at };
}

/**
 * Start the traffic of `cell` on `url` with connections of kind `conn`; caught cells poison one
 * worker on the way. Resolves with { records, victim, pinnedPid, pinnedCount, stop() } once the
 * traffic runs; `stop()` cuts what is in flight.
 */
export async function startTraffic(cell, conn, url) {
  const records = [];
  const loads = [];
  const base = { timeoutMs: cell.timeoutMs, ratePerClient: cell.rate, path: '/work', onRecord: (entry) => records.push(entry) };
  let victim;
  let pinnedPid;
  let pinnedCount;
  const extraAgents = [];
  if (cell.pinned) {
    const { agents, pid } = await pinAgents(url, cell.clients);
    extraAgents.push(...agents);
    pinnedPid = pid;
    pinnedCount = agents.length;
    loads.push(startClosedLoop(url, { ...base, modes: ['keepalive'], agents }));
  } else if (cell.pinnedToVictim) {
    const { agents, pid } = await pinAgents(url, cell.clients + 1);
    extraAgents.push(...agents);
    pinnedPid = pid;
    pinnedCount = agents.length - 1;
    await sleep(cell.poisonAtS * 1000);
    const at = performance.now();
    const answer = await httpGet(new URL('/poison', url), { agent: agents[0], timeoutMs: 5000 });
    if (answer.pid !== pid) throw new Error(`verdicts: /poison reached pid ${answer.pid ?? answer.error}, not ${pid}`);
    victim = { pid, at };
    // The pinned keep-alive clients keep asking the poisoned worker; new connections keep arriving.
    loads.push(startClosedLoop(url, { ...base, modes: ['keepalive'], agents: agents.slice(1) }));
    loads.push(startClosedLoop(url, { ...base, modes: ['newconn'], connections: 2 }));
  } else if (cell.openLoop) {
    await sleep(cell.poisonAtS * 1000);
    victim = await poisonOne(url);
    loads.push(startOpenLoop(url, { ...base, conn }));
  } else if (cell.kind === 'caught' && cell.sparse) {
    // A burst: every client sends one request at once, then nothing.
    await sleep(cell.poisonAtS * 1000);
    victim = await poisonOne(url);
    loads.push(startClosedLoop(url, { ...base, modes: [conn], connections: cell.clients, maxRequests: cell.clients }));
  } else {
    if (cell.kind === 'caught' && cell.poisonAtS <= 1) {
      await sleep(cell.poisonAtS * 1000);
      victim = await poisonOne(url);
    }
    loads.push(startClosedLoop(url, { ...base, modes: [conn], connections: cell.clients }));
    if (cell.kind === 'caught' && victim === undefined) {
      await sleep(cell.poisonAtS * 1000);
      victim = await poisonOne(url);
    }
  }
  return {
    records, victim, pinnedPid, pinnedCount,
    async stop() {
      await Promise.all(loads.map((load) => load.stop({ abort: true })));
      for (const agent of extraAgents) agent.destroy();
    },
  };
}

/**
 * `ratePerClient` requests a second on time, each on its own (a new connection, or a keep-alive
 * agent of its own), whether the last one was answered or not: sparse traffic that does not stop
 * when a request hangs, as a closed loop would.
 */
function startOpenLoop(url, { ratePerClient, timeoutMs, path, conn, onRecord }) {
  const aborter = new AbortController();
  setMaxListeners(0, aborter.signal); // one listener per request in flight: many long polls at once
  const pending = new Set();
  const agents = [];
  const send = () => {
    const agent = conn === 'keepalive' ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    const request = httpGet(new URL(path, url), { timeoutMs, agent, headers: conn === 'newconn' ? { connection: 'close' } : {}, signal: aborter.signal }).then((result) => {
      pending.delete(request);
      onRecord({ mode: conn, start: result.startedAt, end: result.startedAt + result.ms, failure: result.error ?? (result.status === 200 ? undefined : `http ${result.status}`), pid: result.pid });
    });
    pending.add(request);
  };
  send();
  const timer = setInterval(send, 1000 / ratePerClient);
  return {
    async stop({ abort = false } = {}) {
      clearInterval(timer);
      if (abort) aborter.abort();
      await Promise.all(pending);
      for (const agent of agents) agent.destroy();
    },
  };
}
