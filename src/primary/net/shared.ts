// `--balance shared`: the workers in rotation accept from the one listening socket themselves, as
// node:cluster's SCHED_NONE and gunicorn do: the kernel's accept queue is shared, and a worker whose
// loop does not run (frozen, busy, blocked on a slow request) takes nothing from it. A worker that
// leaves rotation is told to stop accepting and closes its copy; one that enters gets a copy. The
// primary keeps a copy that it does not accept from (its own polling copy is closed once a worker has
// sent one back), so connections wait in the kernel's queue while no worker accepts, and survive
// every worker's death. Connections the primary accepted before that (at startup) and probes go the
// hand-off way.

import { acceptorChanges } from './balance.js';
import type { Distributor, DistributorContext } from './distributor.js';
import type { ListeningHandle } from './raw-accept.js';

export class SharedDistributor implements Distributor {
  /** Workers told to accept (and not told to stop since). */
  private readonly accepting = new Set<number>();
  /** The primary's copy of the listening socket that nobody polls here. */
  private keeper: ListeningHandle | undefined;

  constructor(private readonly context: DistributorContext, readonly minAcceptDrainMs = 100) {}

  /** Tell workers that entered rotation to accept, and those that left to stop. */
  rotationChanged(rotation: readonly number[]): void {
    const listening = this.keeper ?? this.context.polled();
    if (listening === undefined) return;
    const { start, stop } = acceptorChanges(this.accepting, rotation);
    for (const id of stop) {
      this.accepting.delete(id);
      this.context.handoffs.target(id)?.unshare?.();
    }
    for (const id of start) {
      const target = this.context.handoffs.target(id);
      if (target?.share === undefined) continue;
      this.accepting.add(id);
      target.share(listening, this.keeper === undefined);
    }
    this.countAcceptors();
  }

  /**
   * With its copy of the listening socket, the primary keeps that copy and closes the one it polls,
   * so from now on only workers accept. Without (an error), the worker counts as not accepting; it
   * is asked again with the next rotation the listener passes on.
   */
  listening(workerId: number, copy: ListeningHandle | undefined, error: string | undefined): void {
    if (error !== undefined) {
      this.accepting.delete(workerId);
      this.countAcceptors();
      return;
    }
    if (copy === undefined) return;
    if (this.keeper !== undefined || this.context.polled() === undefined) {
      copy.close();
      return;
    }
    this.keeper = copy;
    this.context.closePolled();
  }

  workerRemoved(workerId: number): void {
    this.accepting.delete(workerId);
    this.countAcceptors();
  }

  /**
   * Tell every worker to stop accepting and accept from the primary's own copy of the socket
   * instead, handing connections over as before the first worker was ready.
   */
  startTakingQueue(): boolean {
    const keeper = this.keeper;
    if (keeper === undefined) return false;
    this.unshareAll();
    if (keeper.listen === undefined) return false;
    keeper.onconnection = (status, handle) => {
      if (status === 0 && handle !== undefined) this.context.handoffs.accept(handle);
    };
    return keeper.listen(this.context.backlog) === 0;
  }

  stop(): void {
    this.unshareAll();
    this.destroy();
  }

  destroy(): void {
    this.keeper?.close();
    this.keeper = undefined;
  }

  private unshareAll(): void {
    for (const id of this.accepting) this.context.handoffs.target(id)?.unshare?.();
    this.accepting.clear();
    this.countAcceptors();
  }

  private countAcceptors(): void {
    this.context.stats.acceptors = this.accepting.size;
  }
}
