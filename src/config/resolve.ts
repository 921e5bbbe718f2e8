// Turns raw settings into ServeOptions, one source per setting, in the order
//   flag (or a serve() option) > environment variable (in table order) > config file > default.
// Every value goes through the option's parser in the table, whichever source it came from, and an
// error names the option, the source and the rule. Then checks the rules that tie settings together.
// Pure: the CPU count is injected, files are read elsewhere (config/file.ts).

import { WardenError } from '../errors.js';
import { requiredReadyOf } from '../protocol/admin.js';
import { SERVE_OPTIONS, flagName, parseWorkersRange, type OptionSpec, type ServeOptions } from './options.js';

export type RawFlags = Readonly<Record<string, string | boolean | string[] | undefined>>;
export type Env = Readonly<Record<string, string | undefined>>;

/** Settings from a config file or from serve()'s argument: option names in camelCase, any JSON value. */
export interface ConfigLayer {
  /** How messages name it: "warden.config.json" or "serve() options". */
  label: string;
  values: Readonly<Record<string, unknown>>;
}

export type SourceKind = 'flag' | 'env' | 'file' | 'default';

export interface ValueSource {
  kind: SourceKind;
  /** "--workers", "WARDEN_WORKERS", 'warden.config.json key "workers"', "default". */
  name: string;
  /** The text that was parsed; undefined when the option is not set at all. */
  raw: string | undefined;
}

export interface ResolveInput {
  flags?: RawFlags;
  /** Names the flags layer in messages when it is not the command line (serve() options). */
  flagLayer?: ConfigLayer;
  env?: Env;
  file?: ConfigLayer;
  cpuCount: () => number;
}

export interface Resolved {
  options: ServeOptions;
  sources: Record<keyof ServeOptions, ValueSource>;
}

/** Keys a config file may hold besides the options: the app and its arguments. */
export const FILE_ONLY_KEYS = ['app', 'args'] as const;

export function resolveServeOptions(flags: RawFlags, env: Env, cpuCount: () => number, file?: ConfigLayer): ServeOptions {
  return resolveSettings({ flags, env, cpuCount, ...(file === undefined ? {} : { file }) }).options;
}

export function resolveSettings(input: ResolveInput): Resolved {
  const resolved: Partial<Record<keyof ServeOptions, unknown>> = {};
  const sources: Partial<Record<keyof ServeOptions, ValueSource>> = {};
  if (input.file !== undefined) checkKeys(input.file, FILE_ONLY_KEYS);
  if (input.flagLayer !== undefined) checkKeys(input.flagLayer, FILE_ONLY_KEYS);
  for (const spec of SERVE_OPTIONS as readonly OptionSpec[]) {
    const source = pickSource(spec, input);
    sources[spec.key] = source;
    const option = `--${flagName(spec)}`;
    const label = source.kind === 'default' || source.name === option ? option : `${option} (from ${source.name})`;
    const unset = spec.repeatable ? [] : undefined;
    resolved[spec.key] = source.raw === undefined ? unset : spec.parse(source.raw, { source: label, cpuCount: input.cpuCount });
  }
  const options = resolved as unknown as ServeOptions;
  // One --workers text gives both the count to start with and, for MIN..MAX, the autoscaling range.
  const workersSource = sources.workers as ValueSource;
  const workersLabel = workersSource.kind === 'default' || workersSource.name === '--workers' ? '--workers' : `--workers (from ${workersSource.name})`;
  options.workersRange = workersSource.raw === undefined ? undefined : parseWorkersRange(workersSource.raw, { source: workersLabel, cpuCount: input.cpuCount });
  // --sticky needs the primary to pick the worker for each connection: it chooses handoff unless a
  // balance mode was asked for (an explicit shared is refused below).
  if (options.sticky && sources.balance?.kind === 'default') {
    options.balance = 'handoff';
    sources.balance = { kind: 'default', name: 'default with --sticky', raw: 'handoff' };
  }
  checkConsistency(options, sources as Record<keyof ServeOptions, ValueSource>);
  return { options, sources: sources as Record<keyof ServeOptions, ValueSource> };
}

/** The camelCase name an option has in a config file and in serve()'s argument: "gracefulTimeout". */
export function optionName(spec: OptionSpec): string {
  return camel(flagName(spec));
}

function pickSource(spec: OptionSpec, input: ResolveInput): ValueSource {
  const name = optionName(spec);
  const option = `--${flagName(spec)}`;
  if (input.flagLayer !== undefined) {
    const value = input.flagLayer.values[name];
    if (value !== undefined) return { kind: 'flag', name: `${input.flagLayer.label} key "${name}"`, raw: rawText(spec, value, `${input.flagLayer.label} key "${name}"`, option) };
  }
  const flag = input.flags?.[name];
  // A repeatable flag arrives as the list of its values; its parser takes them comma-separated.
  if (flag !== undefined) return { kind: 'flag', name: option, raw: typeof flag === 'boolean' ? String(flag) : Array.isArray(flag) ? flag.join(',') : flag };
  for (const variable of spec.env) {
    const value = input.env?.[variable];
    if (value !== undefined && value !== '') return { kind: 'env', name: variable, raw: value };
  }
  if (input.file !== undefined) {
    const value = input.file.values[name];
    if (value !== undefined) return { kind: 'file', name: `${input.file.label} key "${name}"`, raw: rawText(spec, value, `${input.file.label} key "${name}"`, option) };
  }
  return { kind: 'default', name: option, raw: spec.defaultValue };
}

/** A value from a file as the text a flag would carry: numbers and booleans as written, lists joined. */
function rawText(spec: OptionSpec, value: unknown, where: string, option: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value) && value.every((item) => typeof item === 'string') && spec.repeatable) return value.join(',');
  if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
    return value.map((item) => (/[\s'"\\]/.test(item) ? `'${item.replace(/'/g, "'\\''")}'` : item)).join(' ');
  }
  throw new WardenError('WARDEN_USAGE', `${option} (from ${where}) must be a string, a number or a boolean (got ${JSON.stringify(value) ?? typeof value})`);
}

/** Unknown keys are an error, with the closest known name. */
function checkKeys(layer: ConfigLayer, extra: readonly string[]): void {
  const known = [...(SERVE_OPTIONS as readonly OptionSpec[]).map(optionName), ...extra];
  for (const key of Object.keys(layer.values)) {
    if (known.includes(key)) continue;
    const guess = closest(key, known);
    throw new WardenError('WARDEN_USAGE', `${layer.label}: unknown option "${key}"${guess === undefined ? '' : `; did you mean "${guess}"?`}`, {
      hint: 'option names are the flags of `warden serve --help` in camelCase, e.g. gracefulTimeout for --graceful-timeout',
    });
  }
}

/** The known name nearest to `key` (case and dashes ignored), if it is near enough to be a typo. */
export function closest(key: string, known: readonly string[]): string | undefined {
  const normal = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = levenshtein(normal(key), normal(name));
    if (best === undefined || distance < best.distance) best = { name, distance };
  }
  if (best === undefined) return undefined;
  return best.distance <= Math.max(2, Math.floor(best.name.length / 3)) ? best.name : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] as number;
}

function checkConsistency(options: ServeOptions, sources?: Record<keyof ServeOptions, ValueSource>): void {
  if (options.uds !== undefined) {
    for (const key of ['port', 'host'] as const) {
      const source = sources?.[key];
      if (source === undefined || source.kind === 'default') continue;
      throw new WardenError('WARDEN_CONFIG', `--uds and --${key} are both set (--${key} from ${source.name})`, {
        hint: `warden serves on one of them: drop --${key} to serve on the unix socket, or --uds to serve on TCP`,
      });
    }
    if (options.sticky) {
      throw new WardenError('WARDEN_CONFIG', '--sticky cannot work with --uds: unix socket clients have no address to tell them apart', {
        hint: 'drop --sticky, or let the proxy in front choose the worker',
      });
    }
  }
  if (options.fd !== undefined && options.uds !== undefined) {
    throw new WardenError('WARDEN_CONFIG', '--fd and --uds are both set', {
      hint: 'warden serves on one socket: --fd N for one it inherited (TCP or unix), or --uds PATH for one it binds',
    });
  }
  if (options.minReady.kind === 'count' && options.minReady.count > options.workers) {
    throw new WardenError('WARDEN_CONFIG', `--min-ready ${options.minReady.count} is more than --workers ${options.workers}`, {
      hint: 'lower --min-ready or raise --workers',
    });
  }
  if (options.port !== 0 && options.port === options.adminPort && options.host === options.adminHost) {
    throw new WardenError('WARDEN_CONFIG', `--port and --admin-port are both ${options.port}`, {
      hint: 'give the admin server its own port, e.g. --admin-port 9000',
    });
  }
  if (options.maxRequestsJitter > 0 && options.maxRequests === 0) {
    throw new WardenError('WARDEN_CONFIG', '--max-requests-jitter is set but --max-requests is not', {
      hint: 'set --max-requests N too: the jitter is added to it',
    });
  }
  if (!options.reload && options.reloadDirs.length > 0) {
    throw new WardenError('WARDEN_CONFIG', '--reload-dir is set but --reload is not', { hint: 'add --reload to watch the directories' });
  }
  if ((options.sslKeyfile === undefined) !== (options.sslCertfile === undefined)) {
    const [given, missing] = options.sslKeyfile === undefined ? ['--ssl-certfile', '--ssl-keyfile'] : ['--ssl-keyfile', '--ssl-certfile'];
    throw new WardenError('WARDEN_CONFIG', `${given} is set but ${missing} is not`, { hint: 'HTTPS needs both the private key and the certificate' });
  }
  if (options.sslCa !== undefined && options.sslKeyfile === undefined) {
    throw new WardenError('WARDEN_CONFIG', '--ssl-ca is set without --ssl-keyfile and --ssl-certfile', { hint: 'give the key and certificate to serve HTTPS' });
  }
  if (options.sticky && options.balance === 'shared') {
    throw new WardenError('WARDEN_CONFIG', '--sticky cannot work with --balance shared: there the kernel, not warden, picks the worker for each connection', {
      hint: 'drop --balance shared: with --sticky warden uses --balance handoff, where the primary picks the worker by client address',
    });
  }
  if (options.probePath !== undefined && options.probeTimeoutMs > options.probeIntervalMs) {
    throw new WardenError('WARDEN_CONFIG', '--probe-timeout is longer than --probe-interval', {
      hint: 'a probe must finish before the next one starts',
    });
  }
}

/** commander stores "--graceful-timeout" as "gracefulTimeout". */
function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

/** Number of workers /readyz requires, given the target count. */
export function requiredReady(options: Pick<ServeOptions, 'minReady'>, workers: number): number {
  return requiredReadyOf(options.minReady, workers);
}
