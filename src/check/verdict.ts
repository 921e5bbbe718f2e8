// Pure: turns what `warden check` observed after freezing a worker into figures, a verdict and the
// reasons for it, and decides when the watch may end early. No I/O, no timers, no clock: every
// time is milliseconds after the SIGSTOP, passed in.

import { seconds as formatSeconds } from '../units.js';

/** One health poll, stamped with the time it was sent. */
export interface HealthSample {
  atMs: number;
  /** null when there was no HTTP answer (timeout or connection error). */
  status: number | null;
  isGreen: boolean;
}

export type RequestResult = 'ok' | 'failed' | 'timed-out';

/** One request to the service, stamped with the time it was sent. */
export interface RequestSample {
  atMs: number;
  result: RequestResult;
}

export interface CheckTimeline {
  frozenPid: number;
  /** How long the check meant to watch. */
  windowMs: number;
  /** How long it did watch (less than windowMs when it ended early). */
  elapsedMs: number;
  health: HealthSample[];
  requests: RequestSample[];
  /** First time the frozen process was seen gone (killed by the server), or null. */
  frozenExitedAtMs: number | null;
  /** First time a new worker was seen in the frozen one's place, or null. */
  replacement: { atMs: number; pid: number } | null;
}

export type Verdict = 'pass' | 'trap';

export interface CheckFigures {
  /** Until the first failed health poll, or the whole watch when none failed. */
  healthGreenAfterFreezeMs: number;
  healthFirstRedAtMs: number | null;
  /** The first green poll after the last failed one; null if health never failed or ended failing. */
  healthRecoveredAtMs: number | null;
  health: { polls: number; failed: number };
  replacedAtMs: number | null;
  newPid: number | null;
  frozenExitedAtMs: number | null;
  requests: { sent: number; ok: number; failed: number; timedOut: number };
}

export interface CheckJudgement extends CheckFigures {
  verdict: Verdict;
  reasons: string[];
}

/** Kubelet's rule for an HTTP probe: any status from 200 to 399 is a success. */
export function isGreenStatus(status: number | null): boolean {
  return status !== null && status >= 200 && status < 400;
}

/** Requests count as served when the server answered with anything below 500. */
export function isServedStatus(status: number): boolean {
  return status < 500;
}

/** `warden check` writes seconds with a space: "1.5 s". */
export function seconds(ms: number): string {
  return formatSeconds(ms, { gap: ' ' });
}

export function summarize(timeline: CheckTimeline): CheckFigures {
  const health = [...timeline.health].sort((a, b) => a.atMs - b.atMs);
  const firstRed = health.find((sample) => !sample.isGreen);
  let lastRedIndex = -1;
  health.forEach((sample, index) => {
    if (!sample.isGreen) lastRedIndex = index;
  });
  const recovered = lastRedIndex >= 0 ? health[lastRedIndex + 1] : undefined;
  const count = (result: RequestResult): number => timeline.requests.filter((r) => r.result === result).length;
  return {
    healthGreenAfterFreezeMs: firstRed?.atMs ?? timeline.elapsedMs,
    healthFirstRedAtMs: firstRed?.atMs ?? null,
    healthRecoveredAtMs: recovered?.atMs ?? null,
    health: { polls: health.length, failed: health.filter((sample) => !sample.isGreen).length },
    replacedAtMs: timeline.replacement?.atMs ?? null,
    newPid: timeline.replacement?.pid ?? null,
    frozenExitedAtMs: timeline.frozenExitedAtMs,
    requests: {
      sent: timeline.requests.length,
      ok: count('ok'),
      failed: count('failed'),
      timedOut: count('timed-out'),
    },
  };
}

/**
 * pass: the frozen worker was replaced within the window (and health turned red or the replacement
 * showed the freeze). trap: it was not, so a stuck worker would have stayed stuck.
 */
export function judge(timeline: CheckTimeline): CheckJudgement {
  const figures = summarize(timeline);
  const pid = timeline.frozenPid;
  const isNoticed = figures.healthFirstRedAtMs !== null || figures.replacedAtMs !== null;
  const isReplaced = figures.replacedAtMs !== null;
  const verdict: Verdict = isNoticed && isReplaced ? 'pass' : 'trap';
  const reasons: string[] = [];

  if (figures.replacedAtMs !== null) {
    reasons.push(`worker ${pid} was replaced by ${figures.newPid} after ${seconds(figures.replacedAtMs)}`);
  } else if (figures.frozenExitedAtMs !== null) {
    reasons.push(
      `worker ${pid} was killed after ${seconds(figures.frozenExitedAtMs)} but no new worker took its place` +
        ` in ${seconds(timeline.elapsedMs)}`,
    );
  } else {
    reasons.push(`worker ${pid} was never replaced in ${seconds(timeline.elapsedMs)}`);
  }

  if (figures.healthFirstRedAtMs === null) {
    reasons.push(
      isReplaced
        ? `health stayed green throughout; only the replacement showed the freeze`
        : `health stayed green for ${seconds(timeline.elapsedMs)} while worker ${pid} was frozen`,
    );
  } else {
    const recovery =
      figures.healthRecoveredAtMs === null
        ? 'and was still failing at the end'
        : `and was green again after ${seconds(figures.healthRecoveredAtMs)}`;
    reasons.push(
      `health first failed after ${seconds(figures.healthFirstRedAtMs)} (${figures.health.failed} of ` +
        `${figures.health.polls} polls failed) ${recovery}`,
    );
  }

  const unserved = figures.requests.failed + figures.requests.timedOut;
  if (unserved > 0) {
    const parts = [
      figures.requests.failed > 0 ? `${figures.requests.failed} failed` : '',
      figures.requests.timedOut > 0 ? `${figures.requests.timedOut} timed out` : '',
    ].filter((part) => part !== '');
    reasons.push(`${unserved} of ${figures.requests.sent} requests went unserved (${parts.join(', ')})`);
  }

  return { ...figures, verdict, reasons };
}

/**
 * The watch may end early once the worker was replaced, the frozen process is gone, and every health
 * poll answered in the last `settleMs` was green: what follows would only repeat that. Waiting for
 * the frozen process to be gone matters under warden, which starts the replacement while it still
 * tries to take the frozen worker's stack: the incident is recorded just before the kill, and a
 * stopped worker resumed before that kill would answer warden's capture late.
 */
export function isSettled(timeline: CheckTimeline, nowMs: number, settleMs: number): boolean {
  if (timeline.replacement === null || timeline.frozenExitedAtMs === null || nowMs - timeline.replacement.atMs < settleMs) return false;
  const recent = timeline.health.filter((sample) => sample.atMs >= nowMs - settleMs);
  return recent.length > 0 && recent.every((sample) => sample.isGreen);
}
