// The worker's proof of life: a few times a second, from its own event loop, it sends the primary
// its event-loop delay, request counts and memory. If the loop is blocked, no heartbeat leaves, and
// that silence is what the primary judges.

import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { HeartbeatStats } from '../protocol/messages.js';
import type { RequestTracker } from './requests.js';

export function startHeartbeat(tracker: RequestTracker, intervalMs: number, send: (stats: HeartbeatStats) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const beat = () => {
    tracker.enforceTimeout();
    tracker.noteProgress();
    const memory = process.memoryUsage();
    // The histogram is in nanoseconds; percentile() of an empty histogram is 0.
    const loopDelayMs = Math.round(delay.percentile(99) / 1e4) / 100;
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
