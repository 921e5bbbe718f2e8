// --max-concurrency inside a worker (uvicorn's --limit-concurrency): once this many requests are in
// flight, a new one gets 503 with Retry-After at once, before the app sees it, instead of waiting
// behind the others. Upgrades (WebSockets) arrive as 'upgrade', not 'request': they are not counted
// and never refused here.

import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';

/** Seconds a refused client is told to wait (Retry-After). */
export const RETRY_AFTER_S = 1;

/** Is a new request over the limit? Pure; 0 turns the limit off. */
export function isOverLimit(inFlight: number, maxConcurrency: number): boolean {
  return maxConcurrency > 0 && inFlight >= maxConcurrency;
}

/**
 * Intercept 'request' before every listener (the app's and warden's own bookkeeping), so a refused
 * request is never counted in flight nor seen by the app. The connection is closed after the answer:
 * the client's next connection may reach a worker with room (--balance shared lets the kernel pick).
 */
export function limitConcurrency(server: HttpServer, maxConcurrency: number, inFlight: () => number, onRefused: (req: IncomingMessage, status: number) => void = () => undefined): void {
  if (maxConcurrency <= 0) return;
  const emit = server.emit;
  server.emit = function emitWithLimit(this: HttpServer, event: string | symbol, ...args: unknown[]): boolean {
    if (event === 'request' && isOverLimit(inFlight(), maxConcurrency)) {
      const [req, res] = args as [IncomingMessage, ServerResponse];
      refuse(req, res);
      onRefused(req, 503);
      return true;
    }
    return (emit as (event: string | symbol, ...rest: unknown[]) => boolean).call(this, event, ...args);
  } as typeof server.emit;
}

function refuse(req: IncomingMessage, res: ServerResponse): void {
  const body = `{"error":"too many requests in flight on this worker (--max-concurrency)","retryAfterSeconds":${RETRY_AFTER_S}}\n`;
  res.shouldKeepAlive = false;
  res.writeHead(503, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'retry-after': String(RETRY_AFTER_S), connection: 'close' });
  res.end(req.method === 'HEAD' ? undefined : body);
  // The request body (if any) is not read; a client still sending it is cut when the socket closes.
  req.resume();
}
