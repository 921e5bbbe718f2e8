// The primary's own HTTP server (never a worker's): /livez, /readyz, /workers, /metrics and the
// dashboard, answered from the supervisor's in-memory state, so they stay fast while any worker is frozen. It is read-only and
// faces whoever can reach its port: every request is bounded (header size and time, no bodies, idle
// connections closed), unknown paths get 404, and no answer ever carries a stack trace.

import { isIP } from 'node:net';
import type { IncomingMessage, Server } from 'node:http';
import { http } from '../../net/node-http.js';
import type { AddressInfo } from 'node:net';
import type { HealthAnswer } from './report.js';
import { listenOn, listenOnFd } from '../net/bind.js';
import { WardenError } from '../../errors.js';

/** A route that is not JSON: /metrics (Prometheus text) and / (the dashboard page). */
export interface TextAnswer {
  status: number;
  contentType: string;
  text: string;
}

export type AdminRoutes = Record<string, () => HealthAnswer | TextAnswer | Promise<TextAnswer>>;

function isText(answer: HealthAnswer | TextAnswer): answer is TextAnswer {
  return typeof (answer as TextAnswer).text === 'string';
}

/** The bounds on what a client may send; a probe's request is a few hundred bytes, sent at once. */
export const ADMIN_LIMITS = {
  maxHeaderBytes: 8 * 1024,
  /** A client must finish its request headers within this (slow-loris clients are cut off). */
  headersTimeoutMs: 5000,
  requestTimeoutMs: 10_000,
  /** How often node:http checks the two deadlines above (its default is 30 s). */
  checkIntervalMs: 500,
  keepAliveTimeoutMs: 1000,
  /** A connection with no traffic at all (it connected and said nothing) is closed after this. */
  idleTimeoutMs: 10_000,
  maxPathChars: 200,
} as const;

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' };

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export class AdminServer {
  private readonly server: Server;

  /** `onError` hears about a route that threw or rejected; the client gets a bare 500. */
  constructor(routes: AdminRoutes, onError: (path: string, error: unknown) => void = () => undefined) {
    this.server = http.createServer({
      maxHeaderSize: ADMIN_LIMITS.maxHeaderBytes,
      headersTimeout: ADMIN_LIMITS.headersTimeoutMs,
      requestTimeout: ADMIN_LIMITS.requestTimeoutMs,
      connectionsCheckingInterval: ADMIN_LIMITS.checkIntervalMs,
      keepAliveTimeout: ADMIN_LIMITS.keepAliveTimeoutMs,
    }, (req, res) => {
      const reply = (status: number, body: unknown, extra: Record<string, string> = {}) => {
        res.writeHead(status, { ...JSON_HEADERS, ...extra });
        res.end(req.method === 'HEAD' ? undefined : `${JSON.stringify(body, null, 2)}\n`);
      };
      const answerWith = (answer: HealthAnswer | TextAnswer) => {
        if (!isText(answer)) {
          reply(answer.status, answer.body);
          return;
        }
        res.writeHead(answer.status, { ...JSON_HEADERS, 'content-type': answer.contentType });
        res.end(req.method === 'HEAD' ? undefined : answer.text);
      };
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        reply(405, { error: 'method not allowed' }, { allow: 'GET, HEAD', connection: 'close' });
        return;
      }
      // Read-only: a body is never read, and the connection is not reused after one.
      if (hasBody(req)) {
        reply(413, { error: 'request bodies are not accepted' }, { connection: 'close' });
        return;
      }
      const path = (req.url ?? '/').split('?')[0] as string;
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (route === undefined) {
        reply(404, { error: `no route ${path.slice(0, ADMIN_LIMITS.maxPathChars)}`, routes: Object.keys(routes) });
        return;
      }
      const failed = (error: unknown) => {
        // The error stays in the primary's log; the client only learns that the route failed.
        onError(path, error);
        reply(500, { error: 'internal error' });
      };
      let answer: ReturnType<typeof route>;
      try {
        answer = route();
      } catch (error) {
        failed(error);
        return;
      }
      if (answer instanceof Promise) answer.then(answerWith, failed);
      else answerWith(answer);
    });
    // Node answers malformed requests (400), oversized headers (431) and late headers (408) itself,
    // without a stack; the socket timeout closes connections that send nothing at all.
    this.server.setTimeout(ADMIN_LIMITS.idleTimeoutMs, (socket) => socket.destroy());
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port, 'admin server');
  }

  /** An inherited admin socket (systemd, LISTEN_FDNAMES admin). */
  async listenFd(fd: number): Promise<AddressInfo> {
    const address = await listenOnFd(this.server, fd, 'admin server');
    if ('path' in address) throw new WardenError('WARDEN_LISTEN', `the admin socket passed as descriptor ${fd} is a unix socket (${address.path}); the admin server needs TCP`, { hint: 'give the admin .socket unit a ListenStream=HOST:PORT' });
    return address;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  return mapped !== null && (mapped[1] as string).startsWith('127.');
}
