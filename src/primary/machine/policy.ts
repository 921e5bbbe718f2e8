// Pure restart policy: exponential backoff between restarts of a slot, and when to give up.
// No I/O and no clocks; the machine (actions.ts, rollout.ts) calls these with the numbers it holds.

export interface BackoffConfig {
  initialMs: number;
  maxMs: number;
  /** A worker ready this long clears its slot's failure count. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffConfig = { initialMs: 100, maxMs: 10_000, resetAfterMs: 10_000 };

/** Delay before the next start after `failures` consecutive failures (1 -> initial, doubling, capped). */
export function backoffMs(failures: number, config: BackoffConfig): number {
  if (failures <= 0) return 0;
  return Math.min(config.maxMs, config.initialMs * 2 ** Math.min(failures - 1, 30));
}

/** A slot gives up after `maxRestarts` restarts in a row have failed. */
export function isCrashLooping(consecutiveFailures: number, maxRestarts: number): boolean {
  return consecutiveFailures > maxRestarts;
}

/** How an exit reads in the log, with gunicorn's hint for the kernel's OOM killer. */
export function describeExit(code: number | null, signal: string | null, killedByWarden: boolean): string {
  if (signal === 'SIGKILL' && !killedByWarden) return 'was sent SIGKILL (perhaps out of memory?)';
  if (signal !== null) return `was killed by ${signal}`;
  return `exited with code ${code ?? 'unknown'}`;
}
