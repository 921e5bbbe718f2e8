// Pure: does the process hold work (timers, sockets, file requests) that it did not hold before the
// user's module was imported? Compares two process.getActiveResourcesInfo() lists; reads no clock
// and no process state itself, so load.ts decides when to look.

/**
 * true when `now` holds more resources of some type than `before`. `ownTimers` is the number of
 * ref'd timers the caller itself holds while asking; they are not counted as the app's work.
 * Counting per type (not comparing lists) lets unrelated resources that ended meanwhile not mask new ones
 * of another type.
 */
export function hasWorkBeyond(before: readonly string[], now: readonly string[], ownTimers = 0): boolean {
  const counts = new Map<string, number>();
  for (const type of now) counts.set(type, (counts.get(type) ?? 0) + 1);
  counts.set('Timeout', (counts.get('Timeout') ?? 0) - ownTimers);
  for (const type of before) counts.set(type, (counts.get(type) ?? 0) - 1);
  for (const count of counts.values()) if (count > 0) return true;
  return false;
}
