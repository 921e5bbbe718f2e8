// Pure: finds file:line:column in the text of an error (its stack or message), so a load error can
// say where the user's code is wrong. Parses strings only; never reads files or spawns processes.

import { fileURLToPath } from 'node:url';

export interface SourceLocation {
  file: string;
  line: number;
  column?: number;
}

/**
 * Where a parse error is. Node gives it in three forms:
 * - CommonJS, Node's own TypeScript stripping, and `node --check`: the text starts with a header
 *   "<file>:<line>", then the source line(s), then a line of carets under the bad token;
 * - tsx (esbuild): the message holds "<file>:<line>:<column>: ERROR: ...";
 * - ESM loaded with import() (Node 20 and 24): no location at all. Node keeps it in a private
 *   symbol that only its fatal-exception printer reads, so the caller has to ask `node --check`.
 */
export function syntaxErrorLocation(text: string): SourceLocation | undefined {
  const esbuild = /^(.+?):(\d+):(\d+): ERROR: /m.exec(text);
  // esbuild counts columns from 0, Node from 1.
  if (esbuild !== null) return { file: toPath(esbuild[1]), line: Number(esbuild[2]), column: Number(esbuild[3]) + 1 };
  const lines = text.split('\n');
  const header = /^((?:file:\/\/)?\/.*|[A-Za-z]:\\.*):(\d+)$/.exec(lines[0] ?? '');
  if (header === null) return undefined;
  const carets = lines.slice(1).find((line) => /^\s*\^+\s*$/.test(line));
  const column = carets === undefined ? undefined : carets.indexOf('^') + 1;
  return { file: toPath(header[1]), line: Number(header[2]), column };
}

/**
 * Where an error was thrown: the first stack frame outside Node's internals. For a module that
 * throws while being imported, this is its top-level statement (or the dependency that threw).
 */
export function thrownAtLocation(stack: string): SourceLocation | undefined {
  for (const line of stack.split('\n')) {
    const frame = /^\s+at (?:.*? \()?((?:file:\/\/)?\/[^():]+|[A-Za-z]:\\[^():]+):(\d+):(\d+)\)?$/.exec(line);
    if (frame !== null) return { file: toPath(frame[1]), line: Number(frame[2]), column: Number(frame[3]) };
  }
  return undefined;
}

function toPath(fileOrUrl: string): string {
  return fileOrUrl.startsWith('file://') ? fileURLToPath(fileOrUrl) : fileOrUrl;
}
