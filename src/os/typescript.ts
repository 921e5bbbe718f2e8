// How this Node loads TypeScript: its own type stripping (Node >= 22.18 / 23.6) or tsx's hooks,
// registered once for the process. Used by app loading (the user's app) and by config files
// (warden.config.ts); knows nothing of either.

import path from 'node:path';

export type TypeScriptMode = 'none' | 'native' | 'tsx';

const TYPESCRIPT_EXTENSIONS = new Set(['.ts', '.mts', '.cts']);

let tsxRegistered = false;

/**
 * How a TypeScript module will be loaded. Node >= 22.18 / 23.6 strips types itself
 * (process.features.typescript is 'strip' or 'transform'); older Node gets tsx's hooks, for ESM
 * (module.register) and for CommonJS (.cts, or require() from TypeScript compiled to CommonJS).
 * The hooks stay registered: the app may import more TypeScript later.
 */
export async function prepareTypeScript(modulePath: string): Promise<TypeScriptMode> {
  if (!TYPESCRIPT_EXTENSIONS.has(path.extname(modulePath))) return 'none';
  if (hasNativeTypeScript()) return 'native';
  await registerTsx();
  return 'tsx';
}

export async function registerTsx(): Promise<void> {
  if (tsxRegistered) return;
  const esm = await import('tsx/esm/api');
  esm.register();
  const cjs = await import('tsx/cjs/api');
  cjs.register();
  tsxRegistered = true;
}

export function hasNativeTypeScript(): boolean {
  // Not in @types/node 20's ProcessFeatures; absent on Node 20, false when disabled by flag.
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

export function isTsxRegistered(): boolean {
  return tsxRegistered;
}
