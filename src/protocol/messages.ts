// The IPC messages between the primary and a worker, imported by both sides. Every message carries a
// verb in `act` (as node:cluster does); `parseWorkerMessage` validates what a worker sends, because a
// user app can call process.send() too and its messages must not be mistaken for warden's.

/** What a worker measures on its event loop and reports a few times a second. */
export interface HeartbeatStats {
  /** Event-loop delay (p99 of 50 ms samples over the last interval), ms. */
  loopDelayMs: number;
  /**
   * Event-loop utilisation over the last interval, 0..1 (`performance.eventLoopUtilization` deltas):
   * the share of time the loop spent running code rather than waiting. Absent from older workers.
   */
  eventLoopUtilization?: number;
  /** Requests received and not yet finished. */
  inFlight: number;
  /** Age of the oldest request still waiting for its response headers, ms (0 when none). */
  oldestWaitingMs: number;
  /** Requests still waiting for response headers. */
  waiting: number;
  /** Requests finished since the worker started. */
  served: number;
  /** Milliseconds since the last request finished, or -1 when none has. */
  lastFinishedAgoMs: number;
  /**
   * Requests that arrived since the app last answered one (still waiting, abandoned by their client,
   * or cut by --request-timeout), and how long ago the first of them arrived, ms (0 when none).
   */
  unansweredCount: number;
  unansweredForMs: number;
  /** Longest time-to-headers of requests answered in the last one to two minutes, ms. */
  slowestRecentMs: number;
  /** How many requests were answered in that same window: how much the slowest answer is worth. */
  answeredRecent: number;
  /**
   * Milliseconds since the event loop last resumed after holding still for a second or more (a gap
   * between heartbeats), or -1 when it never did: time the loop stood still is the stall rule's.
   */
  loopPausedAgoMs: number;
  /** Requests answered 504 (or cut) by --request-timeout since the worker started. */
  timedOut: number;
  /** How many of the last requests that finished were timed out, in a row. */
  consecutiveTimeouts: number;
  /** Open client connections. */
  connections: number;
  /** Of those, connections taken over by an upgrade (WebSockets); absent from older workers. */
  upgraded?: number;
  rssBytes: number;
  heapUsedBytes: number;
  /** Finished requests since the worker started, for /metrics; absent from older workers. */
  http?: HttpCounts;
  /**
   * How much later than the regular interval the next heartbeat is due, ms: 0 while the worker has
   * work, more when it is idle (it beats less often then). The primary widens the late window by
   * as much. Absent from older workers (0).
   */
  nextBeatDelayedMs?: number;
}

/** Upper bounds (seconds) of the request duration histogram a worker keeps. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;

export interface HttpCounts {
  /** Finished requests by status class: index 0 is 1xx … 4 is 5xx; 5 counts those with no status sent. */
  byClass: number[];
  /** Per DURATION_BUCKETS_S bound (not cumulative), plus one last count above the largest bound. */
  durationBuckets: number[];
  durationSumS: number;
}

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  hint?: string;
  stack?: string;
}

// primary -> worker
export type PrimaryMessage =
  /** A connection (the handle rides along); the worker must not take it after `expiresAt`. */
  | { warden: 1; act: 'conn'; id: number; expiresAt: number }
  /**
   * `--balance shared`: the service's listening handle rides along; accept from it until told to
   * stop. With `returnCopy` the worker sends its copy back (the primary then stops accepting itself).
   */
  | { warden: 1; act: 'listen'; returnCopy: boolean }
  /** Stop accepting from the shared listening handle (out of rotation): close this process's copy. */
  | { warden: 1; act: 'unlisten' }
  | { warden: 1; act: 'drain'; reason: string }
  /** Asks for the requests in flight, for the incident record of a stuck or unhealthy worker. */
  | { warden: 1; act: 'report' }
  /** Before a memory recycle: write a heap snapshot into `dir` unless the heap is over `maxHeapBytes`. */
  | { warden: 1; act: 'heapSnapshot'; dir: string; maxHeapBytes: number };

// worker -> primary
export type WorkerMessage =
  | { warden: 1; act: 'ready'; shape: string }
  /** The worker received SIGTERM (an operator's `kill -TERM <pid>`): a request to replace it gracefully. */
  | { warden: 1; act: 'sigterm' }
  | { warden: 1; act: 'bootError'; error: SerializedError }
  /** `connections`: the worker's open connections, the new one included (for the least-loaded choice). */
  | { warden: 1; act: 'accepted'; id: number; connections: number }
  /** Answer to 'listen': accepting, or why not; with returnCopy, the listening handle rides along. */
  | { warden: 1; act: 'listening'; error?: string }
  | { warden: 1; act: 'rejected'; id: number }
  | { warden: 1; act: 'heartbeat'; stats: HeartbeatStats }
  | { warden: 1; act: 'crash'; error: SerializedError }
  | { warden: 1; act: 'report'; report: RequestsReport }
  | { warden: 1; act: 'heapSnapshot'; result: HeapSnapshotResult }
  /** The app's own prom-client metrics (getMetricsAsJSON of its default registry). */
  | { warden: 1; act: 'metrics'; metrics: AppMetric[] };

/** One metric family as prom-client's getMetricsAsJSON gives it. */
export interface AppMetric {
  name: string;
  help: string;
  type: string;
  values: { value: number; labels: Record<string, string | number>; metricName?: string }[];
}

/** More than this many families or series from one worker are cut (a runaway label in the app). */
const MAX_APP_SERIES = 5000;

function parseAppMetrics(value: unknown): AppMetric[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const metrics: AppMetric[] = [];
  let series = 0;
  for (const metric of value) {
    if (!isRecord(metric) || typeof metric.name !== 'string' || typeof metric.type !== 'string' || !Array.isArray(metric.values)) continue;
    const values = metric.values.filter((entry): entry is AppMetric['values'][number] =>
      isRecord(entry) && typeof entry.value === 'number' && (entry.labels === undefined || isRecord(entry.labels)))
      .map((entry) => ({ ...entry, labels: entry.labels ?? {} }));
    series += values.length;
    if (series > MAX_APP_SERIES) break;
    metrics.push({ name: metric.name, help: typeof metric.help === 'string' ? metric.help : '', type: metric.type, values });
  }
  return metrics;
}

export type HeapSnapshotResult = { path: string; bytes: number; tookMs: number } | { skipped: string };

/**
 * A request the app has not answered, as an incident shows it: the query string is dropped (it may
 * hold secrets). Either still in flight (no `endedBy`), or ended without the app's answer: warden
 * answered it 504 at --request-timeout, cut it there (the app had sent headers only), or its
 * connection closed first (the client gave up, or the connection was cut).
 */
export interface InFlightRequest {
  method: string;
  path: string;
  /** Since the request arrived. */
  ageMs: number;
  headersSent: boolean;
  endedBy?: NeverAnsweredEnd;
}

export type NeverAnsweredEnd = 'warden504' | 'timeoutCut' | 'connectionClosed';

export interface RequestsReport {
  /** In flight (the 20 oldest), then the ended ones the app never answered (the last 50), oldest first. */
  requests: InFlightRequest[];
  /** How many were in flight; `requests` lists at most the 20 oldest. */
  inFlight: number;
  /** How many of `requests` ended without the app's answer (504 or cut by warden, or the connection closed first). */
  neverAnswered?: number;
  lastAnsweredAgoMs: number;
  unansweredCount: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function isError(value: unknown): value is SerializedError {
  return isRecord(value) && typeof value.name === 'string' && typeof value.message === 'string';
}

const STAT_KEYS: readonly (keyof HeartbeatStats)[] = [
  'loopDelayMs', 'inFlight', 'oldestWaitingMs', 'waiting', 'served', 'lastFinishedAgoMs', 'unansweredCount', 'unansweredForMs', 'slowestRecentMs', 'answeredRecent',
  'loopPausedAgoMs', 'timedOut',
  'consecutiveTimeouts', 'connections', 'rssBytes', 'heapUsedBytes',
];

function isNumbers(value: unknown, length: number): value is number[] {
  return Array.isArray(value) && value.length === length && value.every((entry) => typeof entry === 'number' && Number.isFinite(entry));
}

function isHttpCounts(value: unknown): value is HttpCounts {
  return isRecord(value) && isNumbers(value.byClass, 6) && isNumbers(value.durationBuckets, DURATION_BUCKETS_S.length + 1) &&
    typeof value.durationSumS === 'number' && Number.isFinite(value.durationSumS);
}

function isUtilization(value: unknown): boolean {
  return value === undefined || (typeof value === 'number' && value >= 0 && value <= 1);
}

function isStats(value: unknown): value is HeartbeatStats {
  return isRecord(value) && STAT_KEYS.every((key) => typeof value[key] === 'number' && Number.isFinite(value[key])) &&
    isUtilization(value.eventLoopUtilization) &&
    (value.nextBeatDelayedMs === undefined || (typeof value.nextBeatDelayedMs === 'number' && value.nextBeatDelayedMs >= 0 && Number.isFinite(value.nextBeatDelayedMs))) &&
    (value.http === undefined || isHttpCounts(value.http));
}

function isReport(value: unknown): value is RequestsReport {
  return isRecord(value) && Array.isArray(value.requests) && typeof value.inFlight === 'number' &&
    value.requests.every((entry) => isRecord(entry) && typeof entry.method === 'string' && typeof entry.path === 'string' && typeof entry.ageMs === 'number');
}

/** The message if it is a well-formed warden message from a worker, otherwise undefined. */
export function parseWorkerMessage(value: unknown): WorkerMessage | undefined {
  if (!isRecord(value) || value.warden !== 1) return undefined;
  switch (value.act) {
    case 'ready':
      return typeof value.shape === 'string' ? { warden: 1, act: 'ready', shape: value.shape } : undefined;
    case 'bootError':
    case 'crash':
      return isError(value.error) ? { warden: 1, act: value.act, error: value.error } : undefined;
    case 'accepted':
      if (typeof value.id !== 'number') return undefined;
      return { warden: 1, act: 'accepted', id: value.id, connections: typeof value.connections === 'number' && Number.isFinite(value.connections) ? value.connections : 0 };
    case 'rejected':
      return typeof value.id === 'number' ? { warden: 1, act: value.act, id: value.id } : undefined;
    case 'sigterm':
      return { warden: 1, act: 'sigterm' };
    case 'listening':
      return typeof value.error === 'string' ? { warden: 1, act: 'listening', error: value.error } : { warden: 1, act: 'listening' };
    case 'heartbeat':
      return isStats(value.stats) ? { warden: 1, act: 'heartbeat', stats: value.stats } : undefined;
    case 'report':
      return isReport(value.report) ? { warden: 1, act: 'report', report: value.report } : undefined;
    case 'heapSnapshot': {
      const result = value.result;
      const ok = isRecord(result) && (typeof result.skipped === 'string' || (typeof result.path === 'string' && typeof result.bytes === 'number'));
      return ok ? { warden: 1, act: 'heapSnapshot', result: result as HeapSnapshotResult } : undefined;
    }
    case 'metrics': {
      const metrics = parseAppMetrics(value.metrics);
      return metrics === undefined ? undefined : { warden: 1, act: 'metrics', metrics };
    }
    default:
      return undefined;
  }
}

export function parsePrimaryMessage(value: unknown): PrimaryMessage | undefined {
  if (!isRecord(value) || value.warden !== 1) return undefined;
  if (value.act === 'conn' && typeof value.id === 'number' && typeof value.expiresAt === 'number') {
    return { warden: 1, act: 'conn', id: value.id, expiresAt: value.expiresAt };
  }
  if (value.act === 'listen') return { warden: 1, act: 'listen', returnCopy: value.returnCopy === true };
  if (value.act === 'unlisten') return { warden: 1, act: 'unlisten' };
  if (value.act === 'drain' && typeof value.reason === 'string') return { warden: 1, act: 'drain', reason: value.reason };
  if (value.act === 'report') return { warden: 1, act: 'report' };
  if (value.act === 'heapSnapshot' && typeof value.dir === 'string' && typeof value.maxHeapBytes === 'number') {
    return { warden: 1, act: 'heapSnapshot', dir: value.dir, maxHeapBytes: value.maxHeapBytes };
  }
  return undefined;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const hint = (error as { hint?: unknown }).hint;
    return {
      name: error.name,
      message: error.message,
      ...(typeof code === 'string' ? { code } : {}),
      ...(typeof hint === 'string' ? { hint } : {}),
      ...(error.stack === undefined ? {} : { stack: error.stack }),
    };
  }
  return { name: 'Error', message: `non-error value thrown: ${String(error)}` };
}

/**
 * Milliseconds on CLOCK_MONOTONIC, which on Linux is one clock for every process of the machine, so
 * a deadline set by the primary means the same instant to a worker (wall-clock jumps cannot move it).
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint() / 1_000_000n);
}
