// What the primary tells systemd (sd_notify), decided from the machine's state after each event:
// READY=1 the first time /readyz would answer 200, RELOADING=1 when a rolling reload starts and READY=1
// when it ends, STOPPING=1 when the primary starts to stop, STATUS= whenever the workers in rotation
// change. Pure: the supervisor sends what this returns (os/sd-notify.ts).

import type { Phase } from './machine/index.js';

export interface NoticeFacts {
  phase: Phase;
  /** /readyz would answer 200. */
  isReady: boolean;
  /** The generation a rolling reload is moving to, or undefined. */
  reloadingTo: number | undefined;
  inRotation: number;
  targetWorkers: number;
}

export interface NoticeMemory {
  hasAnnouncedReady: boolean;
  isReloading: boolean;
  isStopping: boolean;
  status: string | undefined;
}

export const NO_NOTICES: NoticeMemory = { hasAnnouncedReady: false, isReloading: false, isStopping: false, status: undefined };

export function statusText(facts: NoticeFacts): string {
  if (facts.phase !== 'running') return `stopping: ${facts.inRotation} of ${facts.targetWorkers} workers in rotation`;
  const workers = `${facts.inRotation} of ${facts.targetWorkers} worker${facts.targetWorkers === 1 ? '' : 's'} in rotation`;
  return facts.reloadingTo === undefined ? workers : `${workers}, rolling reload to generation ${facts.reloadingTo}`;
}

/** The messages to send now (each one datagram's assignments, in order) and what is then known. */
export function notices(memory: NoticeMemory, facts: NoticeFacts): { memory: NoticeMemory; messages: string[][] } {
  if (memory.isStopping) return { memory, messages: [] };
  const status = statusText(facts);
  const withStatus = (...assignments: string[]) => [...assignments, `STATUS=${status}`];
  if (facts.phase !== 'running') {
    return { memory: { ...memory, isStopping: true, status }, messages: [withStatus('STOPPING=1')] };
  }
  const isReloading = facts.reloadingTo !== undefined;
  if (!memory.hasAnnouncedReady) {
    // A reload asked before the first READY=1 finishes first: systemd is still waiting for the start.
    if (facts.isReady && !isReloading) return { memory: { ...memory, hasAnnouncedReady: true, isReloading: false, status }, messages: [withStatus('READY=1')] };
    return status === memory.status ? { memory, messages: [] } : { memory: { ...memory, status }, messages: [[`STATUS=${status}`]] };
  }
  if (isReloading && !memory.isReloading) return { memory: { ...memory, isReloading: true, status }, messages: [withStatus('RELOADING=1')] };
  if (!isReloading && memory.isReloading) return { memory: { ...memory, isReloading: false, status }, messages: [withStatus('READY=1')] };
  return status === memory.status ? { memory, messages: [] } : { memory: { ...memory, status }, messages: [[`STATUS=${status}`]] };
}
