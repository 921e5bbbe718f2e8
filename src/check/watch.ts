// `warden check`'s watch after the freeze: health polls, requests to the service and looks for a
// replacement, each tick, until the window ends or the outcome is settled. Reads the clock it is
// given; what the timeline means is verdict.ts's.

import { describeOutcome, type GetOutcome, httpGet } from '../net/http-get.js';
import { isAlive, type FrozenProcess } from './faults.js';
import type { Plan } from './plan.js';
import type { CheckOptions } from './report.js';
import { type CheckTimeline, isGreenStatus, isServedStatus, isSettled, seconds } from './verdict.js';
import { sleep } from './wait.js';

/** Replaced and green for this long: the rest of the window would only repeat it. */
const SETTLE_MS = 1_000;

export interface WatchResult {
  timeline: CheckTimeline;
  endedEarly: boolean;
}

export interface WatchContext {
  signal: AbortSignal;
  log: (line: string) => void;
  now: () => number;
  freezeAt: number;
}

/**
 * Every tick starts one health poll, one request and (if none is running) one replacement check,
 * without waiting for earlier ones: a request hung on the frozen worker must not stop the polling.
 * In-flight work is capped (each ends by its timeout) and ticks are counted, so the watch is
 * bounded in time and in requests even if the clock misbehaves.
 */
export async function watch(plan: Plan, frozen: FrozenProcess, options: CheckOptions, context: WatchContext): Promise<WatchResult> {
  const { log, now, freezeAt } = context;
  const at = (): number => Math.round(now() - freezeAt);
  const stamp = (ms: number): string => `+${seconds(ms)}`;
  const timeline: CheckTimeline = {
    frozenPid: frozen.pid,
    windowMs: options.durationMs,
    elapsedMs: 0,
    health: [],
    requests: [],
    frozenExitedAtMs: null,
    replacement: null,
  };
  // Aborted by the caller's signal, or by a task that failed unexpectedly; ends all in-flight requests.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(context.signal.reason);
  context.signal.addEventListener('abort', onAbort, { once: true });
  if (context.signal.aborted) onAbort();
  let failure: { error: unknown } | undefined;
  const pending = new Set<Promise<void>>();
  const launch = (work: () => Promise<void>): void => {
    const task = work().then(
      () => undefined,
      (error: unknown) => {
        failure ??= { error };
        stop.abort(error);
      },
    );
    pending.add(task);
    void task.then(() => pending.delete(task));
  };

  const maxInFlight = Math.ceil(options.requestTimeoutMs / options.intervalMs) + 1;
  const maxTicks = Math.ceil(options.durationMs / options.intervalMs) + 1;
  let healthInFlight = 0;
  let requestsInFlight = 0;
  let isFindingReplacement = false;
  let endedEarly = false;

  const pollHealth = async (): Promise<void> => {
    const atMs = at();
    healthInFlight += 1;
    const outcome = await httpGet(plan.healthUrl, { timeoutMs: options.requestTimeoutMs, signal: stop.signal, maxBodyBytes: 0 });
    healthInFlight -= 1;
    if (outcome.kind === 'aborted') return;
    const status = outcome.kind === 'response' ? outcome.status : null;
    const isGreen = isGreenStatus(status);
    if (!isGreen && timeline.health.every((sample) => sample.isGreen)) {
      log(`${stamp(atMs)} health poll failed: ${describeOutcome(outcome)}`);
    }
    timeline.health.push({ atMs, status, isGreen });
  };

  const sendRequest = async (): Promise<void> => {
    const atMs = at();
    requestsInFlight += 1;
    const outcome: GetOutcome = await httpGet(plan.serviceUrl, { timeoutMs: options.requestTimeoutMs, signal: stop.signal, maxBodyBytes: 0 });
    requestsInFlight -= 1;
    if (outcome.kind === 'aborted') return;
    const result =
      outcome.kind === 'timeout' ? 'timed-out' : outcome.kind === 'response' && isServedStatus(outcome.status) ? 'ok' : 'failed';
    timeline.requests.push({ atMs, result });
  };

  let hasLoggedUnknown = false;
  const findReplacement = async (): Promise<void> => {
    const atMs = at();
    isFindingReplacement = true;
    try {
      const look = await plan.findReplacement(frozen, stop.signal);
      if (stop.signal.aborted) return;
      if (look.kind === 'found' && timeline.replacement === null) {
        timeline.replacement = { atMs, pid: look.pid };
        log(`${stamp(atMs)} worker ${frozen.pid} replaced by ${look.pid}`);
      } else if (look.kind === 'unknown' && !hasLoggedUnknown) {
        hasLoggedUnknown = true;
        log(`${stamp(atMs)} cannot tell whether worker ${frozen.pid} was replaced (will keep looking): ${look.reason}`);
      }
    } finally {
      isFindingReplacement = false;
    }
  };

  try {
    for (let tick = 0; tick < maxTicks; tick += 1) {
      const atMs = at();
      if (stop.signal.aborted || atMs >= options.durationMs) break;
      if (timeline.frozenExitedAtMs === null && !isAlive(frozen)) {
        timeline.frozenExitedAtMs = atMs;
        log(`${stamp(atMs)} worker ${frozen.pid} exited`);
      }
      if (isSettled(timeline, atMs, SETTLE_MS)) {
        endedEarly = true;
        break;
      }
      if (healthInFlight < maxInFlight) launch(pollHealth);
      if (requestsInFlight < maxInFlight) launch(sendRequest);
      if (!isFindingReplacement) launch(findReplacement);
      await sleep((tick + 1) * options.intervalMs - at(), stop.signal);
    }
    timeline.elapsedMs = Math.min(at(), options.durationMs);
    // Let in-flight polls and requests finish (each within its timeout) before the worker is
    // resumed: resumed first, it would answer them late and hide the freeze.
    while (pending.size > 0) await Promise.all([...pending]);
  } finally {
    context.signal.removeEventListener('abort', onAbort);
    stop.abort();
  }
  if (failure !== undefined) throw failure.error;
  return { timeline, endedEarly };
}
