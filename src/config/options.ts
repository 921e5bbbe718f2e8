// The one table of `warden serve` settings: flag, environment variables, default, parser and help.
// The CLI builds its flags from it, `resolveServeOptions` turns raw strings into ServeOptions, and the
// docs mirror it. Pure: no I/O (the CPU count for `--workers auto` is passed in).

import { WardenError } from '../errors.js';

export type MinReady = { kind: 'all' } | { kind: 'count'; count: number } | { kind: 'percent'; percent: number };
export type LogFormat = 'text' | 'json';
export type BalanceMode = 'shared' | 'handoff';

export interface ServeOptions {
  workers: number;
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  factory: boolean;
  gracefulTimeoutMs: number;
  bootTimeoutMs: number;
  timeoutMs: number;
  requestTimeoutMs: number;
  stuckAfterMs: number;
  probePath: string | undefined;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  probeFailures: number;
  minReady: MinReady;
  maxRestarts: number;
  logFormat: LogFormat;
  captureStacks: boolean;
  maxMemoryBytes: number;
  heapSnapshotDir: string | undefined;
  balance: BalanceMode;
}

export interface ParseContext {
  /** Where the raw value came from, for error messages: "--workers" or "WARDEN_WORKERS". */
  source: string;
  cpuCount: () => number;
}

export interface OptionSpec<K extends keyof ServeOptions = keyof ServeOptions> {
  key: K;
  /** commander flag, e.g. "--workers <n>"; a flag without a value is a boolean switch. */
  flag: string;
  env: readonly string[];
  /** Raw default, parsed like any other input; undefined means "not set". */
  defaultValue: string | undefined;
  help: string;
  parse: (raw: string, context: ParseContext) => ServeOptions[K];
}

function usage(context: ParseContext, rule: string, raw: string): WardenError {
  return new WardenError('WARDEN_USAGE', `${context.source} must be ${rule} (got "${raw}")`);
}

export function parseWorkers(raw: string, context: ParseContext): number {
  const text = raw.trim().toLowerCase();
  if (text === 'auto' || text === '0') return context.cpuCount();
  if (!/^\d+$/.test(text) || Number(text) > 1024) throw usage(context, 'a positive integer (at most 1024) or "auto"', raw);
  return Number(text);
}

export function parsePort(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw usage(context, 'a port number from 0 to 65535', raw);
  return Number(text);
}

function parseHost(raw: string, context: ParseContext): string {
  const text = raw.trim();
  if (text === '' || /\s/.test(text)) throw usage(context, 'a host name or IP address', raw);
  return text;
}

/** Seconds as the user writes them (decimals allowed), returned in milliseconds. */
function seconds(options: { allowZero: boolean }) {
  return (raw: string, context: ParseContext): number => {
    const text = raw.trim();
    const value = Number(text);
    const ok = text !== '' && Number.isFinite(value) && (options.allowZero ? value >= 0 : value > 0);
    if (!ok) throw usage(context, options.allowZero ? 'a number of seconds, 0 or more' : 'a number of seconds above 0', raw);
    return Math.round(value * 1000);
  };
}

function positiveInteger(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1) throw usage(context, 'a positive integer', raw);
  return Number(text);
}

function parseBoolean(raw: string, context: ParseContext): boolean {
  const text = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(text)) return true;
  if (['0', 'false', 'no', 'off', ''].includes(text)) return false;
  throw usage(context, 'true or false', raw);
}

export function parseMinReady(raw: string, context: ParseContext): MinReady {
  const text = raw.trim().toLowerCase();
  if (text === 'all') return { kind: 'all' };
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (percent && Number(percent[1]) > 0 && Number(percent[1]) <= 100) return { kind: 'percent', percent: Number(percent[1]) };
  if (/^\d+$/.test(text)) return { kind: 'count', count: Number(text) };
  throw usage(context, '"all", a number of workers, or a percentage such as "50%"', raw);
}

function parseProbePath(raw: string, context: ParseContext): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (!text.startsWith('/')) throw usage(context, 'a URL path starting with "/"', raw);
  return text;
}

function parseMegabytes(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw usage(context, 'a whole number of megabytes, 0 to turn it off', raw);
  return Number(text) * 1024 * 1024;
}

function parseDirectory(raw: string, context: ParseContext): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (text.includes('\0')) throw usage(context, 'a directory path', raw);
  return text;
}

function parseLogFormat(raw: string, context: ParseContext): LogFormat {
  const text = raw.trim().toLowerCase();
  if (text === 'text' || text === 'json') return text;
  throw usage(context, '"text" or "json"', raw);
}

function parseBalance(raw: string, context: ParseContext): BalanceMode {
  const text = raw.trim().toLowerCase();
  if (text === 'shared' || text === 'handoff') return text;
  throw usage(context, '"shared" (workers accept from one shared socket) or "handoff" (the primary accepts and hands each connection over)', raw);
}

function option<K extends keyof ServeOptions>(spec: OptionSpec<K>): OptionSpec<K> {
  return spec;
}

export const SERVE_OPTIONS = [
  option({ key: 'workers', flag: '--workers <n>', env: ['WARDEN_WORKERS', 'WORKERS'], defaultValue: '1',
    help: 'worker processes: a number, or "auto" (or 0) for the CPUs this process may use (cgroup quota aware)', parse: parseWorkers }),
  option({ key: 'host', flag: '--host <host>', env: ['HOST'], defaultValue: '127.0.0.1',
    help: 'address the service listens on', parse: parseHost }),
  option({ key: 'port', flag: '--port <port>', env: ['PORT'], defaultValue: '8000',
    help: 'port the service listens on (0 picks a free port)', parse: parsePort }),
  option({ key: 'adminHost', flag: '--admin-host <host>', env: ['WARDEN_ADMIN_HOST'], defaultValue: '127.0.0.1',
    help: "address of the primary's admin server (/livez, /readyz, /workers)", parse: parseHost }),
  option({ key: 'adminPort', flag: '--admin-port <port>', env: ['WARDEN_ADMIN_PORT'], defaultValue: '9000',
    help: "port of the primary's admin server (0 picks a free port)", parse: parsePort }),
  option({ key: 'factory', flag: '--factory', env: ['WARDEN_FACTORY'], defaultValue: 'false',
    help: 'the export is a function (sync or async) that returns the app', parse: parseBoolean }),
  option({ key: 'gracefulTimeoutMs', flag: '--graceful-timeout <s>', env: ['WARDEN_GRACEFUL_TIMEOUT'], defaultValue: '30',
    help: 'seconds in-flight requests get to finish on stop, drain and recycle', parse: seconds({ allowZero: false }) }),
  option({ key: 'bootTimeoutMs', flag: '--boot-timeout <s>', env: ['WARDEN_BOOT_TIMEOUT'], defaultValue: '30',
    help: 'seconds a worker gets to load the app and become ready', parse: seconds({ allowZero: false }) }),
  option({ key: 'timeoutMs', flag: '--timeout <s>', env: ['WARDEN_TIMEOUT'], defaultValue: '5',
    help: 'seconds without a heartbeat after which a worker is stalled, killed and replaced', parse: seconds({ allowZero: false }) }),
  option({ key: 'requestTimeoutMs', flag: '--request-timeout <s>', env: ['WARDEN_REQUEST_TIMEOUT'], defaultValue: '0',
    help: 'answer 504 to a request with no response after this many seconds (0: off)', parse: seconds({ allowZero: true }) }),
  option({ key: 'stuckAfterMs', flag: '--stuck-after <s>', env: ['WARDEN_STUCK_AFTER'], defaultValue: '10',
    help: 'recycle a worker whose requests have made no progress for this many seconds (0: off)', parse: seconds({ allowZero: true }) }),
  option({ key: 'probePath', flag: '--probe-path <path>', env: ['WARDEN_PROBE_PATH'], defaultValue: undefined,
    help: "send GET <path> to each worker through the app; failing workers are recycled (off unless set)", parse: parseProbePath }),
  option({ key: 'probeIntervalMs', flag: '--probe-interval <s>', env: ['WARDEN_PROBE_INTERVAL'], defaultValue: '5',
    help: 'seconds between per-worker probes', parse: seconds({ allowZero: false }) }),
  option({ key: 'probeTimeoutMs', flag: '--probe-timeout <s>', env: ['WARDEN_PROBE_TIMEOUT'], defaultValue: '2',
    help: 'seconds a probe may take before it counts as failed', parse: seconds({ allowZero: false }) }),
  option({ key: 'probeFailures', flag: '--probe-failures <n>', env: ['WARDEN_PROBE_FAILURES'], defaultValue: '3',
    help: 'consecutive failed probes that make a worker unhealthy', parse: positiveInteger }),
  option({ key: 'minReady', flag: '--min-ready <n>', env: ['WARDEN_MIN_READY'], defaultValue: 'all',
    help: '/readyz is 200 only with this many ready workers: "all", a number, or a percentage', parse: parseMinReady }),
  option({ key: 'maxRestarts', flag: '--max-restarts <n>', env: ['WARDEN_MAX_RESTARTS'], defaultValue: '10',
    help: 'consecutive failed restarts of one worker slot before warden gives up and exits non-zero', parse: positiveInteger }),
  option({ key: 'captureStacks', flag: '--capture-stacks <on|off>', env: ['WARDEN_CAPTURE_STACKS'], defaultValue: 'on',
    help: "before killing a stalled worker, take its JavaScript stack through Node's inspector (opened on 127.0.0.1 only then)", parse: parseBoolean }),
  option({ key: 'maxMemoryBytes', flag: '--max-memory <mb>', env: ['WARDEN_MAX_MEMORY'], defaultValue: '0',
    help: 'recycle a worker gracefully when its RSS goes above this many megabytes (0: off)', parse: parseMegabytes }),
  option({ key: 'heapSnapshotDir', flag: '--heap-snapshot-on-recycle <dir>', env: ['WARDEN_HEAP_SNAPSHOT_DIR'], defaultValue: undefined,
    help: 'before a memory recycle, the worker writes a heap snapshot into this directory (skipped when the heap or the disk makes it unsafe)', parse: parseDirectory }),
  option({ key: 'balance', flag: '--balance <mode>', env: ['WARDEN_BALANCE'], defaultValue: 'shared',
    help: 'how connections reach workers: "shared" (workers in rotation accept from one socket) or "handoff" (the primary accepts and picks the least loaded worker)', parse: parseBalance }),
  option({ key: 'logFormat', flag: '--log-format <format>', env: ['WARDEN_LOG_FORMAT'], defaultValue: 'text',
    help: 'log lines as "text" or "json" (one pino JSON object per line)', parse: parseLogFormat }),
] as const satisfies readonly OptionSpec[];

/** "--graceful-timeout <s>" -> "graceful-timeout". */
export function flagName(spec: OptionSpec): string {
  return spec.flag.replace(/^--/, '').split(' ')[0] as string;
}

export function takesValue(spec: OptionSpec): boolean {
  return spec.flag.includes('<');
}
