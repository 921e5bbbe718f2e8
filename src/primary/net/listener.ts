// The service listener (TCP or `--uds`) and how its connections reach workers, through the balance
// mode chosen once here (handoff.ts or shared.ts, one interface). The rotation the supervisor passes
// is forwarded only when it changed: a heartbeat that moves nothing costs a comparison.

import { createServer, type AddressInfo, type Server } from 'node:net';
import type { BalanceMode } from '../../config/options.js';
import { listenOn, listenOnFd } from './bind.js';
import { socketInode } from '../../os/accept-queue.js';
import type { Distributor } from './distributor.js';
import { HandoffDistributor } from './handoff.js';
import { Handoffs, type ConnectionStats, type HandoffOptions, type HandoffTarget } from './handoffs.js';
import { BACKLOG, acceptRawHandles, listeningHandle, type ConnectionHandle, type ListeningHandle } from './raw-accept.js';
import { SharedDistributor } from './shared.js';
import { listenUnix, type BoundSocket } from './unix-socket.js';

export type { ConnectionStats, HandoffTarget } from './handoffs.js';

export interface ListenerOptions extends HandoffOptions {
  balance: BalanceMode;
  /** On close, how long at most to keep taking connections the kernel had queued (default 250). */
  maxAcceptDrainMs?: number;
  /** Shared mode, on close: how long at least the primary polls after telling workers to stop (default 100). */
  minAcceptDrainMs?: number;
  /** `--backlog`: listen(2)'s backlog, each time the socket is (re)listened. */
  backlog?: number;
}

export class Listener {
  private server: Server | undefined;
  private unixSocket: BoundSocket | undefined;
  private readonly handoffs: Handoffs;
  private readonly distributor: Distributor;
  /** The rotation last passed on, and whether something since makes it worth passing on again. */
  private rotation: readonly number[] = [];
  /** The array last given to setRotation: the supervisor passes the same one while nothing changed. */
  private passed: readonly number[] | undefined;
  private isRotationStale = true;
  readonly stats: ConnectionStats = { accepted: 0, handedOff: 0, rerouted: 0, reclaimed: 0, dropped: 0, held: 0, acceptors: 0 };

  constructor(private readonly options: ListenerOptions) {
    this.handoffs = new Handoffs(options, this.stats);
    const context = {
      handoffs: this.handoffs,
      stats: this.stats,
      polled: () => (this.server === undefined ? undefined : listeningHandle(this.server)),
      closePolled: () => this.server?.close(),
      backlog: options.backlog ?? BACKLOG,
    };
    this.distributor = options.balance === 'shared' ? new SharedDistributor(context, options.minAcceptDrainMs) : new HandoffDistributor(context);
  }

  get mode(): BalanceMode {
    return this.options.balance;
  }

  /** Bind host:port; EADDRINUSE and friends become a WardenError naming the address. */
  async listen(host: string, port: number, what: string): Promise<AddressInfo> {
    const server = createServer();
    this.server = server;
    const address = await listenOn(server, host, port, what, this.options.backlog ?? BACKLOG);
    this.rememberInode(server);
    acceptRawHandles(server, (handle) => this.handoffs.accept(handle));
    return address;
  }

  /**
   * Serve on an inherited listening socket (`--fd`, systemd socket activation): TCP or unix. Closing
   * it here closes only warden's descriptor; the socket and its queue stay with whoever passed it.
   */
  async listenFd(fd: number, what: string): Promise<AddressInfo | { path: string }> {
    const server = createServer();
    this.server = server;
    const address = await listenOnFd(server, fd, what, this.options.backlog ?? BACKLOG);
    this.rememberInode(server);
    acceptRawHandles(server, (handle) => this.handoffs.accept(handle));
    return address;
  }

  /** The listening socket's inode, by which /proc/net/tcp names it (undefined off Linux or for unix sockets). */
  listenerInode: number | undefined;

  private rememberInode(server: Server): void {
    const fd = (listeningHandle(server) as { fd?: number } | undefined)?.fd;
    this.listenerInode = typeof fd === 'number' && fd >= 0 ? socketInode(fd) : undefined;
  }

  /** `--uds`: bind the unix socket `path` (a stale file is replaced, a live one refused). */
  async listenUnix(path: string, mode: number, what: string): Promise<BoundSocket> {
    const server = createServer();
    this.server = server;
    const bound = await listenUnix(server, path, mode, what);
    this.unixSocket = bound;
    acceptRawHandles(server, (handle) => this.handoffs.accept(handle));
    return bound;
  }

  /** `slot` keys the --sticky choice: a replacement in the same slot gets that slot's clients. */
  addWorker(workerId: number, target: HandoffTarget, slot = workerId): void {
    this.handoffs.addWorker(workerId, target, slot);
    this.isRotationStale = true;
  }

  /** A worker exited: its unacknowledged connections go to others. */
  removeWorker(workerId: number): void {
    this.handoffs.removeWorker(workerId);
    this.distributor.workerRemoved(workerId);
    this.isRotationStale = true;
  }

  /** Workers that may receive new connections, in slot order. */
  setRotation(workerIds: readonly number[]): void {
    if (!this.isRotationStale && (workerIds === this.passed || sameIds(workerIds, this.rotation))) return;
    this.passed = workerIds;
    this.rotation = [...workerIds];
    this.isRotationStale = false;
    this.distributor.rotationChanged(this.handoffs.setRotation(workerIds));
  }

  /** A worker answered 'listen' (shared mode). One that could not is asked again with the next rotation. */
  listening(workerId: number, copy: ListeningHandle | undefined, error: string | undefined): void {
    if (error !== undefined) this.isRotationStale = true;
    this.distributor.listening(workerId, copy, error);
  }

  /** A connection accepted elsewhere (tests; the listener's own go the same way). */
  accept(handle: ConnectionHandle): void {
    this.handoffs.accept(handle);
  }

  acknowledge(workerId: number, connectionId: number, connections?: number): void {
    this.handoffs.acknowledge(workerId, connectionId, connections);
  }

  reclaim(workerId: number, connectionId: number): void {
    this.handoffs.reclaim(workerId, connectionId);
  }

  handTo(workerId: number, handle: ConnectionHandle): boolean {
    return this.handoffs.handTo(workerId, handle);
  }

  /** Unacknowledged hand-offs per worker, for /workers. */
  pendingCount(workerId: number): number {
    return this.handoffs.pendingCount(workerId);
  }

  sweep(): void {
    this.handoffs.sweep();
  }

  /** Connections in the primary's hands, which the sweep may have to take back or drop. */
  get hasConnectionWork(): boolean {
    return this.handoffs.hasWork;
  }

  /** Called when a connection comes into the primary's hands (the sweep is due from then on). */
  set onConnectionWork(callback: (() => void) | undefined) {
    this.handoffs.onWork = callback;
  }

  /**
   * Stop accepting. The kernel may hold connections it completed that nobody has accepted yet;
   * closing the listener would reset them. So first keep accepting until one whole turn of the event
   * loop (one poll of the listener) accepts nothing, bounded by `maxAcceptDrainMs`, holding what comes
   * (its clients wait rather than get answered and reconnect, so the queue empties) and handing it,
   * once the socket is closed, to the workers that were in rotation when close() began (they are told
   * to drain in the same breath, and IPC keeps order: they answer the connection, then close it). In shared mode the
   * workers are told to stop accepting first and the primary polls its own copy of the socket, for
   * at least `minAcceptDrainMs`, so that a worker that reads `unlisten` late does not leave a queue
   * behind. What arrives between the last empty poll and close() is still reset: the kernel gives no
   * way to stop completing handshakes while the queue is read (docs/faults.md, fault 10).
   */
  async close(): Promise<void> {
    const server = this.server;
    const isTakingQueue = !this.handoffs.isClosing && this.distributor.startTakingQueue();
    if (isTakingQueue) {
      this.handoffs.beginClose();
      try {
        await this.takeQueuedConnections(this.distributor.minAcceptDrainMs);
      } catch (error) {
        this.handoffs.endClose();
        throw error;
      }
    }
    this.distributor.stop();
    this.server = undefined;
    // The socket file goes with the listener (connections workers still finish do not need the name).
    this.unixSocket?.remove();
    this.unixSocket = undefined;
    // server.close() closes the listening handle at once (its callback waits for nothing of ours).
    const closed = server === undefined || !server.listening ? Promise.resolve() : new Promise<void>((resolve) => server.close(() => resolve()));
    // No handshake completes any more: what was taken from the queue meanwhile goes to the workers.
    if (isTakingQueue) this.handoffs.endClose();
    this.handoffs.dropHeld();
    await closed;
  }

  /** Last resort when the primary exits: close every connection still in its hands. */
  destroyAll(): void {
    this.handoffs.destroyAll();
    this.distributor.destroy();
    this.unixSocket?.remove();
    this.unixSocket = undefined;
  }

  /** Accept until a turn of the event loop brings no connection after `minMs` (or the bound passes). */
  private async takeQueuedConnections(minMs: number): Promise<void> {
    const startedAt = this.handoffs.now();
    const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));
    // The first immediate runs in this turn's check phase; the next one after the following poll phase.
    await nextTurn();
    for (;;) {
      const before = this.stats.accepted;
      await (this.handoffs.now() - startedAt < minMs ? new Promise<void>((resolve) => setTimeout(resolve, 5)) : nextTurn());
      const elapsed = this.handoffs.now() - startedAt;
      if ((this.stats.accepted === before && elapsed >= minMs) || elapsed >= (this.options.maxAcceptDrainMs ?? 250)) return;
    }
  }
}

function sameIds(a: readonly number[], b: readonly number[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
