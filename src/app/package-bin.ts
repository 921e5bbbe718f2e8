// `warden serve next -- start`: finds a package's command (a bin name) in node_modules/.bin the way
// npx does, from the working directory up, and returns the JavaScript file it links to. Reads the
// file system only; decides nothing about whether that file is a usable app.

import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** A bin name is a bare word: no path separator, not a file in the working directory. */
export function isBinName(spec: string): boolean {
  return /^[A-Za-z0-9@][\w.-]*$/.test(spec);
}

/**
 * The real path of the script `node_modules/.bin/<name>` links to, searching `cwd` and each parent,
 * or undefined. npm makes each .bin entry a symlink to the package's script on Linux and macOS; a
 * shim that is not a node script (a shell or .cmd wrapper) is skipped, since warden imports the file.
 */
export function findPackageBin(name: string, cwd: string): string | undefined {
  for (let dir = cwd; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', '.bin', name);
    if (existsSync(candidate)) {
      const target = realpathSync(candidate);
      if (statSync(target).isFile() && isNodeScript(target)) return target;
    }
    if (dirname(dir) === dir) return undefined;
  }
}

function isNodeScript(file: string): boolean {
  if (/\.(c|m)?js$/.test(file)) return true;
  const head = readFileSync(file, { encoding: 'utf8' }).slice(0, 128);
  return /^#!.*\bnode\b/.test(head);
}
