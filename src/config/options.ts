// The one table of `warden serve` settings: flag, environment variables, default, parser and help.
// The CLI builds its flags from it, `resolveServeOptions` turns raw strings into ServeOptions, and the
// docs mirror it. Pure: no I/O (the CPU count for `--workers auto` is passed in).

import { WardenError } from '../errors.js';
import type { LogFormat } from '../log/logger.js';
import type { MinReady } from '../protocol/admin.js';

export type { LogFormat, MinReady };
/** off; on: one line per request, path without its query string; query: with the query string. */
export type AccessLog = 'off' | 'on' | 'query';
export type BalanceMode = 'shared' | 'handoff';

/** `--workers MIN..MAX`: autoscaling between these counts (primary/machine/autoscale.ts). */
export interface WorkersRange {
  min: number;
  max: number;
}

export interface ServeOptions {
  /** The count to start with: N, the CPUs for "auto", MIN for a range. */
  workers: number;
  /** Set by `--workers MIN..MAX` (derived from the --workers text by resolve.ts, not a row of its own). */
  workersRange: WorkersRange | undefined;
  /** --autoscale-window: how long the fleet must stay busy before a worker is added (3× to retire one, 2× cool-down). */
  autoscaleWindowMs: number;
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
  compareProbe: boolean;
  minReady: MinReady;
  maxRestarts: number;
  logFormat: LogFormat;
  captureStacks: boolean;
  maxMemoryBytes: number;
  heapSnapshotDir: string | undefined;
  profileDir: string | undefined;
  profileDirMaxBytes: number;
  maxRequests: number;
  maxRequestsJitter: number;
  control: string | undefined;
  reload: boolean;
  reloadDirs: string[];
  reloadInclude: string[];
  reloadExclude: string[];
  accessLog: AccessLog;
  // Where and how workers run (issue 15).
  cwd: string | undefined;
  envFile: string | undefined;
  nodeArgs: string[];
  sslKeyfile: string | undefined;
  sslCertfile: string | undefined;
  sslCa: string | undefined;
  balance: BalanceMode;
  sticky: boolean;
  uds: string | undefined;
  udsMode: number;
  // Production on one host (issue 25).
  fd: number | undefined;
  backlog: number;
  maxConcurrency: number;
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
  /** The flag may be given several times (or as a comma-separated list); the values are joined with ",". */
  repeatable?: boolean;
}

function usage(context: ParseContext, rule: string, raw: string): WardenError {
  return new WardenError('WARDEN_USAGE', `${context.source} must be ${rule} (got "${raw}")`);
}

const WORKERS_RULE = 'a positive integer (at most 1024), "auto", or a range MIN..MAX such as 2..8';

/** The count to start with: N, the CPUs for "auto" (or 0), MIN for a range (its rules: parseWorkersRange). */
export function parseWorkers(raw: string, context: ParseContext): number {
  const range = parseWorkersRange(raw, context);
  if (range !== undefined) return range.min;
  const text = raw.trim().toLowerCase();
  // "00" is 0 too: it must mean the CPU count, not zero workers.
  if (text === 'auto' || (/^\d+$/.test(text) && Number(text) === 0)) return context.cpuCount();
  if (!/^\d+$/.test(text) || Number(text) > 1024) throw usage(context, WORKERS_RULE, raw);
  return Number(text);
}

/**
 * `--workers MIN..MAX` (MAX may be "auto": the count `--workers auto` would pick); undefined for a
 * plain count. Each refusal says which part is wrong and what a valid range looks like.
 */
export function parseWorkersRange(raw: string, context: ParseContext): WorkersRange | undefined {
  const text = raw.trim().toLowerCase();
  if (!text.includes('..')) return undefined;
  const match = /^(\S*?)\s*\.\.\s*(\S*)$/.exec(text);
  const [minText, maxText] = match === null ? ['', ''] : [match[1] as string, match[2] as string];
  const bad = (why: string) => new WardenError('WARDEN_USAGE', `${context.source} must be a range MIN..MAX of whole numbers, 1 <= MIN <= MAX <= 1024: ${why} (got "${raw}")`, {
    hint: 'e.g. --workers 2..8 (MAX may be "auto": the CPUs, lowered to what the memory limit holds)',
  });
  if (!/^\d+$/.test(minText)) throw bad(`MIN must be a whole number (got "${minText}")`);
  if (maxText !== 'auto' && !/^\d+$/.test(maxText)) throw bad(`MAX must be a whole number or "auto" (got "${maxText}")`);
  const min = Number(minText);
  const max = maxText === 'auto' ? context.cpuCount() : Number(maxText);
  if (min < 1) throw bad('MIN must be at least 1 (a range never scales to zero workers)');
  if (max > 1024) throw bad(`MAX must be at most 1024 (got ${max})`);
  if (min > max) throw bad(`MIN ${min} is more than MAX ${max}${maxText === 'auto' ? ' (auto: the CPUs and memory this process may use)' : ''}`);
  return { min, max };
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
    // A positive duration must stay positive in milliseconds: 0.0001 s would round to 0, which means
    // "off" or "at once" to the code that reads it.
    const ok = text !== '' && Number.isFinite(value) && (options.allowZero ? value >= 0 : value > 0 && Math.round(value * 1000) >= 1);
    if (!ok) throw usage(context, options.allowZero ? 'a number of seconds, 0 or more' : 'a number of seconds above 0 (at least 0.001)', raw);
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
  // 0 would make /readyz 200 with no worker serving: a pod in the endpoints that answers nothing.
  if (/^\d+$/.test(text) && Number(text) >= 1) return { kind: 'count', count: Number(text) };
  throw usage(context, '"all", a number of workers (at least 1), or a percentage such as "50%"', raw);
}

function parseProbePath(raw: string, context: ParseContext): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (!text.startsWith('/')) throw usage(context, 'a URL path starting with "/"', raw);
  return text;
}

const SIZE_UNITS: Record<string, number> = { '': 1024 ** 2, k: 1024, kb: 1024, m: 1024 ** 2, mb: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3 };

/** A memory size as PM2's max_memory_restart takes it: 512M, 1G, 300K; a plain number is megabytes. */
export function parseMemorySize(raw: string, context: ParseContext): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = match === null ? undefined : SIZE_UNITS[(match[2] as string).toLowerCase()];
  if (match === null || unit === undefined) throw usage(context, 'a size such as 512M, 1.5G or 300K (a plain number is megabytes; 0 turns it off)', raw);
  return Math.round(Number(match[1]) * unit);
}

function nonNegativeInteger(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text)) throw usage(context, 'a whole number, 0 or more', raw);
  return Number(text);
}

/** The socket is bound under PATH plus a short suffix first (unix-socket.ts), hence 100, not 107. */
function parseUdsPath(raw: string, context: ParseContext): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (text.includes('\0') || text.endsWith('/')) throw usage(context, 'a file path for a unix socket', raw);
  if (Buffer.byteLength(text) > 100) throw usage(context, 'a unix socket path of at most 100 bytes', raw);
  return text;
}

function parseFileMode(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^0?[0-7]{3}$/.test(text)) throw usage(context, 'an octal file mode such as 660 or 666', raw);
  return parseInt(text, 8);
}

function parseSocketPath(raw: string, context: ParseContext): string | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  if (text.includes('\0')) throw usage(context, 'a file path for a unix socket', raw);
  // sockaddr_un.sun_path holds 108 bytes on Linux, the terminating NUL included.
  if (Buffer.byteLength(text) > 107) throw usage(context, 'a unix socket path of at most 107 bytes', raw);
  return text;
}

/** A comma-separated list (a repeated flag arrives joined by commas). */
function list(what: string) {
  return (raw: string, context: ParseContext): string[] => {
    const items = raw.split(',').map((item) => item.trim()).filter((item) => item !== '');
    if (items.some((item) => item.includes('\0'))) throw usage(context, what, raw);
    return items;
  };
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

function parseAccessLog(raw: string, context: ParseContext): AccessLog {
  const text = raw.trim().toLowerCase();
  if (text === 'on' || text === 'query') return text;
  if (['off', 'false', '0', ''].includes(text)) return 'off';
  if (['true', '1'].includes(text)) return 'on';
  throw usage(context, '"off", "on" or "query" (on, with the query string)', raw);
}

function parsePath(rule: string) {
  return (raw: string, context: ParseContext): string | undefined => {
    const text = raw.trim();
    if (text === '') return undefined;
    if (text.includes('\0')) throw usage(context, rule, raw);
    return text;
  };
}

/**
 * Node options as a shell would split them: whitespace separates, quotes group ("--title='a b'"),
 * a backslash escapes the next character. Exported for tests.
 */
export function splitNodeArgs(text: string): string[] | undefined {
  const args: string[] = [];
  let current: string | undefined;
  let quote: '"' | "'" | undefined;
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && i + 1 < text.length) current = (current ?? '') + text[++i];
      else current = (current ?? '') + char;
    } else if (char === '"' || char === "'") {
      quote = char;
      current = current ?? '';
    } else if (char === '\\' && i + 1 < text.length) {
      current = (current ?? '') + text[++i];
    } else if (/\s/.test(char)) {
      if (current !== undefined) args.push(current);
      current = undefined;
    } else {
      current = (current ?? '') + char;
    }
  }
  if (quote !== undefined) return undefined;
  if (current !== undefined) args.push(current);
  return args;
}

function parseNodeArgs(raw: string, context: ParseContext): string[] {
  const args = splitNodeArgs(raw);
  if (args === undefined) throw usage(context, 'Node options with balanced quotes', raw);
  const bad = args.find((arg) => !arg.startsWith('-'));
  if (bad !== undefined) throw usage(context, `Node options, each starting with "-" such as --max-old-space-size=512 ("${bad}" is not one)`, raw);
  return args;
}

function parseBalance(raw: string, context: ParseContext): BalanceMode {
  const text = raw.trim().toLowerCase();
  if (text === 'shared' || text === 'handoff') return text;
  throw usage(context, '"shared" (workers accept from one shared socket) or "handoff" (the primary accepts and hands each connection over)', raw);
}

function parseFd(raw: string, context: ParseContext): number | undefined {
  const text = raw.trim();
  if (text === '') return undefined;
  // 0-2 are stdin, stdout and stderr; a listening socket a parent passes comes after them.
  if (!/^\d+$/.test(text) || Number(text) < 3 || Number(text) > 65535) throw usage(context, 'a file descriptor number, 3 or more, of a listening socket this process inherited', raw);
  return Number(text);
}

function parseBacklog(raw: string, context: ParseContext): number {
  const text = raw.trim();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) throw usage(context, 'a whole number from 1 to 65535 (the kernel caps it at net.core.somaxconn)', raw);
  return Number(text);
}

/**
 * Keeps each flag's literal text in the table's type, so WardenOptions can be derived from it. A row
 * names its environment variables only when they are not WARDEN_ and the flag (`--graceful-timeout`
 * -> WARDEN_GRACEFUL_TIMEOUT).
 */
function option<K extends keyof ServeOptions, const F extends string>(spec: Omit<OptionSpec<K>, 'flag' | 'env'> & { flag: F; env?: readonly string[] }): OptionSpec<K> & { flag: F } {
  return { ...spec, env: spec.env ?? [`WARDEN_${flagName(spec).toUpperCase().replace(/-/g, '_')}`] };
}

export const SERVE_OPTIONS = [
  option({ key: 'workers', flag: '--workers <n>', env: ['WARDEN_WORKERS', 'WORKERS'], defaultValue: '1',
    help: 'worker processes: a number, "auto" (or 0) for the CPUs this process may use (cgroup quota aware), or MIN..MAX (e.g. 2..8) to follow the load', parse: parseWorkers }),
  option({ key: 'host', flag: '--host <host>', env: ['HOST'], defaultValue: '127.0.0.1',
    help: 'address the service listens on', parse: parseHost }),
  option({ key: 'port', flag: '--port <port>', env: ['PORT'], defaultValue: '8000',
    help: 'port the service listens on (0 picks a free port)', parse: parsePort }),
  option({ key: 'adminHost', flag: '--admin-host <host>', defaultValue: '127.0.0.1',
    help: "address of the primary's admin server (/livez, /readyz, /workers)", parse: parseHost }),
  option({ key: 'adminPort', flag: '--admin-port <port>', defaultValue: '9000',
    help: "port of the primary's admin server (0 picks a free port)", parse: parsePort }),
  option({ key: 'factory', flag: '--factory', defaultValue: 'false',
    help: 'the export is a function (sync or async) that returns the app', parse: parseBoolean }),
  option({ key: 'gracefulTimeoutMs', flag: '--graceful-timeout <s>', defaultValue: '30',
    help: 'seconds in-flight requests get to finish on stop, drain and recycle', parse: seconds({ allowZero: false }) }),
  option({ key: 'bootTimeoutMs', flag: '--boot-timeout <s>', defaultValue: '30',
    help: 'seconds a worker gets to load the app and become ready', parse: seconds({ allowZero: false }) }),
  option({ key: 'timeoutMs', flag: '--timeout <s>', defaultValue: '5',
    help: 'seconds without a heartbeat after which a worker is stalled, killed and replaced', parse: seconds({ allowZero: false }) }),
  option({ key: 'requestTimeoutMs', flag: '--request-timeout <s>', defaultValue: '0',
    help: 'answer 504 to a request with no response after this many seconds (0: off)', parse: seconds({ allowZero: true }) }),
  option({ key: 'stuckAfterMs', flag: '--stuck-after <s>', defaultValue: '10',
    help: 'recycle a worker whose requests have made no progress for this many seconds (0: off)', parse: seconds({ allowZero: true }) }),
  option({ key: 'probePath', flag: '--probe-path <path>', defaultValue: undefined,
    help: "send GET <path> to each worker through the app; failing workers are recycled (off unless set)", parse: parseProbePath }),
  option({ key: 'probeIntervalMs', flag: '--probe-interval <s>', defaultValue: '5',
    help: 'seconds between per-worker probes', parse: seconds({ allowZero: false }) }),
  option({ key: 'probeTimeoutMs', flag: '--probe-timeout <s>', defaultValue: '2',
    help: 'seconds a probe may take before it counts as failed', parse: seconds({ allowZero: false }) }),
  option({ key: 'probeFailures', flag: '--probe-failures <n>', defaultValue: '3',
    help: 'consecutive failed probes that make a worker unhealthy', parse: positiveInteger }),
  option({ key: 'compareProbe', flag: '--compare-probe <on|off>', defaultValue: 'on',
    help: 'send a quarantined worker and one peer the same GET (--probe-path, else /, with x-warden-probe: 1); the peer answering and it not recycles it', parse: parseBoolean }),
  option({ key: 'minReady', flag: '--min-ready <n>', defaultValue: 'all',
    help: '/readyz is 200 only with this many ready workers: "all", a number, or a percentage', parse: parseMinReady }),
  option({ key: 'maxRestarts', flag: '--max-restarts <n>', defaultValue: '10',
    help: 'consecutive failed restarts of one worker slot before warden gives up and exits non-zero', parse: positiveInteger }),
  option({ key: 'captureStacks', flag: '--capture-stacks <on|off>', defaultValue: 'on',
    help: "before killing a stalled worker, take its JavaScript stack through Node's inspector (opened on 127.0.0.1 only then)", parse: parseBoolean }),
  option({ key: 'maxMemoryBytes', flag: '--max-memory <size>', defaultValue: '0',
    help: 'recycle a worker gracefully when its RSS goes above this size: 512M, 1G, or a plain number of megabytes (0: off)', parse: parseMemorySize }),
  option({ key: 'heapSnapshotDir', flag: '--heap-snapshot-on-recycle <dir>', env: ['WARDEN_HEAP_SNAPSHOT_DIR'], defaultValue: undefined,
    help: 'before a memory recycle, the worker writes a heap snapshot into this directory (skipped when the heap or the disk makes it unsafe)', parse: parseDirectory }),
  option({ key: 'profileDir', flag: '--profile-dir <dir>', defaultValue: undefined,
    help: 'save the CPU profile taken before a stalled worker is killed into this directory as a .cpuprofile (its top functions go in the incident either way)', parse: parseDirectory }),
  option({ key: 'profileDirMaxBytes', flag: '--profile-dir-max <size>', defaultValue: '100M',
    help: 'the most the .cpuprofile files in --profile-dir may take: 100M, 1G; the oldest are removed first', parse: parseMemorySize }),
  option({ key: 'maxRequests', flag: '--max-requests <n>', defaultValue: '0',
    help: 'recycle a worker after it has served this many requests, its replacement started first (0: off)', parse: nonNegativeInteger }),
  option({ key: 'maxRequestsJitter', flag: '--max-requests-jitter <n>', defaultValue: '0',
    help: "add 0 to this many requests to each worker's --max-requests, so workers do not all recycle at once", parse: nonNegativeInteger }),
  option({ key: 'control', flag: '--control <path>', defaultValue: undefined,
    help: 'unix socket for `warden reload`, `warden scale` and `warden status` (default: derived from --port, in a directory only this user can enter)', parse: parseSocketPath }),
  option({ key: 'reload', flag: '--reload', defaultValue: 'false',
    help: 'development: reload all workers (rolling) when a source file changes', parse: parseBoolean }),
  option({ key: 'reloadDirs', flag: '--reload-dir <dir>', defaultValue: undefined, repeatable: true,
    help: "with --reload: directory to watch, repeatable (default: the app's directory)", parse: list('directory paths') }),
  option({ key: 'reloadInclude', flag: '--reload-include <glob>', defaultValue: '**/*.js,**/*.mjs,**/*.cjs,**/*.ts,**/*.mts,**/*.cts,**/*.json',
    help: 'with --reload: files whose change reloads, repeatable', parse: list('glob patterns'), repeatable: true }),
  option({ key: 'reloadExclude', flag: '--reload-exclude <glob>', defaultValue: '**/node_modules/**,**/.*/**,**/.*',
    help: 'with --reload: files whose change is ignored, repeatable', parse: list('glob patterns'), repeatable: true }),
  option({ key: 'balance', flag: '--balance <mode>', defaultValue: 'shared',
    help: 'how connections reach workers: "shared" (workers in rotation accept from one socket) or "handoff" (the primary accepts and picks the least loaded worker)', parse: parseBalance }),
  option({ key: 'logFormat', flag: '--log-format <format>', defaultValue: 'text',
    help: 'log lines as "text" or "json" (one pino JSON object per line)', parse: parseLogFormat }),
  option({ key: 'accessLog', flag: '--access-log <off|on|query>', defaultValue: 'off',
    help: 'one log line per request: slot, method, path, status, duration ("query" keeps the query string)', parse: parseAccessLog }),
  // Where and how workers run (issue 15): keep these together, after the options above.
  option({ key: 'cwd', flag: '--cwd <dir>', defaultValue: undefined,
    help: 'directory warden works in: the config file, the app path and --env-file are found from it, and workers start in it', parse: parsePath('a directory path') }),
  option({ key: 'envFile', flag: '--env-file <path>', defaultValue: undefined,
    help: "load this file (Node's .env format) into every worker's environment; variables already set win", parse: parsePath('a file path') }),
  option({ key: 'nodeArgs', flag: '--node-args <args>', defaultValue: '',
    help: 'options for the Node of each worker, e.g. "--max-old-space-size=512 --enable-source-maps"', parse: parseNodeArgs }),
  option({ key: 'sslKeyfile', flag: '--ssl-keyfile <path>', defaultValue: undefined,
    help: 'serve HTTPS: the private key (PEM); needs --ssl-certfile', parse: parsePath('a file path') }),
  option({ key: 'sslCertfile', flag: '--ssl-certfile <path>', defaultValue: undefined,
    help: 'serve HTTPS: the certificate chain (PEM); needs --ssl-keyfile', parse: parsePath('a file path') }),
  option({ key: 'sslCa', flag: '--ssl-ca <path>', defaultValue: undefined,
    help: 'with HTTPS: CA certificates (PEM) added to the chain', parse: parsePath('a file path') }),
  option({ key: 'uds', flag: '--uds <path>', defaultValue: undefined,
    help: 'serve on this unix domain socket instead of --host/--port (behind a proxy on the same host); a stale socket file is replaced, a live one is not', parse: parseUdsPath }),
  option({ key: 'udsMode', flag: '--uds-mode <mode>', defaultValue: '666',
    help: 'with --uds: file mode of the socket, in octal (666: any local user may connect; 660: owner and group)', parse: parseFileMode }),
  option({ key: 'sticky', flag: '--sticky', defaultValue: 'false',
    help: 'the same client address reaches the same worker while that worker is in rotation (socket.io long-polling); --balance handoff only', parse: parseBoolean }),
  option({ key: 'autoscaleWindowMs', flag: '--autoscale-window <s>', defaultValue: '10',
    help: 'with --workers MIN..MAX: seconds the fleet stays busy before a worker is added; idle 3x as long before one is retired; 2x as long between changes', parse: seconds({ allowZero: false }) }),
  // Production on one host (issue 25): keep these together, at the end.
  option({ key: 'fd', flag: '--fd <n>', defaultValue: undefined,
    help: 'serve on this inherited listening socket (file descriptor N) instead of binding --host/--port; systemd socket activation (LISTEN_FDS) is used without it', parse: parseFd }),
  option({ key: 'backlog', flag: '--backlog <n>', defaultValue: '511',
    help: "the listening socket's accept queue: connections the kernel holds while every worker is busy (capped by net.core.somaxconn)", parse: parseBacklog }),
  option({ key: 'maxConcurrency', flag: '--max-concurrency <n>', defaultValue: '0',
    help: 'a worker with this many requests in flight answers 503 with Retry-After at once instead of queueing them (WebSockets and other upgrades not counted; 0: off)', parse: nonNegativeInteger }),
] as const satisfies readonly OptionSpec[];

/** "--graceful-timeout <s>" -> "graceful-timeout". */
export function flagName(spec: Pick<OptionSpec, 'flag'>): string {
  return spec.flag.replace(/^--/, '').split(' ')[0] as string;
}

export function takesValue(spec: OptionSpec): boolean {
  return spec.flag.includes('<');
}

type CamelCase<S extends string> = S extends `${infer Head}-${infer Tail}` ? `${Head}${Capitalize<CamelCase<Tail>>}` : S;
type FlagWord<F extends string> = F extends `--${infer Name} ${string}` ? Name : F extends `--${infer Name}` ? Name : never;

/** What a setting may be given as outside a command line (serve(), a config file): the parser reads its text. */
type InputOf<T> =
  [T] extends [boolean] ? boolean | 'on' | 'off'
  : [T] extends [number] ? number | string
  : [T] extends [string[]] ? string | string[]
  : [T] extends [MinReady] ? number | 'all' | `${number}%`
  : Exclude<T, undefined>;

type Spec = (typeof SERVE_OPTIONS)[number];

/**
 * Every `warden serve` option named as its flag in camelCase (`--graceful-timeout` -> gracefulTimeout),
 * durations in seconds, derived from SERVE_OPTIONS: a new row is a new key.
 */
export type OptionInputs = { [S in Spec as CamelCase<FlagWord<S['flag']>>]?: InputOf<ServeOptions[S['key']]> };
