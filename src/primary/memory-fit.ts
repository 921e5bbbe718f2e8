// --workers auto under a cgroup memory limit: the count was first set from an estimated worker RSS;
// once, with the first ready worker's measured RSS, fit it again. Decides with config/memory.ts and
// only logs; the supervisor turns the answer into a ScaleRequested event.

import { memoryAllowance, workersThatFit } from '../config/memory.js';
import { WORKER_RSS_ESTIMATE_BYTES, type SizingFacts } from '../config/worker-sizing.js';
import { LOG_EVENTS } from '../log/events.js';
import type { Logger } from '../log/logger.js';
import type { WorkerRecord } from './machine/index.js';

export class MemoryFit {
  private isSized: boolean;

  constructor(private readonly facts: SizingFacts | undefined, private readonly log: Logger) {
    this.isSized = facts === undefined;
  }

  /**
   * --workers MIN..MAX under a memory limit: the workers the limit holds with this measured RSS (the
   * machine lowers its ceiling to it), logged once; undefined before a ready worker's RSS or without a limit.
   */
  rangeAllows(worker: WorkerRecord | undefined, rssBytes: number, facts: SizingFacts | undefined): number | undefined {
    if (facts?.limitBytes === undefined || worker?.state !== 'ready' || !(rssBytes > 0)) return undefined;
    const { memoryAllows, figures } = memoryAllowance({ ...facts, limitBytes: facts.limitBytes, primaryRssBytes: process.memoryUsage.rss(), workerRssBytes: Math.max(rssBytes, WORKER_RSS_ESTIMATE_BYTES) });
    this.log.log('info', LOG_EVENTS.workersSized, `--workers MIN..MAX: with the first worker's measured RSS, ${figures}; autoscaling stays at or below that`, { memoryAllows, workerRssBytes: rssBytes });
    return memoryAllows;
  }

  /** The worker count to scale to, the first time a ready worker reports its RSS; else undefined. */
  onRss(worker: WorkerRecord | undefined, rssBytes: number, targetWorkers: number): number | undefined {
    const facts = this.facts;
    if (facts === undefined || this.isSized) return undefined;
    if (worker?.state !== 'ready' || !(rssBytes > 0)) return undefined;
    this.isSized = true;
    const fit = workersThatFit({ ...facts, primaryRssBytes: process.memoryUsage.rss(), workerRssBytes: Math.max(rssBytes, WORKER_RSS_ESTIMATE_BYTES) });
    if (fit.workers === targetWorkers) return undefined;
    this.log.log('info', LOG_EVENTS.workersSized, `--workers auto: ${fit.workers} worker${fit.workers === 1 ? '' : 's'} with the first worker's measured RSS, set by ${fit.limitedBy}: ${fit.reason}`, {
      workers: fit.workers, limitedBy: fit.limitedBy, workerRssBytes: rssBytes,
    });
    return fit.workers;
  }
}
