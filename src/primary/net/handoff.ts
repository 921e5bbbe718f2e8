// `--balance handoff`: the primary accepts (without reading) and passes each connection's handle
// over IPC to a worker in rotation, as node:cluster's round-robin does, but the primary chooses
// (balance.ts) and keeps its copy until the worker acknowledges (handoffs.ts). Workers never accept.

import type { Distributor, DistributorContext } from './distributor.js';
import type { ListeningHandle } from './raw-accept.js';

export class HandoffDistributor implements Distributor {
  readonly minAcceptDrainMs = 0;

  constructor(private readonly context: DistributorContext) {}

  rotationChanged(): void {}

  /** Never asked in this mode; a copy that comes anyway is not kept. */
  listening(_workerId: number, copy: ListeningHandle | undefined): void {
    copy?.close();
  }

  workerRemoved(): void {}

  startTakingQueue(): boolean {
    return this.context.polled() !== undefined;
  }

  stop(): void {}

  destroy(): void {}
}
