// The last requests a worker's app never answered (warden's 504, a cut response, or the client gone
// first), kept for its incident record. Bounded, oldest dropped first; it only remembers.

import type { IncomingMessage } from 'node:http';
import type { InFlightRequest, NeverAnsweredEnd } from '../protocol/messages.js';
import { pathOf } from './response-timing.js';

/**
 * Ended requests the app never answered that a worker remembers for its incident record. A request
 * warden answered 504 leaves the in-flight set at once, so without this list a stuck worker's
 * incident read "0 request(s) in flight" while every request it got had hung. Bounded: a poisoned
 * worker under load sees thousands.
 */
export const NEVER_ANSWERED_KEPT = 50;

interface NeverAnswered {
  method: string;
  path: string;
  start: number;
  headersSent: boolean;
  endedBy: NeverAnsweredEnd;
}

export class NeverAnsweredLog {
  /** The last NEVER_ANSWERED_KEPT ended requests the app never answered, in the order they ended. */
  private readonly entries: NeverAnswered[] = [];

  remember(req: IncomingMessage, start: number, endedBy: NeverAnsweredEnd): void {
    this.entries.push({ method: req.method ?? '?', path: pathOf(req), start, headersSent: endedBy === 'timeoutCut', endedBy });
    if (this.entries.length > NEVER_ANSWERED_KEPT) this.entries.shift();
  }

  /** Oldest first, aged at `now`. */
  list(now: number): InFlightRequest[] {
    return [...this.entries].sort((a, b) => a.start - b.start).map((entry) => ({
      method: entry.method, path: entry.path, ageMs: Math.round(now - entry.start), headersSent: entry.headersSent, endedBy: entry.endedBy,
    }));
  }
}
