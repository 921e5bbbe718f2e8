// The closed-loop load of freeze.js, reload.js and soak.js: `connections` keep-alive clients (one
// agent with one socket each, like one autocannon connection) and as many clients that open a new
// connection per request, each sending its next GET as soon as the last one ended. Every request ends
// in a record { mode, start, end, failure, localPort, pid } (times from performance.now(); failure is
// undefined, an error code, 'timeout' or 'http <status>'), given to `onRecord` or kept in `records`.
// With `ratePerClient`, each client waits so as to send at most that many requests per second (a
// paced load, for runs that share the machine with other work). `modes` keeps only some of the two
// client kinds; `path` is requested instead of the URL's own; `stop({ abort: true })` cuts the
// requests in flight (recorded with failure 'aborted') instead of waiting for them, for long polls;
// `agents` gives the keep-alive clients their agents (connections pinned to one worker beforehand).

import { setMaxListeners } from 'node:events';
import { Agent } from 'node:http';
import { httpGet } from './http.js';

export const MODES = ['keepalive', 'newconn'];

export function startClosedLoop(url, { connections, timeoutMs, maxRequests = Infinity, ratePerClient, onRecord, modes = MODES, path, agents: givenAgents } = {}) {
  const target = path === undefined ? url : new URL(path, url).href;
  const aborter = new AbortController();
  setMaxListeners(0, aborter.signal); // one listener per request in flight: many long polls at once
  const records = [];
  const record = onRecord ?? ((entry) => records.push(entry));
  let sent = 0;
  let isRunning = true;
  const agents = [];
  const loop = async (mode, index) => {
    const agent = mode === 'keepalive' ? givenAgents?.[index] ?? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    const headers = mode === 'newconn' ? { connection: 'close' } : {};
    while (isRunning && sent < maxRequests) {
      sent += 1;
      const result = await httpGet(target, { timeoutMs, agent, headers, signal: aborter.signal });
      const failure = result.error ?? (result.status === 200 ? undefined : `http ${result.status}`);
      record({ mode, start: result.startedAt, end: result.startedAt + result.ms, failure, localPort: result.localPort, pid: result.pid });
      const pause = ratePerClient === undefined ? 0 : result.startedAt + 1000 / ratePerClient - performance.now();
      if (pause > 0 && isRunning) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };
  const loops = modes.flatMap((mode) => Array.from({ length: mode === 'keepalive' && givenAgents !== undefined ? givenAgents.length : connections }, (_, index) => loop(mode, index)));
  return {
    records,
    get sent() {
      return sent;
    },
    /** Stop sending; resolves once every request in flight has ended (`abort`: cut them now). */
    async stop({ abort = false } = {}) {
      isRunning = false;
      if (abort) aborter.abort();
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}
