// Imports the user's module and says how an import failed (missing file, unresolved import, parse
// error with its location, or a throw). TypeScript is prepared by os/typescript.ts (Node's own type
// stripping, or tsx). Builds no operator messages: load.ts turns results into errors.

import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { errnoCode } from '../errors.js';
import { isTsxRegistered, registerTsx } from '../os/typescript.js';
import { syntaxErrorLocation, thrownAtLocation, type SourceLocation } from './source-location.js';

export type ImportResult =
  | { kind: 'imported'; namespace: Record<string, unknown> }
  | { kind: 'not-found'; error: unknown }
  | { kind: 'unresolved'; error: unknown }
  | { kind: 'syntax'; error: unknown; location: SourceLocation | undefined }
  | { kind: 'threw'; error: unknown; location: SourceLocation | undefined };

const JAVASCRIPT_EXTENSIONS = new Set(['.js', '.mjs', '.cjs']);
// Codes of an import that names a file or package that cannot be found or loaded as a module.
const UNRESOLVED_CODES = new Set(['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'ERR_UNSUPPORTED_DIR_IMPORT', 'ERR_PACKAGE_PATH_NOT_EXPORTED']);
const CHECK_SYNTAX_TIMEOUT_MS = 10_000;

export async function importModule(modulePath: string): Promise<ImportResult> {
  try {
    const stats = await stat(modulePath);
    if (!stats.isFile()) return { kind: 'not-found', error: new Error(`${modulePath} is not a file`) };
  } catch (error) {
    // Anything else (EACCES, ELOOP) is left for import() to report in its own words.
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return { kind: 'not-found', error };
  }
  try {
    const namespace = (await import(pathToFileURL(modulePath).href)) as Record<string, unknown>;
    return { kind: 'imported', namespace };
  } catch (error) {
    // Node's own type stripping refuses what needs transforming (enums, namespaces, parameter
    // properties); tsx handles them, so the same app loads on Node 20 and on Node 24.
    if (errnoCode(error) === 'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX' && !isTsxRegistered()) {
      await registerTsx();
      return importModule(modulePath);
    }
    return classifyImportError(error, modulePath);
  }
}

async function classifyImportError(error: unknown, modulePath: string): Promise<ImportResult> {
  const code = errnoCode(error);
  if (code !== undefined && UNRESOLVED_CODES.has(code)) return { kind: 'unresolved', error };
  const stack = error instanceof Error ? (error.stack ?? '') : '';
  if (isParseError(error)) {
    const location = syntaxErrorLocation(error instanceof Error ? `${stack}\n${error.message}` : '')
      ?? (await checkSyntax(modulePath));
    return { kind: 'syntax', error, location };
  }
  return { kind: 'threw', error, location: thrownAtLocation(stack) };
}

// A SyntaxError thrown by running code (JSON.parse at import) has a frame in user code; one from
// parsing has only Node-internal frames, or a "<file>:<line>" header (CommonJS, stripped TypeScript).
function isParseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'TransformError' || error.message.startsWith('Transform failed')) return true; // tsx/esbuild
  if (!(error instanceof SyntaxError)) return false;
  const stack = error.stack ?? '';
  return syntaxErrorLocation(stack) !== undefined || thrownAtLocation(stack) === undefined;
}

/**
 * Asks `node --check` where a JavaScript parse error is, because import() does not say (see
 * syntaxErrorLocation). Only checks the module itself: when the bad file is one it imports, the
 * check passes and the location stays unknown. Runs only after a load has already failed.
 */
async function checkSyntax(modulePath: string): Promise<SourceLocation | undefined> {
  if (!JAVASCRIPT_EXTENSIONS.has(path.extname(modulePath))) return undefined;
  try {
    await promisify(execFile)(process.execPath, ['--check', modulePath], { timeout: CHECK_SYNTAX_TIMEOUT_MS });
    return undefined;
  } catch (error) {
    const stderr = (error as { stderr?: unknown }).stderr;
    return typeof stderr === 'string' ? syntaxErrorLocation(stderr) : undefined;
  }
}
