// Reloads and scales someone waits for (the control socket, the API): each gets a request id that
// rides on its machine event, and the machine's Notify effects report progress and the end to it.

import type { Effect } from './machine/index.js';

/** How a reload or scale asked through the control channel (or the API) ended. */
export interface LifecycleOutcome {
  ok: boolean;
  message: string;
}

type NotifyEffect = Extract<Effect, { type: 'Notify' }>;

export class PendingRequests {
  /** By request id; 0 is reserved for "nobody waits" (signals, file changes). */
  private readonly waiting = new Map<number, { progress: (message: string) => void; done: (outcome: LifecycleOutcome) => void }>();
  private nextRequestId = 1;

  /** A new request id, and the promise its Notify effects settle. */
  open(progress: (message: string) => void): { requestId: number; outcome: Promise<LifecycleOutcome> } {
    const requestId = this.nextRequestId++;
    const outcome = new Promise<LifecycleOutcome>((resolve) => this.waiting.set(requestId, { progress, done: resolve }));
    return { requestId, outcome };
  }

  notify(effect: NotifyEffect): void {
    for (const requestId of effect.requestIds) {
      const waiting = this.waiting.get(requestId);
      if (waiting === undefined) continue;
      if (effect.done === undefined) {
        waiting.progress(effect.message);
      } else {
        this.waiting.delete(requestId);
        waiting.done({ ok: effect.done.ok, message: effect.message });
      }
    }
  }

  /** warden stops: nobody's request can finish any more. */
  abandonAll(): void {
    for (const [requestId, waiting] of this.waiting) {
      this.waiting.delete(requestId);
      waiting.done({ ok: false, message: 'warden stopped' });
    }
  }
}
