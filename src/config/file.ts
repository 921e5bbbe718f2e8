// Finds and reads the config file: `--config PATH`, or the one warden.config.{js,mjs,cjs,ts,json} in
// the working directory. A JavaScript or TypeScript file exports the settings object (or a function,
// possibly async, returning it) as its default export or module.exports. This is the acting half;
// resolve.ts validates what it returns, like any other source.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, extname, isAbsolute, join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { prepareTypeScript } from '../os/typescript.js';
import { WardenError } from '../errors.js';
import type { ConfigLayer } from './resolve.js';

export const CONFIG_FILE_NAMES = ['warden.config.js', 'warden.config.mjs', 'warden.config.cjs', 'warden.config.ts', 'warden.config.json'] as const;

export interface LoadedConfigFile extends ConfigLayer {
  path: string;
}

/** The config file to read: the explicit one, else the single one in `dir`, else none. */
export function findConfigFile(dir: string, explicit: string | undefined): string | undefined {
  if (explicit !== undefined) {
    const path = resolve(dir, explicit);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new WardenError('WARDEN_USAGE', `--config ${explicit}: no such file ${path}`, {
        hint: `give the path of a config file (${CONFIG_FILE_NAMES.join(', ')})`,
      });
    }
    return path;
  }
  const found = CONFIG_FILE_NAMES.map((name) => join(dir, name)).filter((path) => existsSync(path));
  if (found.length > 1) {
    throw new WardenError('WARDEN_USAGE', `found ${found.length} config files in ${dir}: ${found.map((path) => basename(path)).join(', ')}`, {
      hint: 'keep one, or choose with --config PATH',
    });
  }
  return found[0];
}

export async function loadConfigFile(path: string, cwd: string): Promise<LoadedConfigFile> {
  const label = isAbsolute(path) && !relative(cwd, path).startsWith('..') ? relative(cwd, path) : path;
  const values = extname(path) === '.json' ? readJson(path, label) : await importConfig(path, label);
  if (typeof values !== 'object' || values === null || Array.isArray(values)) {
    throw new WardenError('WARDEN_USAGE', `${label} must hold an object of settings (got ${Array.isArray(values) ? 'an array' : typeof values})`, {
      hint: 'e.g. { "workers": 4, "gracefulTimeout": 10 } in JSON, or `export default { workers: 4 }`',
    });
  }
  return { path, label, values: values as Record<string, unknown> };
}

function readJson(path: string, label: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw new WardenError('WARDEN_USAGE', `cannot read ${label}: ${(error as Error).message}`, { hint: 'the file must be valid JSON' });
  }
}

async function importConfig(path: string, label: string): Promise<unknown> {
  let namespace: Record<string, unknown>;
  try {
    await prepareTypeScript(path);
    namespace = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    throw new WardenError('WARDEN_USAGE', `cannot load ${label}: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
  let value: unknown = 'default' in namespace ? namespace.default : namespace;
  // TypeScript compiled to CommonJS (tsx, or Node loading a .ts as CommonJS) nests the default export once more.
  if (isObject(value) && 'default' in value && (Object.keys(value).length === 1 || '__esModule' in value)) value = value.default;
  if (typeof value === 'function') value = await (value as () => unknown)();
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
