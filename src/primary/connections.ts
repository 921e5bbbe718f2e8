// The service listener and the hand-off of accepted connections to workers. The primary accepts
// (without reading) and passes each connection's handle over IPC to a worker in rotation, as
// node:cluster's round-robin does, but the primary chooses: a worker out of rotation (booting, late, stalled, stuck,
// draining) gets no new connection. A handle stays open here until the worker acknowledges it, so one
// sent to a worker that dies, freezes or answers too late is handed to another worker instead of
// being lost: each hand-off carries a deadline after which the worker must refuse it, and once that
// deadline has safely passed the primary gives the connection to someone else.

import { createServer, type AddressInfo, type Server } from 'node:net';
import { WardenError, errnoCode } from '../errors.js';
import { monotonicMs } from '../protocol/messages.js';
import { chooseWorker, type Candidate } from './balance.js';
import { acceptRawHandles, type ConnectionHandle } from './raw-accept.js';

export interface HandoffTarget {
  send(connectionId: number, expiresAt: number, handle: ConnectionHandle, onSent: (error: Error | null) => void): void;
}

interface Pending {
  handle: ConnectionHandle;
  workerId: number;
  sentAt: number;
}

export interface ConnectionStats {
  accepted: number;
  handedOff: number;
  rerouted: number;
  reclaimed: number;
  dropped: number;
  held: number;
}

export class ConnectionDispatcher {
  private server: Server | undefined;
  private readonly targets = new Map<number, HandoffTarget>();
  private rotation: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly pendingByWorker = new Map<number, Set<number>>();
  /** Connections accepted while no worker was in rotation, oldest first. */
  private held: { handle: ConnectionHandle; at: number }[] = [];
  private nextConnectionId = 1;
  private cursor = 0;
  /** When each worker last let a hand-off expire: it is passed over for a while after. */
  private readonly lastExpiry = new Map<number, number>();
  readonly stats: ConnectionStats = { accepted: 0, handedOff: 0, rerouted: 0, reclaimed: 0, dropped: 0, held: 0 };

  constructor(
    private readonly options: {
      holdLimit: number;
      holdTimeoutMs: number;
      /** A worker with a hand-off unacknowledged this long gets no new connection. */
      slowAckMs: number;
      /** A worker must refuse a hand-off older than this. */
      acceptWindowMs: number;
      /** The primary takes back a hand-off unacknowledged this long (twice the window: no race). */
      reclaimAfterMs: number;
      now?: () => number;
    },
  ) {}

  private now(): number {
    return (this.options.now ?? monotonicMs)();
  }

  /** Bind host:port; EADDRINUSE and friends become a WardenError naming the address. */
  async listen(host: string, port: number, what: string): Promise<AddressInfo> {
    const server = createServer();
    this.server = server;
    const address = await listenOn(server, host, port, what);
    acceptRawHandles(server, (handle) => this.accept(handle));
    return address;
  }

  addWorker(workerId: number, target: HandoffTarget): void {
    this.targets.set(workerId, target);
    this.pendingByWorker.set(workerId, new Set());
  }

  /** Workers that may receive new connections, in slot order. */
  setRotation(workerIds: number[]): void {
    this.rotation = workerIds.filter((id) => this.targets.has(id));
    if (this.rotation.length > 0) this.flushHeld();
  }

  /** The worker took connection `connectionId`: drop the primary's copy (close, not shutdown). */
  acknowledge(workerId: number, connectionId: number): void {
    const entry = this.pending.get(connectionId);
    if (entry === undefined || entry.workerId !== workerId) return;
    this.pending.delete(connectionId);
    this.pendingByWorker.get(workerId)?.delete(connectionId);
    // Closing the primary's descriptor leaves the connection open in the worker.
    entry.handle.close();
  }

  /** The worker refused connection `connectionId` (it came too late): give it to another worker. */
  reclaim(workerId: number, connectionId: number): void {
    const entry = this.pending.get(connectionId);
    if (entry === undefined || entry.workerId !== workerId) return;
    this.takeBack(connectionId, entry);
  }

  /** A worker exited: hand its unacknowledged connections to others. */
  removeWorker(workerId: number): void {
    this.targets.delete(workerId);
    this.rotation = this.rotation.filter((id) => id !== workerId);
    const ids = this.pendingByWorker.get(workerId) ?? new Set<number>();
    this.pendingByWorker.delete(workerId);
    for (const connectionId of ids) {
      const entry = this.pending.get(connectionId);
      if (entry === undefined) continue;
      this.pending.delete(connectionId);
      this.stats.rerouted += 1;
      this.dispatch(entry.handle);
    }
  }

  /** Hand a connection to one given worker, in rotation or not (per-worker probes). */
  handTo(workerId: number, handle: ConnectionHandle): boolean {
    if (!this.targets.has(workerId)) return false;
    this.sendTo(workerId, handle);
    return true;
  }

  /** Unacknowledged hand-offs per worker, for /workers. */
  pendingCount(workerId: number): number {
    return this.pendingByWorker.get(workerId)?.size ?? 0;
  }

  /** Take back hand-offs past their deadline; drop held connections that waited too long. */
  sweep(): void {
    const now = this.now();
    for (const [connectionId, entry] of this.pending) {
      if (now - entry.sentAt < this.options.reclaimAfterMs) continue;
      this.lastExpiry.set(entry.workerId, now);
      this.takeBack(connectionId, entry);
    }
    while (this.held.length > 0 && now - (this.held[0] as { at: number }).at > this.options.holdTimeoutMs) {
      const entry = this.held.shift() as { handle: ConnectionHandle };
      this.stats.dropped += 1;
      entry.handle.close();
    }
    this.stats.held = this.held.length;
  }

  /** Stop accepting. Held connections have no worker to go to any more. */
  async close(): Promise<void> {
    for (const entry of this.held) entry.handle.close();
    this.stats.dropped += this.held.length;
    this.held = [];
    const server = this.server;
    this.server = undefined;
    if (server === undefined || !server.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Last resort when the primary exits: close every connection still in its hands. */
  destroyAll(): void {
    for (const entry of this.pending.values()) entry.handle.close();
    this.pending.clear();
    for (const entry of this.held) entry.handle.close();
    this.held = [];
  }

  private takeBack(connectionId: number, entry: Pending): void {
    this.pending.delete(connectionId);
    this.pendingByWorker.get(entry.workerId)?.delete(connectionId);
    this.stats.reclaimed += 1;
    this.dispatch(entry.handle);
  }

  /** A connection the listener accepted: to a worker in rotation, or held until there is one. */
  accept(handle: ConnectionHandle): void {
    this.stats.accepted += 1;
    this.dispatch(handle);
  }

  private dispatch(handle: ConnectionHandle): void {
    const workerId = this.pick();
    if (workerId === undefined) {
      if (this.held.length >= this.options.holdLimit) {
        this.stats.dropped += 1;
        handle.close();
        return;
      }
      this.held.push({ handle, at: this.now() });
      this.stats.held = this.held.length;
      return;
    }
    this.sendTo(workerId, handle);
  }

  private pick(): number | undefined {
    const now = this.now();
    const candidates: Candidate[] = this.rotation.map((id) => {
      const ids = this.pendingByWorker.get(id);
      // A worker that just let a hand-off expire counts as slow for a few seconds.
      const expiredAt = this.lastExpiry.get(id);
      let oldest = expiredAt !== undefined && now - expiredAt < 3000 ? this.options.slowAckMs : 0;
      for (const connectionId of ids ?? []) {
        const entry = this.pending.get(connectionId);
        if (entry !== undefined) oldest = Math.max(oldest, now - entry.sentAt);
      }
      return { id, pending: ids?.size ?? 0, oldestPendingMs: oldest };
    });
    const choice = chooseWorker(candidates, this.cursor, this.options.slowAckMs);
    if (choice === undefined) return undefined;
    this.cursor = choice.nextCursor;
    return choice.id;
  }

  private sendTo(workerId: number, handle: ConnectionHandle): void {
    const target = this.targets.get(workerId);
    if (target === undefined) {
      this.dispatch(handle);
      return;
    }
    const connectionId = this.nextConnectionId++;
    const sentAt = this.now();
    this.pending.set(connectionId, { handle, workerId, sentAt });
    this.pendingByWorker.get(workerId)?.add(connectionId);
    this.stats.handedOff += 1;
    target.send(connectionId, sentAt + this.options.acceptWindowMs, handle, (error) => {
      if (error === null || !this.pending.has(connectionId)) return;
      // The channel closed before the handle left: take it back and try another worker.
      this.pending.delete(connectionId);
      this.pendingByWorker.get(workerId)?.delete(connectionId);
      this.stats.rerouted += 1;
      this.dispatch(handle);
    });
  }

  private flushHeld(): void {
    const held = this.held;
    this.held = [];
    for (const entry of held) this.dispatch(entry.handle);
    this.stats.held = this.held.length;
  }
}

/** Listen and turn bind errors into a WardenError that names the address and what to do. */
export function listenOn(server: Server, host: string, port: number, what: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const code = errnoCode(error);
      const address = `${host}:${port}`;
      const hint =
        code === 'EADDRINUSE' ? `another process is using ${address}; stop it or choose another port` :
        code === 'EACCES' ? `ports below 1024 need privileges; choose a port above 1024` :
        code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' ? `${host} is not an address of this machine` : undefined;
      reject(new WardenError('WARDEN_LISTEN', `cannot listen on ${address} for the ${what}: ${code ?? error.message}`, { hint, cause: error }));
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
