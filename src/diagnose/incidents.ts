// Incident records: what a sick worker was doing when warden replaced it (its stack, its requests in
// flight, its crash error), kept per slot so /workers and /incidents can show the last few, and
// rendered once into the log. Pure data and text; the evidence is gathered by supervisor.ts.

import type { Incident, IncidentKind, MemorySample } from '../protocol/admin.js';
import type { NeverAnsweredEnd } from '../protocol/messages.js';
import { megabytes, seconds } from '../units.js';
import { formatTopFunctions } from './cpu-profile.js';

export type { Incident, IncidentKind, MemorySample };

/** How a request the app never answered ended, as the incident block says it. */
const ENDED_TEXT: Record<NeverAnsweredEnd, string> = {
  warden504: 'answered 504 by warden, --request-timeout',
  timeoutCut: 'cut by warden, --request-timeout',
  connectionClosed: 'connection closed before an answer',
};

export class IncidentLog {
  private readonly bySlot = new Map<number, Incident[]>();

  constructor(private readonly keepPerSlot = 5) {}

  record(incident: Incident): void {
    const list = this.bySlot.get(incident.slot) ?? [];
    list.push(incident);
    while (list.length > this.keepPerSlot) list.shift();
    this.bySlot.set(incident.slot, list);
  }

  forSlot(slot: number): Incident[] {
    return [...(this.bySlot.get(slot) ?? [])];
  }

  all(): Incident[] {
    return [...this.bySlot.values()].flat().sort((a, b) => a.at.localeCompare(b.at));
  }
}

/** The profile's top functions for the log block, or why there is none; undefined when none was tried. */
function profileBlock(incident: Incident): string | undefined {
  const profile = incident.profile;
  if (profile === undefined) return incident.noProfile;
  return `top functions by self time over a ${seconds(profile.durationMs)} CPU profile${profile.path === undefined ? '' : ` (${profile.path})`}${profile.notSaved === undefined ? '' : ` (not saved: ${profile.notSaved})`}:\n${formatTopFunctions(profile.top) || '(no samples)'}`;
}

/** One line for the log, plus the evidence as a block under it (a stack reads as a stack). */
export function describeIncident(incident: Incident): { msg: string; block: string | undefined } {
  const who = `worker ${incident.slot} (pid ${incident.pid ?? '?'})`;
  switch (incident.kind) {
    case 'stalled': {
      const profileText = profileBlock(incident);
      const block = [incident.stack, profileText].filter((part): part is string => part !== undefined).join('\n') || undefined;
      return incident.stack !== undefined
        ? { msg: `${who} was stalled (${incident.reason}); its main thread was here:`, block }
        : { msg: `${who} was stalled (${incident.reason}); ${incident.noStack ?? 'no stack was taken'}`, block };
    }
    case 'stuck':
    case 'unhealthy': {
      const report = incident.requests;
      // A stuck worker's profile (or the stack taken instead, or why neither) follows its requests.
      const cpu = [incident.stack === undefined ? undefined : `its main thread was here:\n${incident.stack}`, profileBlock(incident)].filter((part): part is string => part !== undefined);
      if (report === undefined) return { msg: `${who} was ${incident.kind} (${incident.reason}); it did not list its requests`, block: cpu.join('\n') || undefined };
      const since = report.lastAnsweredAgoMs < 0 ? 'it never answered a request' : `its last answer was ${seconds(report.lastAnsweredAgoMs)} ago`;
      const ended = report.neverAnswered ?? 0;
      const listedInFlight = report.requests.length - ended;
      const lines = report.requests.map((request) =>
        `${request.method} ${request.path}  ${seconds(request.ageMs)}${request.headersSent ? '  (headers sent)' : ''}${request.endedBy === undefined ? '' : `  (${ENDED_TEXT[request.endedBy]})`}`);
      if (report.inFlight > listedInFlight) lines.splice(listedInFlight, 0, `… and ${report.inFlight - listedInFlight} more`);
      const count = ended === 0 ? `${report.inFlight} request(s) in flight` : `${report.inFlight} request(s) in flight and ${ended} it never answered that ended`;
      return { msg: `${who} was ${incident.kind} (${incident.reason}); ${since}; ${count}:`, block: [lines.join('\n') || '(none)', ...cpu].join('\n') };
    }
    case 'crashed':
      return { msg: `${who} crashed: ${incident.error?.message ?? incident.reason}`, block: incident.error?.stack };
    case 'memory': {
      const lines = (incident.memory?.samples ?? []).map((sample) =>
        `${seconds(sample.atMs, { digits: 0 }).padStart(5)}  rss ${megabytes(sample.rssBytes, { digits: 1 })}  heap used ${megabytes(sample.heapUsedBytes, { digits: 1 })}`);
      const snapshot = incident.heapSnapshot;
      if (snapshot !== undefined) lines.push('path' in snapshot ? `heap snapshot: ${snapshot.path} (${snapshot.tookMs} ms)` : `heap snapshot skipped: ${snapshot.skipped}`);
      return { msg: `${who} was recycled (${incident.reason}); memory before the recycle:`, block: lines.join('\n') || undefined };
    }
  }
}
