// The worker's proof of life: a few times a second, from its own event loop, it sends the primary
// its event-loop delay, request counts and memory. If the loop is blocked, no heartbeat leaves, and
// that silence is what the primary judges. Each beat also carries the loop's utilisation (ELU) since
// the previous beat: a loop that still turns but is busy nearly all the time is saturated, not stalled.

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

export function startHeartbeat(tracker: RequestTracker, intervalMs: number, send: (stats: HeartbeatStats) => void): () => void {
  // Each sample is a timer wakeup of this process: at 10 ms, 100 wakeups a second cost an idle worker
  // about 1 % of a core. 50 ms (5 samples per heartbeat) still sees any block that matters here.
  const resolutionMs = 50;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  let lastBeatAt = performance.now();
  let resumedAt: number | undefined;
  let lastUtilization = performance.eventLoopUtilization();
  const beat = () => {
    const now = performance.now();
    if (now - lastBeatAt >= LOOP_PAUSE_MS) resumedAt = now;
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
    send({ ...tracker.stats(), loopDelayMs, eventLoopUtilization, loopPausedAgoMs, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}
