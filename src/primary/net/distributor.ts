// The one interface of a balance mode (docs/balancing.md), as node:cluster has RoundRobinHandle and
// SharedHandle behind one shape: what the listener tells the mode, nothing more. Both modes send the
// connections the primary accepts itself (at startup, probes, while closing) through Handoffs.

import type { ConnectionStats, Handoffs } from './handoffs.js';
import type { ListeningHandle } from './raw-accept.js';

export interface Distributor {
  /** The workers in rotation, in slot order; called only when they changed. */
  rotationChanged(rotation: readonly number[]): void;
  /** A worker answered 'listen', with a copy of the listening socket or an error. */
  listening(workerId: number, copy: ListeningHandle | undefined, error: string | undefined): void;
  workerRemoved(workerId: number): void;
  /**
   * Closing: make the primary take the connections the kernel still queues; false when it cannot
   * (nothing listens any more). It then polls for at least `minAcceptDrainMs`.
   */
  startTakingQueue(): boolean;
  readonly minAcceptDrainMs: number;
  /** The listener closes: no worker accepts any more and the primary drops its spare copies. */
  stop(): void;
  /** Last resort: close what the mode holds without telling anyone. */
  destroy(): void;
}

/** What a mode may reach of the listener. */
export interface DistributorContext {
  readonly handoffs: Handoffs;
  readonly stats: ConnectionStats;
  /** The listening handle the primary polls itself, while it has one. */
  polled(): ListeningHandle | undefined;
  /** Stop polling: close that one descriptor; the socket, its queue and the workers' copies stay. */
  closePolled(): void;
  /** `--backlog`: listen(2)'s backlog each time the socket is listened again. */
  readonly backlog: number;
}
