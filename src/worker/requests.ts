// Request bookkeeping inside a worker: which requests are in flight, which still wait for response
// headers and for how long, when the app last answered, and --request-timeout (504 or cut). It feeds
// the heartbeat; it never decides whether the worker is healthy (the primary does).

import { ServerResponse, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Server, Socket } from 'node:net';
import type { HeartbeatStats, RequestsReport } from '../protocol/messages.js';

const headersAt = Symbol('warden.headersAt');

interface Tracked {
  start: number;
  req: IncomingMessage;
  res: ServerResponse;
  timedOut: boolean;
}

type TimedResponse = ServerResponse & { [headersAt]?: number };

let writeHeadPatched = false;

/**
 * Remember when each response sent its headers. Every framework ends in ServerResponse#writeHead
 * (write/end/flushHeaders call it implicitly), so one patch of the prototype covers all app shapes.
 */
function patchWriteHead(): void {
  if (writeHeadPatched) return;
  writeHeadPatched = true;
  const original = ServerResponse.prototype.writeHead;
  ServerResponse.prototype.writeHead = function writeHead(this: TimedResponse, ...args: unknown[]) {
    this[headersAt] ??= performance.now();
    return (original as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof original;
}

/** Two one-minute buckets: the slowest time-to-headers seen in the last one to two minutes. */
class RecentMax {
  private current = 0;
  private previous = 0;
  private bucketStart = performance.now();

  add(value: number, now: number): void {
    this.rotate(now);
    if (value > this.current) this.current = value;
  }

  get(now: number): number {
    this.rotate(now);
    return Math.max(this.current, this.previous);
  }

  private rotate(now: number): void {
    if (now - this.bucketStart < 60_000) return;
    this.previous = now - this.bucketStart < 120_000 ? this.current : 0;
    this.current = 0;
    this.bucketStart = now;
  }
}

export class RequestTracker {
  private readonly inFlight = new Set<Tracked>();
  private readonly sockets = new Set<Socket>();
  private served = 0;
  private timedOut = 0;
  private consecutiveTimeouts = 0;
  private lastAnsweredAt: number | undefined;
  /** Arrival of the first request since the app's last answer, and how many came since. */
  private firstUnansweredAt: number | undefined;
  private unansweredCount = 0;
  private readonly slowest = new RecentMax();
  private draining = false;

  constructor(private readonly requestTimeoutMs: number) {
    patchWriteHead();
  }

  /** Follow a server's requests; listeners go first so the start time is the arrival time. */
  attach(server: HttpServer): void {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
  }

  /** Every connection handed to this worker, HTTP or not. */
  addSocket(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /** Stop keeping connections alive: requests in flight finish and their connections then close. */
  startDraining(server: Server | undefined): void {
    this.draining = true;
    for (const entry of this.inFlight) {
      if (!entry.res.headersSent) entry.res.shouldKeepAlive = false;
    }
    this.closeIdle(server);
  }

  /**
   * Close connections with no request on them. node:http knows when a keep-alive connection is
   * between requests (its parser is idle), so HTTP servers use its own closeIdleConnections; for
   * any other server a connection without a request in flight counts as idle.
   */
  closeIdle(server: Server | undefined): void {
    if (server !== undefined && isHttpServer(server)) {
      server.closeIdleConnections();
      return;
    }
    const busy = new Set<Socket>();
    for (const entry of this.inFlight) if (entry.res.socket) busy.add(entry.res.socket);
    for (const socket of this.sockets) if (!busy.has(socket)) socket.destroy();
  }

  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  /** Answer 504 to requests past --request-timeout (or cut them if headers already went out). */
  enforceTimeout(now = performance.now()): void {
    if (this.requestTimeoutMs <= 0) return;
    for (const entry of this.inFlight) {
      if (entry.timedOut || now - entry.start < this.requestTimeoutMs) continue;
      entry.timedOut = true;
      this.timedOut += 1;
      this.consecutiveTimeouts += 1;
      const res = entry.res as TimedResponse;
      if (res.headersSent) {
        res.socket?.destroy();
        continue;
      }
      res.shouldKeepAlive = false;
      res.writeHead(504, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`warden: no response within ${this.requestTimeoutMs / 1000}s (--request-timeout)\n`);
      // The app may still try to answer later; its writes must not throw in its own code.
      res.writeHead = (() => res) as unknown as typeof res.writeHead;
      res.write = (() => false) as typeof res.write;
      res.end = (() => res) as typeof res.end;
    }
  }

  stats(now = performance.now()): Omit<HeartbeatStats, 'loopDelayMs' | 'rssBytes' | 'heapUsedBytes'> {
    let waiting = 0;
    let oldestWaitingMs = 0;
    for (const entry of this.inFlight) {
      const res = entry.res as TimedResponse;
      if (res[headersAt] !== undefined || res.headersSent || entry.timedOut) continue;
      waiting += 1;
      oldestWaitingMs = Math.max(oldestWaitingMs, now - entry.start);
    }
    return {
      inFlight: this.inFlight.size,
      waiting,
      oldestWaitingMs: Math.round(oldestWaitingMs),
      served: this.served,
      lastFinishedAgoMs: this.lastAnsweredAt === undefined ? -1 : Math.round(now - this.lastAnsweredAt),
      unansweredCount: this.unansweredCount,
      unansweredForMs: this.firstUnansweredAt === undefined ? 0 : Math.round(now - this.firstUnansweredAt),
      slowestRecentMs: Math.round(this.slowest.get(now)),
      timedOut: this.timedOut,
      consecutiveTimeouts: this.consecutiveTimeouts,
      connections: this.sockets.size,
    };
  }

  /** The oldest requests in flight, for an incident record. */
  report(now = performance.now()): RequestsReport {
    const entries = [...this.inFlight].sort((a, b) => a.start - b.start);
    const stats = this.stats(now);
    return {
      inFlight: entries.length,
      requests: entries.slice(0, 20).map((entry) => ({
        method: entry.req.method ?? '?',
        path: (entry.req.url ?? '').split('?')[0] as string,
        ageMs: Math.round(now - entry.start),
        headersSent: entry.res.headersSent,
      })),
      lastAnsweredAgoMs: stats.lastFinishedAgoMs,
      unansweredCount: stats.unansweredCount,
    };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const entry: Tracked = { start: performance.now(), req, res, timedOut: false };
    this.inFlight.add(entry);
    this.firstUnansweredAt ??= entry.start;
    this.unansweredCount += 1;
    if (this.draining) res.shouldKeepAlive = false;
    const done = () => {
      if (!this.inFlight.delete(entry)) return;
      this.served += 1;
      const sentAt = (res as TimedResponse)[headersAt];
      if (!entry.timedOut && sentAt !== undefined) this.answered(entry, sentAt);
    };
    // node:http emits 'close' on every response: after 'finish' (next tick), or when the connection
    // is cut first. One listener per request is cheaper than two.
    res.once('close', done);
  }

  private answered(entry: Tracked, sentAt: number): void {
    if (this.lastAnsweredAt === undefined || sentAt > this.lastAnsweredAt) {
      this.lastAnsweredAt = sentAt;
      if (this.inFlight.size === 0) {
        // The common case under load with quick answers: nothing else is waiting.
        this.firstUnansweredAt = undefined;
        this.unansweredCount = 0;
        this.consecutiveTimeouts = 0;
        this.slowest.add(sentAt - entry.start, sentAt);
        return;
      }
      // Requests that arrived before this answer no longer count as a streak without answers.
      let first: number | undefined;
      let count = 0;
      for (const other of this.inFlight) {
        if (other.start > sentAt && (other.res as TimedResponse)[headersAt] === undefined) {
          first = first === undefined ? other.start : Math.min(first, other.start);
          count += 1;
        }
      }
      this.firstUnansweredAt = first;
      this.unansweredCount = count;
    }
    this.consecutiveTimeouts = 0;
    this.slowest.add(sentAt - entry.start, sentAt);
  }

  /**
   * Called on every heartbeat: progress is the app sending headers, not the end of the response, so
   * an SSE stream that is still open counts from its first byte.
   */
  noteProgress(): void {
    for (const entry of this.inFlight) {
      const sentAt = (entry.res as TimedResponse)[headersAt];
      if (sentAt !== undefined && !entry.timedOut && (this.lastAnsweredAt === undefined || sentAt > this.lastAnsweredAt)) {
        this.answered(entry, sentAt);
      }
    }
  }
}

export function isHttpServer(server: Server): server is HttpServer {
  return typeof (server as Partial<HttpServer>).closeIdleConnections === 'function';
}
