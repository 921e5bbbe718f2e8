// The closed-loop load of freeze.js, reload.js and soak.js: `connections` keep-alive clients (one
// agent with one socket each, like one autocannon connection) and as many clients that open a new
// connection per request, each sending its next GET as soon as the last one ended. Every request ends
// in a record { mode, start, end, failure, localPort, pid } (times from performance.now(); failure is
// undefined, an error code, 'timeout' or 'http <status>'), given to `onRecord` or kept in `records`.
// With `ratePerClient`, each client waits so as to send at most that many requests per second (a
// paced load, for runs that share the machine with other work).

import { Agent } from 'node:http';
import { httpGet } from './http.js';

export const MODES = ['keepalive', 'newconn'];

export function startClosedLoop(url, { connections, timeoutMs, maxRequests = Infinity, ratePerClient, onRecord } = {}) {
  const records = [];
  const record = onRecord ?? ((entry) => records.push(entry));
  let sent = 0;
  let isRunning = true;
  const agents = [];
  const loop = async (mode) => {
    const agent = mode === 'keepalive' ? new Agent({ keepAlive: true, maxSockets: 1 }) : false;
    if (agent) agents.push(agent);
    const headers = mode === 'newconn' ? { connection: 'close' } : {};
    while (isRunning && sent < maxRequests) {
      sent += 1;
      const result = await httpGet(url, { timeoutMs, agent, headers });
      const failure = result.error ?? (result.status === 200 ? undefined : `http ${result.status}`);
      record({ mode, start: result.startedAt, end: result.startedAt + result.ms, failure, localPort: result.localPort, pid: result.pid });
      const pause = ratePerClient === undefined ? 0 : result.startedAt + 1000 / ratePerClient - performance.now();
      if (pause > 0 && isRunning) await new Promise((resolve) => setTimeout(resolve, pause));
    }
  };
  const loops = MODES.flatMap((mode) => Array.from({ length: connections }, () => loop(mode)));
  return {
    records,
    get sent() {
      return sent;
    },
    /** Stop sending; resolves once every request in flight has ended. */
    async stop() {
      isRunning = false;
      await Promise.all(loops);
      for (const agent of agents) agent.destroy();
    },
  };
}
