// Waiting inside `warden check`: an abortable sleep and the check that the user has not aborted.

import { WardenError } from '../errors.js';

export function throwIfAborted(signal: AbortSignal, when: string): void {
  if (signal.aborted) throw new WardenError('WARDEN_CHECK', `check aborted ${when}`, { cause: signal.reason });
}

export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (ms <= 0 || signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
