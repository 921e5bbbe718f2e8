// The worker's proof of life: a few times a second, from its own event loop, it sends the primary
// its event-loop delay, request counts and memory. If the loop is blocked, no heartbeat leaves, and
// that silence is what the primary judges. Each beat also carries the loop's utilisation (ELU) since
// the previous beat: a loop that still turns but is busy nearly all the time is saturated, not stalled.
// An idle worker (nothing in flight, nothing arrived or finished since its last beat) beats at a
// slower pace, on the wall clock's multiples of that pace so the primary wakes once for all idle
// workers, and says so in each beat; a new connection or request brings the regular pace back at once.

import { monitorEventLoopDelay, performance, type EventLoopUtilization } from 'node:perf_hooks';
import type { HeartbeatStats } from '../protocol/messages.js';
import type { RequestTracker } from './requests.js';

/** A gap this long between two beats means the event loop stood still (blocked, stopped, a long GC). */
export const LOOP_PAUSE_MS = 1000;

/** ELU between two readings, rounded to 3 decimals and kept in 0..1 (the clock may step by a hair). */
export function utilizationBetween(previous: EventLoopUtilization, current: EventLoopUtilization): number {
  const idle = current.idle - previous.idle;
  const active = current.active - previous.active;
  const total = idle + active;
  if (!(total > 0)) return 0;
  return Math.min(1, Math.max(0, Math.round((active / total) * 1000) / 1000));
}

/** An idle beat's loop utilisation stays under this: a loop busy with timers of its own is not idle. */
const IDLE_UTILIZATION = 0.5;

export interface HeartbeatPace {
  intervalMs: number;
  /** The interval while idle; the regular one when absent or not longer. */
  idleIntervalMs?: number;
}

/**
 * The wait until the next beat: the regular interval after a beat with work in it, otherwise the
 * time to the next wall-clock multiple of the idle interval (never under the regular one), so idle
 * workers beat in the same instant.
 */
export function nextBeatInMs(pace: HeartbeatPace, isIdle: boolean, wallClockMs: number): number {
  const idleMs = pace.idleIntervalMs ?? pace.intervalMs;
  if (!isIdle || idleMs <= pace.intervalMs) return pace.intervalMs;
  return Math.max(pace.intervalMs, idleMs - (wallClockMs % idleMs));
}

export function startHeartbeat(tracker: RequestTracker, pace: HeartbeatPace, send: (stats: HeartbeatStats) => void): () => void {
  // Each sample is a timer wakeup of this process: at 10 ms, 100 wakeups a second cost an idle worker
  // about 1 % of a core. 50 ms (5 samples per heartbeat) still sees any block that matters here.
  const resolutionMs = 50;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  let lastBeatAt = performance.now();
  let dueAt = lastBeatAt;
  let resumedAt: number | undefined;
  let lastUtilization = performance.eventLoopUtilization();
  let lastServed = -1;
  let arrivedSinceBeat = true;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const beat = () => {
    const now = performance.now();
    // A beat due at the regular interval that comes LOOP_PAUSE_MS after the previous one: the loop
    // stood still. Counted from when this beat was due, so a slow idle pace is no pause.
    if (now - dueAt >= LOOP_PAUSE_MS - pace.intervalMs) resumedAt = now;
    lastBeatAt = now;
    tracker.enforceTimeout();
    tracker.noteProgress();
    const memory = process.memoryUsage();
    // The histogram is in nanoseconds and each sample includes the sampling interval itself.
    const loopDelayMs = Math.max(0, Math.round(delay.percentile(99) / 1e4) / 100 - resolutionMs);
    delay.reset();
    const loopPausedAgoMs = resumedAt === undefined ? -1 : Math.round(performance.now() - resumedAt);
    const utilization = performance.eventLoopUtilization();
    const eventLoopUtilization = utilizationBetween(lastUtilization, utilization);
    lastUtilization = utilization;
    const stats = tracker.stats();
    const isIdle = !arrivedSinceBeat && stats.inFlight === 0 && stats.served === lastServed && !tracker.isDraining && eventLoopUtilization < IDLE_UTILIZATION;
    arrivedSinceBeat = false;
    lastServed = stats.served;
    const waitMs = nextBeatInMs(pace, isIdle, Date.now());
    dueAt = now + waitMs;
    timer = setTimeout(beat, waitMs);
    send({ ...stats, loopDelayMs, eventLoopUtilization, loopPausedAgoMs, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, nextBeatDelayedMs: waitMs - pace.intervalMs });
  };
  tracker.onArrival = () => {
    arrivedSinceBeat = true;
    // Waiting at the idle pace: beat once the current I/O is handled, then at the regular pace, so
    // the primary hears of this work within one interval, as with a busy worker.
    if (stopped || timer === undefined || dueAt - lastBeatAt <= pace.intervalMs) return;
    clearTimeout(timer);
    dueAt = performance.now();
    timer = setTimeout(beat, 0);
  };
  beat();
  return () => {
    stopped = true;
    tracker.onArrival = undefined;
    clearTimeout(timer);
    delay.disable();
  };
}
