// When a worker counts as saturated: its event-loop utilisation (ELU) stayed near 1 for a sustained
// time while its heartbeats kept coming (the loop still turns). Saturated is not sick: such a worker
// stays in rotation; a loop that stops turning is the stall rule's. Pure: the caller passes the time.

export interface SaturationPolicy {
  /** ELU at or above this counts as busy. */
  busyAbove: number;
  /** Busy for this long, without a gap, makes the worker saturated. */
  sustainMs: number;
}

export const DEFAULT_SATURATION: SaturationPolicy = { busyAbove: 0.9, sustainMs: 5000 };

/**
 * The new `busySince` after a heartbeat: when the current busy run began, or undefined when this
 * beat was not busy (or carried no ELU, from an older worker).
 */
export function busySinceAfter(previous: number | undefined, utilization: number | undefined, at: number, policy: SaturationPolicy = DEFAULT_SATURATION): number | undefined {
  if (utilization === undefined || utilization < policy.busyAbove) return undefined;
  return previous ?? at;
}

/** Saturated: busy since at least sustainMs ago. */
export function isSaturated(busySince: number | undefined, now: number, policy: SaturationPolicy = DEFAULT_SATURATION): boolean {
  return busySince !== undefined && now - busySince >= policy.sustainMs;
}
