// Request bookkeeping inside a worker: which requests are in flight, which still wait for response
// headers and for how long, when the app last answered, --request-timeout (504 or cut), and the last
// requests the app never answered (for the incident record). It feeds the heartbeat; it never
// decides whether the worker is healthy (the primary does). The connections themselves are kept in
// connections.ts, the status and duration counts in http-counts.ts, the unanswered ones in
// never-answered.ts.

import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Server, Socket } from 'node:net';
import { Connections } from './connections.js';
import { NeverAnsweredLog } from './never-answered.js';
import { HttpCounter } from './http-counts.js';
import { headersAt, pathOf, patchWriteHead, RecentAnswers, type TimedResponse } from './response-timing.js';
import type { HeartbeatStats, InFlightRequest, NeverAnsweredEnd, RequestsReport } from '../protocol/messages.js';

/** A finished request, for the access log. */
export interface FinishedRequest {
  method: string;
  /** As received, query string included; the access log decides what to keep. */
  url: string;
  /** 0 when the response ended before any status was sent (client gone, connection cut). */
  status: number;
  durationMs: number;
}

interface Tracked {
  start: number;
  req: IncomingMessage;
  res: ServerResponse;
  timedOut: boolean;
  /** Set at --request-timeout: warden answered 504, or cut a response the app had begun. */
  endedBy?: NeverAnsweredEnd;
}

/** At most this many of the requests still in flight go into a report, the oldest. */
const IN_FLIGHT_REPORTED = 20;

export class RequestTracker {
  private readonly inFlight = new Set<Tracked>();
  private readonly neverAnswered = new NeverAnsweredLog();
  private readonly connections = new Connections();
  private served = 0;
  private timedOut = 0;
  private consecutiveTimeouts = 0;
  private lastAnsweredAt: number | undefined;
  /** Arrival of the first request since the app's last answer, and how many came since. */
  private firstUnansweredAt: number | undefined;
  private unansweredCount = 0;
  private readonly recent = new RecentAnswers();
  private draining = false;
  private readonly http = new HttpCounter();
  /** Called on each new connection and request: the heartbeat returns to its regular pace at once. */
  onArrival: (() => void) | undefined;

  constructor(
    private readonly requestTimeoutMs: number,
    private readonly onFinished?: (request: FinishedRequest) => void,
  ) {
    patchWriteHead();
  }

  /** Follow a server's requests; listeners go first so the start time is the arrival time. */
  attach(server: HttpServer): void {
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.prependListener('upgrade', (req: IncomingMessage, socket: Socket) => this.connections.onUpgrade(req, socket));
  }

  /** Every connection handed to this worker, HTTP or not. */
  addSocket(socket: Socket, now = performance.now()): void {
    this.connections.add(socket, now);
    this.onArrival?.();
  }

  /**
   * TLS: from the handshake on, the connection is the decrypted socket the app's requests arrive on;
   * it takes the place of the TCP socket it reads from (so a request in flight on it keeps the
   * connection busy during a drain, and an upgrade on it counts).
   */
  adoptSecure(secure: Socket, carrier: Socket | undefined, now = performance.now()): void {
    this.connections.adoptSecure(secure, carrier, now);
  }

  get connectionCount(): number {
    return this.connections.count;
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Open connections, upgraded ones included: a draining worker exits once there are none. */
  get socketCount(): number {
    return this.connections.count;
  }

  /** Stop keeping connections alive: requests in flight finish and their connections then close. */
  startDraining(): void {
    this.draining = true;
    for (const entry of this.inFlight) {
      if (!entry.res.headersSent) entry.res.shouldKeepAlive = false;
    }
    this.closeIdle();
  }

  /** Close the connections that carry no request and have been quiet a while (connections.ts). */
  closeIdle(now = performance.now()): void {
    const busy = new Set<Socket>();
    for (const entry of this.inFlight) if (entry.res.socket) busy.add(entry.res.socket);
    this.connections.closeIdle(busy, now);
  }

  /** Upgraded connections open now (WebSockets and any other protocol taken over from HTTP). */
  get upgradedCount(): number {
    return this.connections.upgradedCount;
  }

  /** At the graceful timeout: end every upgraded connection, a WebSocket with a close frame first. */
  closeUpgraded(): void {
    this.connections.closeUpgraded();
  }

  destroyAll(): void {
    this.connections.destroyAll();
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
        entry.endedBy = 'timeoutCut';
        res.socket?.destroy();
        continue;
      }
      entry.endedBy = 'warden504';
      res.shouldKeepAlive = false;
      res.writeHead(504, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
      res.end(`warden: no response within ${this.requestTimeoutMs / 1000}s (--request-timeout)\n`);
      // The app may still try to answer later; its writes must not throw in its own code.
      res.writeHead = (() => res) as unknown as typeof res.writeHead;
      res.write = (() => false) as typeof res.write;
      res.end = (() => res) as typeof res.end;
    }
  }

  stats(now = performance.now()): Omit<HeartbeatStats, 'loopDelayMs' | 'loopPausedAgoMs' | 'rssBytes' | 'heapUsedBytes'> {
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
      slowestRecentMs: Math.round(this.recent.slowest(now)),
      answeredRecent: this.recent.count(now),
      timedOut: this.timedOut,
      consecutiveTimeouts: this.consecutiveTimeouts,
      connections: this.connections.count,
      upgraded: this.connections.upgradedCount,
      http: this.http.snapshot(),
    };
  }

  /**
   * For an incident record: the oldest requests in flight, then the last ended ones the app never
   * answered (504 by warden, cut, or their connection closed first), each oldest first.
   */
  report(now = performance.now()): RequestsReport {
    const entries = [...this.inFlight].sort((a, b) => a.start - b.start);
    const stats = this.stats(now);
    const inFlight: InFlightRequest[] = entries.slice(0, IN_FLIGHT_REPORTED).map((entry) => ({
      method: entry.req.method ?? '?',
      path: pathOf(entry.req),
      ageMs: Math.round(now - entry.start),
      headersSent: entry.res.headersSent,
    }));
    const ended = this.neverAnswered.list(now);
    return {
      inFlight: entries.length,
      neverAnswered: ended.length,
      requests: [...inFlight, ...ended],
      lastAnsweredAgoMs: stats.lastFinishedAgoMs,
      unansweredCount: stats.unansweredCount,
    };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const entry: Tracked = { start: performance.now(), req, res, timedOut: false };
    this.inFlight.add(entry);
    this.firstUnansweredAt ??= entry.start;
    this.unansweredCount += 1;
    this.onArrival?.();
    if (this.draining) res.shouldKeepAlive = false;
    const socket = req.socket;
    const done = () => {
      if (!this.inFlight.delete(entry)) return;
      this.served += 1;
      // The app's own headers are what counts as an answer; warden's 504 sets the mark too.
      const appEndedBy = entry.endedBy ?? ((res as TimedResponse)[headersAt] === undefined && !res.headersSent ? 'connectionClosed' : undefined);
      if (appEndedBy !== undefined) this.neverAnswered.remember(entry.req, entry.start, appEndedBy);
      const now = this.count(entry);
      // A keep-alive connection is quiet from its last answer on: a drain closes one that has been
      // idle long (a pooled connection) at once, and gives one that was busy a moment ago its time.
      this.connections.answeredOn(socket, now);
      const sentAt = (res as TimedResponse)[headersAt];
      if (!entry.timedOut && sentAt !== undefined) this.answered(entry, sentAt);
    };
    // node:http emits 'close' on every response: after 'finish' (next tick), or when the connection
    // is cut first. One listener per request is cheaper than two.
    res.once('close', done);
  }

  /**
   * A request --max-concurrency answered 503 before the app saw it: in the status counts (5xx, no
   * time spent) and the access log, never in flight nor among the served.
   */
  countRefused(req: IncomingMessage, status: number): void {
    this.http.countRefused(status);
    this.onFinished?.({ method: req.method ?? '?', url: req.url ?? '', status, durationMs: 0 });
  }

  /** Count a finished request; returns the time it finished. */
  private count(entry: Tracked): number {
    const now = performance.now();
    const durationMs = now - entry.start;
    const status = entry.res.headersSent ? entry.res.statusCode : 0;
    this.http.count(status, durationMs);
    this.onFinished?.({ method: entry.req.method ?? '?', url: entry.req.url ?? '', status, durationMs });
    return now;
  }

  private answered(entry: Tracked, sentAt: number): void {
    if (this.lastAnsweredAt === undefined || sentAt > this.lastAnsweredAt) {
      this.lastAnsweredAt = sentAt;
      if (this.inFlight.size === 0) {
        // The common case under load with quick answers: nothing else is waiting.
        this.firstUnansweredAt = undefined;
        this.unansweredCount = 0;
        this.consecutiveTimeouts = 0;
        this.recent.add(sentAt - entry.start, sentAt);
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
    this.recent.add(sentAt - entry.start, sentAt);
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
