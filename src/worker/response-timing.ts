// When the app answered: each response's time-to-headers (one patch of ServerResponse#writeHead covers
// every framework), the slowest and the count of recent answers, and a request's path for the record.
// Facts for requests.ts; nothing here decides anything.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { http } from '../net/node-http.js';

export const headersAt = Symbol('warden.headersAt');

/** The path without its query string (it may hold secrets). */
export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '').split('?')[0] as string;
}

export type TimedResponse = ServerResponse & { [headersAt]?: number };

let writeHeadPatched = false;

/**
 * Remember when each response sent its headers. Every framework ends in ServerResponse#writeHead
 * (write/end/flushHeaders call it implicitly), so one patch of the prototype covers all app shapes.
 */
export function patchWriteHead(): void {
  if (writeHeadPatched) return;
  writeHeadPatched = true;
  const original = http.ServerResponse.prototype.writeHead;
  http.ServerResponse.prototype.writeHead = function writeHead(this: TimedResponse, ...args: unknown[]) {
    this[headersAt] ??= performance.now();
    return (original as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as typeof original;
}

/** Two one-minute buckets: the slowest time-to-headers, and how many answers, of the last one to two minutes. */
export class RecentAnswers {
  private current = { slowest: 0, count: 0 };
  private previous = { slowest: 0, count: 0 };
  private bucketStart = performance.now();

  add(value: number, now: number): void {
    this.rotate(now);
    if (value > this.current.slowest) this.current.slowest = value;
    this.current.count += 1;
  }

  slowest(now: number): number {
    this.rotate(now);
    return Math.max(this.current.slowest, this.previous.slowest);
  }

  count(now: number): number {
    this.rotate(now);
    return this.current.count + this.previous.count;
  }

  private rotate(now: number): void {
    if (now - this.bucketStart < 60_000) return;
    this.previous = now - this.bucketStart < 120_000 ? this.current : { slowest: 0, count: 0 };
    this.current = { slowest: 0, count: 0 };
    this.bucketStart = now;
  }
}
