// The worker's HTTP counts for /metrics: responses by status class and durations in the histogram's
// buckets (DURATION_BUCKETS_S). It only counts; the heartbeat carries a copy to the primary.

import { DURATION_BUCKETS_S, type HttpCounts } from '../protocol/messages.js';

export class HttpCounter {
  private readonly http: HttpCounts = { byClass: [0, 0, 0, 0, 0, 0], durationBuckets: new Array<number>(DURATION_BUCKETS_S.length + 1).fill(0), durationSumS: 0 };

  /** A finished response; status 0 when it ended before any status was sent. */
  count(status: number, durationMs: number): void {
    const statusClass = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 5;
    this.http.byClass[statusClass] = (this.http.byClass[statusClass] ?? 0) + 1;
    const seconds = durationMs / 1000;
    const bucket = DURATION_BUCKETS_S.findIndex((bound) => seconds <= bound);
    const index = bucket === -1 ? DURATION_BUCKETS_S.length : bucket;
    this.http.durationBuckets[index] = (this.http.durationBuckets[index] ?? 0) + 1;
    this.http.durationSumS += seconds;
  }

  /** A request refused before the app saw it: its status class, no time spent. */
  countRefused(status: number): void {
    this.http.byClass[Math.floor(status / 100) - 1] = (this.http.byClass[Math.floor(status / 100) - 1] ?? 0) + 1;
    this.http.durationBuckets[0] = (this.http.durationBuckets[0] ?? 0) + 1;
  }

  snapshot(): HttpCounts {
    return { byClass: [...this.http.byClass], durationBuckets: [...this.http.durationBuckets], durationSumS: this.http.durationSumS };
  }
}
