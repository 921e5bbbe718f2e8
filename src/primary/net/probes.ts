// Per-worker probes (--probe-path): a real HTTP GET through one chosen worker's own HTTP stack and
// the user's app. The primary connects to a private loopback listener of its own and hands the
// server side of that connection straight to the worker, bypassing rotation.

import { createRequire } from 'node:module';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { http } from '../../net/node-http.js';
import type { ProbeAnswer } from '../machine/verdicts.js';
import { acceptRawHandles, remotePort, type ConnectionHandle } from './raw-accept.js';

export type ProbeResult = { ok: true } | { ok: false; reason: string };

export class Prober {
  private server: Server | undefined;
  private port = 0;
  /**
   * Server-side sockets are matched to probes by the client's local port. Either side may be seen
   * first (accept and connect complete as separate events), so each waits in its own map.
   */
  private readonly waiting = new Map<number, (handle: ConnectionHandle) => void>();
  private readonly arrived = new Map<number, ConnectionHandle>();

  constructor(
    private readonly handTo: (workerId: number, handle: ConnectionHandle) => boolean,
    /** The workers serve HTTPS: probe through TLS too (the certificate is the operator's, not checked here). */
    private readonly tls = false,
  ) {}

  async start(): Promise<void> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    acceptRawHandles(server, (handle) => {
      const port = remotePort(handle) ?? -1;
      const route = this.waiting.get(port);
      if (route !== undefined) route(handle);
      else this.arrived.set(port, handle);
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  /** A --probe-path probe: a 2xx or 3xx within the time-out passes, anything else fails. */
  async probe(workerId: number, path: string, timeoutMs: number): Promise<ProbeResult> {
    const answer = await this.ask(workerId, path, timeoutMs);
    if (!answer.isAnswered) return { ok: false, reason: answer.reason };
    return answer.status >= 200 && answer.status < 400 ? { ok: true } : { ok: false, reason: `answered ${answer.status}` };
  }

  /**
   * GET `path` through one worker: any HTTP status is an answer, taken at the response headers (the
   * body is not awaited, so an SSE stream or a long download does not hold the probe).
   */
  ask(workerId: number, path: string, timeoutMs: number): Promise<ProbeAnswer> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (answer: ProbeAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        resolve(answer);
      };
      const target = {
        host: '127.0.0.1', port: this.port, path, method: 'GET', agent: false as const,
        headers: { 'user-agent': 'warden-probe', 'x-warden-probe': '1', connection: 'close' },
      };
      // node:https only with --ssl-*, through require as node:http (net/node-http.ts says why).
      const req = this.tls ? (createRequire(import.meta.url)('node:https') as typeof import('node:https')).request({ ...target, rejectUnauthorized: false }) : http.request(target);
      const timer = setTimeout(() => finish({ isAnswered: false, isTimedOut: true, reason: `no answer within ${timeoutMs}ms` }), timeoutMs);
      req.on('socket', (socket) => {
        socket.on('connect', () => {
          const localPort = socket.localPort ?? -1;
          const route = (serverSide: ConnectionHandle) => {
            this.waiting.delete(localPort);
            this.arrived.delete(localPort);
            if (!this.handTo(workerId, serverSide)) {
              serverSide.close();
              finish({ isAnswered: false, isTimedOut: false, reason: 'worker is gone' });
            }
          };
          const early = this.arrived.get(localPort);
          if (early !== undefined) route(early);
          else this.waiting.set(localPort, route);
          socket.once('close', () => {
            this.waiting.delete(localPort);
            // The server side was accepted but never routed (the probe ended first): close it here.
            this.arrived.get(localPort)?.close();
            this.arrived.delete(localPort);
          });
        });
      });
      req.on('response', (res) => {
        res.resume();
        finish({ isAnswered: true, status: res.statusCode ?? 0 });
      });
      // The destroy in finish() ends the request with an error of its own: settled already, ignored.
      req.on('error', (error) => finish({ isAnswered: false, isTimedOut: false, reason: error.message }));
      req.end();
    });
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
