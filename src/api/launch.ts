// What `warden serve`, `warden config` and serve() share: gather the settings from their sources
// (flags or serve() options, environment, config file, defaults), find the app, build each worker's
// environment, and start a Supervisor. Acting code: reads files, nothing is printed here.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { parseEnv } from 'node:util';
import { systemClock } from '../clock.js';
import { autoWorkers, checkWorkersRange, readSizingFacts, type RangeCaps, type SizingFacts, type StartupNote } from '../config/worker-sizing.js';
import type { Fit } from '../config/memory.js';
import { findConfigFile, loadConfigFile, type LoadedConfigFile } from '../config/file.js';
import type { ServeOptions } from '../config/options.js';
import { resolveSettings, type ConfigLayer, type Env, type RawFlags, type Resolved } from '../config/resolve.js';
import { findPackageBin, isBinName } from '../app/package-bin.js';
import { WardenError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { DomainObserver } from '../protocol/events.js';
import { Supervisor, type Started } from '../primary/supervisor.js';

export const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export interface PrepareInput {
  /** commander's flags, or nothing. */
  flags?: RawFlags;
  /** serve()'s options, acting as flags. */
  flagLayer?: ConfigLayer;
  env: Env;
  /** `--config PATH`; undefined: look for warden.config.* in the working directory (when `discover`). */
  configPath?: string;
  discover: boolean;
  /** The app as given on the command line or to serve(); the config file's `app` otherwise. */
  moduleSpec?: string;
  /** Arguments after `--`; the config file's `args` when none are given. */
  appArgs?: readonly string[];
}

export interface Prepared extends Resolved {
  file: LoadedConfigFile | undefined;
  /** The machine's CPU and memory limits and the primary's RSS, read once for --workers auto. */
  sizing: SizingFacts;
  /** How --workers auto chose the count; undefined when a number was given. */
  autoFit: Fit | undefined;
  /** --workers MIN..MAX: what caps the range while it runs, and what to log about it at start. */
  range: { caps: RangeCaps; notes: StartupNote[] } | undefined;
  /** Absolute working directory of warden and its workers. */
  cwd: string;
  moduleSpec: string | undefined;
  appArgs: string[];
}

export interface App {
  modulePath: string;
  exportName: string | undefined;
  moduleLabel: string;
}

export async function prepare(input: PrepareInput): Promise<Prepared> {
  const start = process.cwd();
  // The config file is looked for in --cwd (from a flag or the environment; a cwd in the file
  // itself applies to the app and the workers only).
  const early = input.flagLayer?.values.cwd ?? input.flags?.cwd ?? input.env.WARDEN_CWD;
  const searchDir = typeof early === 'string' && early !== '' ? resolve(start, early) : start;
  const configPath = input.configPath ?? (input.env.WARDEN_CONFIG === '' ? undefined : input.env.WARDEN_CONFIG);
  const path = configPath !== undefined || input.discover ? findConfigFile(searchDir, configPath) : undefined;
  const file = path === undefined ? undefined : await loadConfigFile(path, start);
  const sizing = readSizingFacts(input.env);
  let autoFit: Fit | undefined;
  const resolved = resolveSettings({
    ...(input.flags === undefined ? {} : { flags: input.flags }),
    ...(input.flagLayer === undefined ? {} : { flagLayer: input.flagLayer }),
    env: input.env,
    ...(file === undefined ? {} : { file }),
    cpuCount: () => (autoFit = autoWorkers(sizing)).workers,
  });
  const cwd = resolve(start, resolved.options.cwd ?? '.');
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    throw new WardenError('WARDEN_USAGE', `--cwd ${resolved.options.cwd ?? ''}: no such directory ${cwd}`, { hint: 'give an existing directory' });
  }
  const moduleSpec = input.moduleSpec ?? stringKey(file, 'app');
  const appArgs = input.appArgs !== undefined && input.appArgs.length > 0 ? [...input.appArgs] : (stringList(file, 'args') ?? [...(input.appArgs ?? [])]);
  const workersRange = resolved.options.workersRange;
  const range = workersRange === undefined ? undefined : checkWorkersRange(workersRange, sizing);
  return { ...resolved, file, cwd, moduleSpec, appArgs, sizing, autoFit, range };
}

function stringKey(file: LoadedConfigFile | undefined, key: string): string | undefined {
  const value = file?.values[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '') throw new WardenError('WARDEN_USAGE', `${file?.label} key "${key}" must be the path of your app module (got ${JSON.stringify(value)})`);
  return value;
}

function stringList(file: LoadedConfigFile | undefined, key: string): string[] | undefined {
  const value = file?.values[key];
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw new WardenError('WARDEN_USAGE', `${file?.label} key "${key}" must be a list of strings (got ${JSON.stringify(value)})`);
  }
  return value as string[];
}

/** "app.js:handler" -> { path: "app.js", exportName: "handler" }; a bare path has no export name. */
export function parseModuleSpec(spec: string, cwd: string): { path: string; exportName: string | undefined } {
  const match = /^(.*[^:]):([A-Za-z_$][\w$]*)$/.exec(spec);
  if (match !== null && !existsSync(resolve(cwd, spec))) return { path: match[1] as string, exportName: match[2] };
  return { path: spec, exportName: undefined };
}

export function resolveApp(spec: string | undefined, cwd: string): App {
  if (spec === undefined) {
    throw new WardenError('WARDEN_USAGE', 'no app to serve', {
      hint: 'give the path of your app module, e.g. `warden serve ./app.js`, or "app" in warden.config.json',
    });
  }
  const { path, exportName } = parseModuleSpec(spec, cwd);
  let modulePath = resolve(cwd, path);
  // `warden serve next -- start`: a package's command from node_modules/.bin, as npx finds it.
  const bin = !existsSync(modulePath) && isBinName(path) ? findPackageBin(path, cwd) : undefined;
  if (bin !== undefined) modulePath = bin;
  if (!existsSync(modulePath) || !statSync(modulePath).isFile()) {
    throw new WardenError('WARDEN_APP_LOAD', `cannot load app "${spec}": no such file ${modulePath}`, {
      hint: 'give the path of your app module, e.g. `warden serve ./app.js` or `warden serve ./server.mjs:app`, ' +
        'or the name of a command in node_modules/.bin (`warden serve next -- start`)',
    });
  }
  // The module as messages name it: relative to the working directory when it lies below it.
  const shown = relative(cwd, modulePath);
  const moduleLabel = shown === '' ? spec : shown.startsWith('..') ? modulePath : shown;
  return { modulePath, exportName, moduleLabel };
}

/** Every worker's environment: the env file's variables under the primary's (set variables win, as with node --env-file). */
export function workerEnvironment(options: Pick<ServeOptions, 'envFile'>, cwd: string, env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (options.envFile === undefined) return env;
  const path = resolve(cwd, options.envFile);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new WardenError('WARDEN_USAGE', `--env-file ${options.envFile}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, {
      hint: 'give the path of a file of NAME=value lines',
    });
  }
  return { ...parseEnv(text), ...env };
}

/** The PEM files of --ssl-*, as absolute paths, checked once here so a bad file is one clear error, not a boot failure per worker. */
export function tlsFiles(options: Pick<ServeOptions, 'sslKeyfile' | 'sslCertfile' | 'sslCa'>, cwd: string): { keyfile: string; certfile: string; ca?: string } | undefined {
  if (options.sslKeyfile === undefined || options.sslCertfile === undefined) return undefined;
  const read = (flag: string, given: string) => {
    const path = resolve(cwd, given);
    try {
      return { path, text: readFileSync(path) };
    } catch (error) {
      throw new WardenError('WARDEN_USAGE', `${flag} ${given}: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, { hint: 'give the path of a PEM file' });
    }
  };
  const key = read('--ssl-keyfile', options.sslKeyfile);
  const cert = read('--ssl-certfile', options.sslCertfile);
  const ca = options.sslCa === undefined ? undefined : read('--ssl-ca', options.sslCa);
  // node:tls (and the crypto under it) loads only with --ssl-*: about 1.5 MB of the primary's RSS otherwise.
  const { createSecureContext } = createRequire(import.meta.url)('node:tls') as typeof import('node:tls');
  try {
    createSecureContext({ key: key.text, cert: cert.text, ...(ca === undefined ? {} : { ca: ca.text }) });
  } catch (error) {
    throw new WardenError('WARDEN_USAGE', `--ssl-keyfile/--ssl-certfile: cannot use ${key.path} with ${cert.path}: ${(error as Error).message}`, {
      hint: 'both must be PEM files, and the key must belong to the certificate',
    });
  }
  return { keyfile: key.path, certfile: cert.path, ...(ca === undefined ? {} : { ca: ca.path }) };
}

export function createSupervisor(prepared: Prepared, app: App, log: Logger, observe?: DomainObserver): Supervisor {
  const { options } = prepared;
  const tls = tlsFiles(options, prepared.cwd);
  return new Supervisor(
    {
      options, modulePath: app.modulePath, exportName: app.exportName, moduleLabel: app.moduleLabel, version: VERSION,
      appArgs: prepared.appArgs, workerEnv: workerEnvironment(options, prepared.cwd, process.env), cwd: prepared.cwd,
      ...(prepared.autoFit !== undefined && prepared.range === undefined && prepared.sizing.limitBytes !== undefined ? { memorySizing: prepared.sizing } : {}),
      ...(prepared.range === undefined ? {} : { autoscale: { caps: prepared.range.caps, sizing: prepared.sizing } }),
      ...(tls === undefined ? {} : { tls }),
    },
    systemClock,
    log,
    observe,
  );
}

export type { Started };

/** The most workers `warden scale` may ask for (the machine refuses more). */
export { MAX_WORKERS } from '../primary/machine/index.js';
