// The hand-off path, used in both balance modes for every connection the primary accepted itself:
// which worker gets it (balance.ts chooses), the primary's copy kept until the worker acknowledges,
// a deadline after which it is taken back and given to another worker, and a queue of connections
// held while no worker is in rotation. All it keeps per worker is one WorkerLink, dropped at once.

import { monotonicMs } from '../../protocol/messages.js';
import { chooseWorker, stickyWorker, type Candidate } from './balance.js';
import { remoteAddress, type ConnectionHandle, type ListeningHandle } from './raw-accept.js';

export interface HandoffTarget {
  send(connectionId: number, expiresAt: number, handle: ConnectionHandle, onSent: (error: Error | null) => void): void;
  /** Shared mode: start accepting from this listening handle (send back a copy if asked). */
  share?(listening: ListeningHandle, returnCopy: boolean): void;
  /** Shared mode: stop accepting. */
  unshare?(): void;
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

export interface HandoffOptions {
  holdLimit: number;
  holdTimeoutMs: number;
  /** A worker with a hand-off unacknowledged this long gets no new connection. */
  slowAckMs: number;
  /** A worker must refuse a hand-off older than this. */
  acceptWindowMs: number;
  /** The primary takes back a hand-off unacknowledged this long (twice the window: no race). */
  reclaimAfterMs: number;
  /** `--sticky`: the same client address goes to the same worker while it is in rotation. */
  sticky?: boolean;
  now?: () => number;
}

/** Everything the connection path knows about one worker. */
interface WorkerLink {
  readonly target: HandoffTarget;
  /** Keys the --sticky choice: a replacement in the same slot gets that slot's clients. */
  readonly slot: number;
  /** Its unacknowledged hand-offs, by connection id. */
  readonly pending: Set<number>;
  /** When it last let a hand-off expire: it is passed over for a while after. */
  lastExpiryAt: number | undefined;
  /** Open connections it reported with its last acknowledgement. */
  connections: number;
  /**
   * Its IPC channel refused a hand-off (it closed: the process is on its way out). It gets no
   * connection until it is removed, even while the machine, which has not seen the exit yet, still
   * counts it in rotation; otherwise a refused hand-off would go straight back to it.
   */
  isUnreachable: boolean;
}

interface Pending {
  handle: ConnectionHandle;
  workerId: number;
  sentAt: number;
}

/** A worker that just let a hand-off expire counts as slow for this long. */
const EXPIRY_MEMORY_MS = 3000;

export class Handoffs {
  private readonly links = new Map<number, WorkerLink>();
  private rotation: number[] = [];
  private readonly pending = new Map<number, Pending>();
  /** Connections accepted while no worker was in rotation, oldest first. */
  private held: { handle: ConnectionHandle; at: number }[] = [];
  private nextConnectionId = 1;
  private cursor = 0;
  /** While the listener closes: the workers that were in rotation when it began. */
  private closingRotation: number[] | undefined;
  private isHoldingForClose = false;

  constructor(private readonly options: HandoffOptions, readonly stats: ConnectionStats) {}

  now(): number {
    return (this.options.now ?? monotonicMs)();
  }

  addWorker(workerId: number, target: HandoffTarget, slot: number): void {
    this.links.set(workerId, { target, slot, pending: new Set(), lastExpiryAt: undefined, connections: 0, isUnreachable: false });
  }

  target(workerId: number): HandoffTarget | undefined {
    return this.links.get(workerId)?.target;
  }

  /** Workers that may receive new connections, in slot order; returns the ones known here. */
  setRotation(workerIds: readonly number[]): readonly number[] {
    this.rotation = workerIds.filter((id) => this.links.has(id));
    if (this.rotation.length > 0) this.flushHeld();
    return this.rotation;
  }

  /**
   * Closing: connections taken from the queue are held until the listening socket is closed, then go
   * to the workers in rotation now, even once they leave it. Holding them keeps their clients waiting
   * instead of answered and reconnecting, so the kernel's queue empties and closing it resets nothing.
   */
  beginClose(): void {
    this.closingRotation = [...this.rotation];
    this.isHoldingForClose = true;
  }

  /** The listening socket is closed: the connections held meanwhile go to the closing rotation. */
  endClose(): void {
    this.isHoldingForClose = false;
    this.flushHeld();
    this.closingRotation = undefined;
  }

  get isClosing(): boolean {
    return this.closingRotation !== undefined;
  }

  /** A worker exited: hand its unacknowledged connections to others. */
  removeWorker(workerId: number): void {
    const link = this.links.get(workerId);
    this.links.delete(workerId);
    this.rotation = this.rotation.filter((id) => id !== workerId);
    for (const connectionId of link?.pending ?? []) {
      const entry = this.forget(connectionId);
      if (entry === undefined) continue;
      this.stats.rerouted += 1;
      this.dispatch(entry.handle);
    }
  }

  /** Called when a connection comes into this path: from then on, the sweep is due. */
  onWork: (() => void) | undefined;

  /** Connections in the primary's hands: hand-offs not yet acknowledged, or held for lack of a worker. */
  get hasWork(): boolean {
    return this.pending.size > 0 || this.held.length > 0;
  }

  /** A connection the listener accepted: to a worker in rotation, or held until there is one. */
  accept(handle: ConnectionHandle): void {
    this.stats.accepted += 1;
    this.dispatch(handle);
    this.onWork?.();
  }

  /** The worker took connection `connectionId`: drop the primary's copy (close, not shutdown). */
  acknowledge(workerId: number, connectionId: number, connections?: number): void {
    const link = this.links.get(workerId);
    if (link !== undefined && connections !== undefined) link.connections = connections;
    if (this.pending.get(connectionId)?.workerId !== workerId) return;
    // Closing the primary's descriptor leaves the connection open in the worker.
    this.forget(connectionId)?.handle.close();
  }

  /** The worker refused connection `connectionId` (it came too late): give it to another worker. */
  reclaim(workerId: number, connectionId: number): void {
    if (this.pending.get(connectionId)?.workerId !== workerId) return;
    this.takeBack(connectionId);
  }

  /** Hand a connection to one given worker, in rotation or not (per-worker probes). */
  handTo(workerId: number, handle: ConnectionHandle): boolean {
    if (!this.links.has(workerId)) return false;
    this.sendTo(workerId, handle);
    this.onWork?.();
    return true;
  }

  pendingCount(workerId: number): number {
    return this.links.get(workerId)?.pending.size ?? 0;
  }

  /** Take back hand-offs past their deadline; drop held connections that waited too long. */
  sweep(): void {
    const now = this.now();
    for (const [connectionId, entry] of this.pending) {
      if (now - entry.sentAt < this.options.reclaimAfterMs) continue;
      const link = this.links.get(entry.workerId);
      if (link !== undefined) link.lastExpiryAt = now;
      this.takeBack(connectionId);
    }
    while (this.held.length > 0 && now - (this.held[0] as { at: number }).at > this.options.holdTimeoutMs) {
      const entry = this.held.shift() as { handle: ConnectionHandle };
      this.stats.dropped += 1;
      entry.handle.close();
    }
    this.stats.held = this.held.length;
  }

  /** Held connections have no worker to go to any more. */
  dropHeld(): void {
    for (const entry of this.held) entry.handle.close();
    this.stats.dropped += this.held.length;
    this.held = [];
    this.stats.held = 0;
  }

  /** Last resort when the primary exits: close every connection still in its hands. */
  destroyAll(): void {
    for (const entry of this.pending.values()) entry.handle.close();
    this.pending.clear();
    for (const link of this.links.values()) link.pending.clear();
    for (const entry of this.held) entry.handle.close();
    this.held = [];
  }

  /** The one way a hand-off leaves the table: from both the connection's and the worker's index. */
  private forget(connectionId: number): Pending | undefined {
    const entry = this.pending.get(connectionId);
    if (entry === undefined) return undefined;
    this.pending.delete(connectionId);
    this.links.get(entry.workerId)?.pending.delete(connectionId);
    return entry;
  }

  private takeBack(connectionId: number): void {
    const entry = this.forget(connectionId);
    if (entry === undefined) return;
    this.stats.reclaimed += 1;
    this.dispatch(entry.handle);
  }

  private dispatch(handle: ConnectionHandle): void {
    const workerId = this.isHoldingForClose ? undefined : this.options.sticky === true ? this.pickSticky(handle) : this.pick();
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

  private isRecentlyExpired(link: WorkerLink, now: number): boolean {
    return link.lastExpiryAt !== undefined && now - link.lastExpiryAt < EXPIRY_MEMORY_MS;
  }

  /** A handle whose peer is unknown (it already closed) goes to the least-loaded worker. */
  private pickSticky(handle: ConnectionHandle): number | undefined {
    const address = remoteAddress(handle);
    if (address === undefined) return this.pick();
    const now = this.now();
    const avoid = new Set<number>();
    const reachable: { id: number; slot: number }[] = [];
    for (const id of this.rotation) {
      const link = this.links.get(id);
      if (link === undefined || link.isUnreachable) continue;
      reachable.push({ id, slot: link.slot });
      if (this.isRecentlyExpired(link, now)) avoid.add(id);
    }
    return stickyWorker(address, reachable, avoid);
  }

  private pick(): number | undefined {
    const now = this.now();
    const closing = this.closingRotation?.filter((id) => this.links.has(id));
    const rotation = closing !== undefined && this.rotation.length === 0 ? closing : this.rotation;
    const candidates: Candidate[] = [];
    for (const id of rotation) {
      const link = this.links.get(id);
      if (link === undefined || link.isUnreachable) continue;
      let oldest = this.isRecentlyExpired(link, now) ? this.options.slowAckMs : 0;
      for (const connectionId of link.pending) {
        const entry = this.pending.get(connectionId);
        if (entry !== undefined) oldest = Math.max(oldest, now - entry.sentAt);
      }
      candidates.push({ id, pending: link.pending.size, oldestPendingMs: oldest, connections: link.connections });
    }
    const choice = chooseWorker(candidates, this.cursor, this.options.slowAckMs);
    if (choice === undefined) return undefined;
    this.cursor = choice.nextCursor;
    return choice.id;
  }

  private sendTo(workerId: number, handle: ConnectionHandle): void {
    const link = this.links.get(workerId);
    if (link === undefined) {
      this.dispatch(handle);
      return;
    }
    const connectionId = this.nextConnectionId++;
    const sentAt = this.now();
    this.pending.set(connectionId, { handle, workerId, sentAt });
    link.pending.add(connectionId);
    this.stats.handedOff += 1;
    link.target.send(connectionId, sentAt + this.options.acceptWindowMs, handle, (error) => {
      if (error === null || !this.pending.has(connectionId)) return;
      // The channel closed before the handle left: take it back and try another worker.
      link.isUnreachable = true;
      this.forget(connectionId);
      this.stats.rerouted += 1;
      this.dispatch(handle);
    });
  }

  private flushHeld(): void {
    if (this.isHoldingForClose) return;
    const held = this.held;
    this.held = [];
    for (const entry of held) this.dispatch(entry.handle);
    this.stats.held = this.held.length;
  }
}
