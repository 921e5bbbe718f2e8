// The primary's own HTTP server (never a worker's): /livez, /readyz and /workers, answered from the
// supervisor's in-memory state, so they stay fast while any worker is frozen.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HealthAnswer } from '../health/report.js';
import { listenOn } from './connections.js';

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

export class AdminServer {
  private readonly server: Server;

  constructor(routes: AdminRoutes, private readonly onError?: (path: string, error: unknown) => void) {
    this.server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0] as string;
      const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method not allowed"}\n');
        return;
      }
      const reply = (answer: HealthAnswer | TextAnswer) => {
        const text = isText(answer) ? answer.text : `${JSON.stringify(answer.body, null, 2)}\n`;
        res.writeHead(answer.status, { 'content-type': isText(answer) ? answer.contentType : 'application/json', 'cache-control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      };
      const answer = route ? route() : { status: 404, body: { error: `no route ${path}`, routes: Object.keys(routes) } };
      if (!(answer instanceof Promise)) {
        reply(answer);
        return;
      }
      answer.then(reply, (error: unknown) => {
        // The error stays in the primary's log; the client only learns that the route failed.
        reply({ status: 500, body: { error: `${path} failed` } });
        this.onError?.(path, error);
      });
    });
    // The admin server must never keep the primary alive on its own, nor hold a stop back.
    this.server.keepAliveTimeout = 1000;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return listenOn(this.server, host, port, 'admin server');
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
