// The service listener and how connections reach workers, in one of two modes (docs/balancing.md).
//
// `handoff`: the primary accepts (without reading) and passes each connection's handle over IPC to a
// worker in rotation, as node:cluster's round-robin does, but the primary chooses (balance.ts): a
// worker out of rotation (booting, late, stalled, stuck, draining) gets no new connection. A handle
// stays open here until the worker acknowledges it, so one sent to a worker that dies, freezes or
// answers too late is handed to another worker instead of being lost: each hand-off carries a deadline
// after which the worker must refuse it, and once that deadline has safely passed the primary gives
// the connection to someone else.
//
// `shared`: the workers in rotation accept from the one listening socket themselves, as node:cluster's
// SCHED_NONE and gunicorn do: the kernel's accept queue is shared, and a worker whose loop does not
// run (frozen, busy, blocked on a slow request) takes nothing from it. A worker that leaves rotation is
// told to stop accepting and closes its copy; one that enters gets a copy. The primary keeps a copy
// that it does not accept from (its own polling copy is closed once a worker has sent one back), so
// connections wait in the kernel's queue while no worker accepts, and survive every worker's death.
// Connections the primary accepted itself before that (at startup) and probes go the hand-off way.

import { createServer, type AddressInfo, type Server } from 'node:net';
import { WardenError, errnoCode } from '../errors.js';
import { monotonicMs } from '../protocol/messages.js';
import { acceptorChanges, chooseWorker, stickyWorker, type Candidate } from './balance.js';
import { listenUnix, type BoundSocket } from './unix-socket.js';
import { socketInode } from '../os/accept-queue.js';
import { BACKLOG, acceptRawHandles, listeningHandle, remoteAddress, type ConnectionHandle, type ListeningHandle } from './raw-accept.js';

import type { BalanceMode } from '../config/options.js';

export interface HandoffTarget {
  send(connectionId: number, expiresAt: number, handle: ConnectionHandle, onSent: (error: Error | null) => void): void;
  /** Shared mode: start accepting from this listening handle (send back a copy if asked). */
  share?(listening: ListeningHandle, returnCopy: boolean): void;
  /** Shared mode: stop accepting. */
  unshare?(): void;
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
  /** Shared mode: workers accepting from the shared socket right now. */
  acceptors: number;
}

export class ConnectionDispatcher {
  private server: Server | undefined;
  private readonly targets = new Map<number, HandoffTarget>();
  private readonly slots = new Map<number, number>();
  private rotation: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private readonly pendingByWorker = new Map<number, Set<number>>();
  /** Connections accepted while no worker was in rotation, oldest first. */
  private held: { handle: ConnectionHandle; at: number }[] = [];
  private nextConnectionId = 1;
  private cursor = 0;
  /** When each worker last let a hand-off expire: it is passed over for a while after. */
  private readonly lastExpiry = new Map<number, number>();
  /** Open connections each worker reported with its last acknowledgement. */
  private readonly reportedConnections = new Map<number, number>();
  /** Shared mode: workers told to accept (and not told to stop since). */
  private readonly accepting = new Set<number>();
  /** Shared mode: the primary's copy of the listening socket that nobody polls here. */
  private keeper: ListeningHandle | undefined;
  private unixSocket: BoundSocket | undefined;
  /**
   * Workers whose IPC channel refused a hand-off (it closed: the process is on its way out). They get
   * no connection until removeWorker(), even while the machine, which has not seen the exit yet,
   * still counts them in rotation; otherwise a refused hand-off would go straight back to them.
   */
  private readonly unreachable = new Set<number>();
  /** While close() takes the last queued connections: the workers that were in rotation when it began. */
  private closingRotation: number[] | undefined;
  readonly stats: ConnectionStats = { accepted: 0, handedOff: 0, rerouted: 0, reclaimed: 0, dropped: 0, held: 0, acceptors: 0 };

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
      /** On close, how long at most to keep taking connections the kernel had queued (default 250). */
      maxAcceptDrainMs?: number;
      /** Shared mode, on close: how long at least the primary polls after telling workers to stop (default 100). */
      minAcceptDrainMs?: number;
      mode?: BalanceMode;
      /** `--sticky`: the same client address goes to the same worker while it is in rotation. */
      sticky?: boolean;
      /** `--backlog`: listen(2)'s backlog, each time the socket is (re)listened. */
      backlog?: number;
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
    const address = await listenOn(server, host, port, what, this.backlog);
    this.rememberInode(server);
    acceptRawHandles(server, (handle) => this.accept(handle));
    return address;
  }

  /**
   * Serve on an inherited listening socket (`--fd`, systemd socket activation): TCP or unix. Closing
   * it here closes only warden's descriptor; the socket and its queue stay with whoever passed it.
   */
  async listenFd(fd: number, what: string): Promise<AddressInfo | { path: string }> {
    const server = createServer();
    this.server = server;
    const address = await listenOnFd(server, fd, what, this.backlog);
    this.rememberInode(server);
    acceptRawHandles(server, (handle) => this.accept(handle));
    return address;
  }

  /** The listening socket's inode, by which /proc/net/tcp names it (undefined off Linux or for unix sockets). */
  listenerInode: number | undefined;

  private rememberInode(server: Server): void {
    const fd = (listeningHandle(server) as { fd?: number } | undefined)?.fd;
    this.listenerInode = typeof fd === 'number' && fd >= 0 ? socketInode(fd) : undefined;
  }

  private get backlog(): number {
    return this.options.backlog ?? BACKLOG;
  }

  /** `slot` keys the --sticky choice: a replacement in the same slot gets that slot's clients. */
  /** `--uds`: bind the unix socket `path` (a stale file is replaced, a live one refused). */
  async listenUnix(path: string, mode: number, what: string): Promise<BoundSocket> {
    const server = createServer();
    this.server = server;
    const bound = await listenUnix(server, path, mode, what);
    this.unixSocket = bound;
    acceptRawHandles(server, (handle) => this.accept(handle));
    return bound;
  }

  addWorker(workerId: number, target: HandoffTarget, slot = workerId): void {
    this.targets.set(workerId, target);
    this.slots.set(workerId, slot);
    this.pendingByWorker.set(workerId, new Set());
  }

  get mode(): BalanceMode {
    return this.options.mode ?? 'handoff';
  }

  /** Workers that may receive new connections, in slot order. */
  setRotation(workerIds: number[]): void {
    this.rotation = workerIds.filter((id) => this.targets.has(id));
    if (this.mode === 'shared') this.updateAcceptors();
    if (this.rotation.length > 0) this.flushHeld();
  }

  /** Shared mode: tell workers that entered rotation to accept, and those that left to stop. */
  private updateAcceptors(): void {
    const listening = this.keeper ?? (this.server === undefined ? undefined : listeningHandle(this.server));
    if (listening === undefined) return;
    const { start, stop } = acceptorChanges(this.accepting, this.rotation);
    for (const id of stop) {
      this.accepting.delete(id);
      this.targets.get(id)?.unshare?.();
    }
    for (const id of start) {
      const target = this.targets.get(id);
      if (target?.share === undefined) continue;
      this.accepting.add(id);
      target.share(listening, this.keeper === undefined);
    }
    this.stats.acceptors = this.accepting.size;
  }

  /**
   * Shared mode: a worker answered 'listen'. With its copy of the listening socket, the primary keeps
   * that copy and closes the one it polls, so from now on only workers accept. Without (an error),
   * the worker counts as not accepting; it is asked again when it next enters rotation.
   */
  listening(workerId: number, copy: ListeningHandle | undefined, error: string | undefined): void {
    if (error !== undefined) {
      this.accepting.delete(workerId);
      this.stats.acceptors = this.accepting.size;
      return;
    }
    if (copy === undefined) return;
    if (this.keeper !== undefined || this.server === undefined) {
      copy.close();
      return;
    }
    this.keeper = copy;
    const server = this.server;
    // Closing the polling copy closes one descriptor; the socket, its queue and the workers' copies stay.
    server.close();
  }

  /** The worker took connection `connectionId`: drop the primary's copy (close, not shutdown). */
  acknowledge(workerId: number, connectionId: number, connections?: number): void {
    if (connections !== undefined) this.reportedConnections.set(workerId, connections);
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
    this.unreachable.delete(workerId);
    this.slots.delete(workerId);
    this.rotation = this.rotation.filter((id) => id !== workerId);
    this.reportedConnections.delete(workerId);
    this.lastExpiry.delete(workerId);
    this.accepting.delete(workerId);
    this.stats.acceptors = this.accepting.size;
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

  /**
   * Stop accepting. The kernel may hold connections it completed that nobody has accepted yet;
   * closing the listener would reset them. So first keep accepting until one whole turn of the event
   * loop (one poll of the listener) accepts nothing, bounded by `maxAcceptDrainMs`, handing what comes
   * to the workers that were in rotation when close() began (they are told to drain in the same
   * breath, and IPC keeps order: they answer the connection, then close it). In shared mode the
   * workers are told to stop accepting first and the primary polls its own copy of the socket, for
   * at least `minAcceptDrainMs`, so that a worker that reads `unlisten` late does not leave a queue
   * behind. What arrives between the last empty poll and close() is still reset: the kernel gives no
   * way to stop completing handshakes while the queue is read (docs/faults.md, fault 10). Held
   * connections have no worker to go to any more.
   */
  async close(): Promise<void> {
    const server = this.server;
    const keeper = this.keeper;
    const takesQueue = this.closingRotation === undefined && (this.mode === 'handoff' ? server?.listening === true : keeper !== undefined && this.pollKeeper(keeper));
    if (takesQueue) {
      this.closingRotation = [...this.rotation];
      try {
        await this.takeQueuedConnections(this.mode === 'shared' ? (this.options.minAcceptDrainMs ?? 100) : 0);
      } finally {
        this.closingRotation = undefined;
      }
    }
    for (const entry of this.held) entry.handle.close();
    this.stats.dropped += this.held.length;
    this.held = [];
    for (const id of this.accepting) this.targets.get(id)?.unshare?.();
    this.accepting.clear();
    this.stats.acceptors = 0;
    this.keeper?.close();
    this.keeper = undefined;
    this.server = undefined;
    // The socket file goes with the listener (connections workers still finish do not need the name).
    this.unixSocket?.remove();
    this.unixSocket = undefined;
    if (server === undefined || !server.listening) return;
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /**
   * Shared mode, closing: tell every worker to stop accepting and accept from the primary's own copy
   * of the socket instead, handing connections over as before the first worker was ready.
   */
  private pollKeeper(keeper: ListeningHandle): boolean {
    for (const id of this.accepting) this.targets.get(id)?.unshare?.();
    this.accepting.clear();
    this.stats.acceptors = 0;
    if (keeper.listen === undefined) return false;
    keeper.onconnection = (status, handle) => {
      if (status === 0 && handle !== undefined) this.accept(handle);
    };
    return keeper.listen(this.backlog) === 0;
  }

  /** Accept until a turn of the event loop brings no connection after `minMs` (or the bound passes). */
  private async takeQueuedConnections(minMs: number): Promise<void> {
    const startedAt = this.now();
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    // The first immediate runs in this turn's check phase; the next one after the following poll phase.
    await nextTurn();
    for (;;) {
      const before = this.stats.accepted;
      await (this.now() - startedAt < minMs ? new Promise<void>((resolve) => setTimeout(resolve, 5)) : nextTurn());
      const elapsed = this.now() - startedAt;
      if ((this.stats.accepted === before && elapsed >= minMs) || elapsed >= (this.options.maxAcceptDrainMs ?? 250)) return;
    }
  }

  /** Last resort when the primary exits: close every connection still in its hands. */
  destroyAll(): void {
    for (const entry of this.pending.values()) entry.handle.close();
    this.pending.clear();
    for (const entry of this.held) entry.handle.close();
    this.held = [];
    this.keeper?.close();
    this.keeper = undefined;
    this.unixSocket?.remove();
    this.unixSocket = undefined;
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
    const workerId = this.options.sticky === true ? this.pickSticky(handle) : this.pick();
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

  /** A handle whose peer is unknown (it already closed) goes to the least-loaded worker. */
  private pickSticky(handle: ConnectionHandle): number | undefined {
    const address = remoteAddress(handle);
    if (address === undefined) return this.pick();
    const now = this.now();
    const avoid = new Set<number>();
    for (const [id, at] of this.lastExpiry) if (now - at < 3000) avoid.add(id);
    return stickyWorker(address, this.rotation.filter((id) => !this.unreachable.has(id)).map((id) => ({ id, slot: this.slots.get(id) ?? id })), avoid);
  }

  private pick(): number | undefined {
    const now = this.now();
    const closing = this.closingRotation?.filter((id) => this.targets.has(id));
    const inRotation = closing !== undefined && this.rotation.length === 0 ? closing : this.rotation;
    const rotation = this.unreachable.size === 0 ? inRotation : inRotation.filter((id) => !this.unreachable.has(id));
    const candidates: Candidate[] = rotation.map((id) => {
      const ids = this.pendingByWorker.get(id);
      // A worker that just let a hand-off expire counts as slow for a few seconds.
      const expiredAt = this.lastExpiry.get(id);
      let oldest = expiredAt !== undefined && now - expiredAt < 3000 ? this.options.slowAckMs : 0;
      for (const connectionId of ids ?? []) {
        const entry = this.pending.get(connectionId);
        if (entry !== undefined) oldest = Math.max(oldest, now - entry.sentAt);
      }
      return { id, pending: ids?.size ?? 0, oldestPendingMs: oldest, connections: this.reportedConnections.get(id) ?? 0 };
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
      this.unreachable.add(workerId);
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
/** listen() on an inherited descriptor; a descriptor that is not a listening socket becomes a WardenError naming it. */
export function listenOnFd(server: Server, fd: number, what: string, backlog = BACKLOG): Promise<AddressInfo | { path: string }> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      const code = errnoCode(error);
      reject(new WardenError('WARDEN_LISTEN', `cannot listen on file descriptor ${fd} for the ${what}: ${code ?? error.message}`, {
        hint: code === 'EBADF' || code === 'EINVAL' || code === 'ENOTSOCK'
          ? `descriptor ${fd} is not a socket this process inherited; pass a bound TCP or unix stream socket (systemd-socket-activate, or a .socket unit)`
          : undefined,
        cause: error,
      }));
    };
    server.once('error', onError);
    try {
      server.listen({ fd, backlog }, () => {
        server.off('error', onError);
        const address = server.address();
        resolve(typeof address === 'string' ? { path: address } : (address as AddressInfo));
      });
    } catch (error) {
      // node:net throws at once for a descriptor of the wrong type (a file, a pipe).
      server.off('error', onError);
      onError(error as Error);
    }
  });
}

export function listenOn(server: Server, host: string, port: number, what: string, backlog = BACKLOG): Promise<AddressInfo> {
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
    server.listen({ host, port, exclusive: true, backlog }, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}
