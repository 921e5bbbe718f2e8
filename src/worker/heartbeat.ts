// The worker's proof of life: a few times a second, from its own event loop, it sends the primary
// its event-loop delay, request counts and memory. If the loop is blocked, no heartbeat leaves, and
// that silence is what the primary judges.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HeartbeatStats } from '../protocol/messages.js';
import type { RequestTracker } from './requests.js';

export function startHeartbeat(tracker: RequestTracker, intervalMs: number, send: (stats: HeartbeatStats) => void): () => void {
  // Each sample is a timer wakeup of this process: at 10 ms, 100 wakeups a second cost an idle worker
  // about 1 % of a core. 50 ms (5 samples per heartbeat) still sees any block that matters here.
  const resolutionMs = 50;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  delay.enable();
  const beat = () => {
    tracker.enforceTimeout();
    tracker.noteProgress();
    const memory = process.memoryUsage();
    // The histogram is in nanoseconds and each sample includes the sampling interval itself.
    const loopDelayMs = Math.max(0, Math.round(delay.percentile(99) / 1e4) / 100 - resolutionMs);
    delay.reset();
    send({ ...tracker.stats(), loopDelayMs, rssBytes: memory.rss, heapUsedBytes: memory.heapUsed });
  };
  beat();
  const timer = setInterval(beat, intervalMs);
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}
