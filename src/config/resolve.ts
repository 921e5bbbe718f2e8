// Turns raw settings (commander's parsed flags and the environment) into ServeOptions, one source per
// setting in the order flag > environment variable (in table order) > default. Then checks the rules
// that tie settings together. Pure: the CPU count is injected.

import { WardenError } from '../errors.js';
import { SERVE_OPTIONS, flagName, type OptionSpec, type ServeOptions } from './options.js';

export type RawFlags = Readonly<Record<string, string | boolean | string[] | undefined>>;

export function resolveServeOptions(
  flags: RawFlags,
  env: Readonly<Record<string, string | undefined>>,
  cpuCount: () => number,
): ServeOptions {
  const resolved: Partial<Record<keyof ServeOptions, unknown>> = {};
  for (const spec of SERVE_OPTIONS as readonly OptionSpec[]) {
    resolved[spec.key] = resolveOne(spec, flags, env, cpuCount);
  }
  const options = resolved as unknown as ServeOptions;
  checkConsistency(options);
  return options;
}

function resolveOne(spec: OptionSpec, flags: RawFlags, env: Readonly<Record<string, string | undefined>>, cpuCount: () => number): unknown {
  const flag = flags[camel(flagName(spec))];
  if (flag !== undefined) {
    const raw = typeof flag === 'boolean' ? String(flag) : Array.isArray(flag) ? flag.join(',') : flag;
    return spec.parse(raw, { source: `--${flagName(spec)}`, cpuCount });
  }
  for (const name of spec.env) {
    const value = env[name];
    if (value !== undefined && value !== '') return spec.parse(value, { source: name, cpuCount });
  }
  return spec.defaultValue === undefined ? (spec.repeatable ? [] : undefined) : spec.parse(spec.defaultValue, { source: `--${flagName(spec)}`, cpuCount });
}

function checkConsistency(options: ServeOptions): void {
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
  if (!options.reload && (options.reloadDirs ?? []).length > 0) {
    throw new WardenError('WARDEN_CONFIG', '--reload-dir is set but --reload is not', { hint: 'add --reload to watch the directories' });
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
  switch (options.minReady.kind) {
    case 'all':
      return workers;
    case 'count':
      return Math.min(options.minReady.count, workers);
    case 'percent':
      return Math.max(1, Math.ceil((workers * options.minReady.percent) / 100));
  }
}
