// Unit tests for src/app/source-location.ts, on error texts as Node 20/24, tsx and `node --check`
// produce them, plus one real CommonJS parse error.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { syntaxErrorLocation, thrownAtLocation } from '../../src/app/source-location.js';

test('a CommonJS parse error has a "<file>:<line>" header and a caret line', () => {
  const stack = "/srv/app.cjs:3\n  return {;\n          ^\n\nSyntaxError: Unexpected token ';'\n    at wrapSafe (node:internal/modules/cjs/loader:1464:18)";
  assert.deepEqual(syntaxErrorLocation(stack), { file: '/srv/app.cjs', line: 3, column: 11 });
});

test("Node's type stripping shows context lines; the caret line still gives the column", () => {
  const stack = [
    'file:///srv/app.ts:2',
    'const a: number = 1;',
    'export default function (x: string {',
    '                                   ^',
    '  return 1;',
    '',
    "SyntaxError [ERR_INVALID_TYPESCRIPT_SYNTAX]: Expected ',', got '{'",
  ].join('\n');
  assert.deepEqual(syntaxErrorLocation(stack), { file: '/srv/app.ts', line: 2, column: 36 });
});

test('an esbuild (tsx) error gives a 0-based column, reported 1-based', () => {
  const message = 'Transform failed with 1 error:\n/srv/app.ts:2:35: ERROR: Expected ")" but found "{"';
  assert.deepEqual(syntaxErrorLocation(message), { file: '/srv/app.ts', line: 2, column: 36 });
});

test('an ES module parse error from import() carries no location', () => {
  const stack = "SyntaxError: Unexpected token ';'\n    at compileSourceTextModule (node:internal/modules/esm/utils:346:16)";
  assert.equal(syntaxErrorLocation(stack), undefined);
  assert.equal(thrownAtLocation(stack), undefined);
});

test('a real CommonJS parse error is located', () => {
  const file = fileURLToPath(new URL('../../../test/fixtures/bad/syntax-error.cjs', import.meta.url));
  const require = createRequire(import.meta.url);
  assert.throws(
    () => require(file),
    (error: Error) => {
      assert.deepEqual(syntaxErrorLocation(error.stack ?? ''), { file, line: 4, column: 18 });
      return true;
    },
  );
});

test('a throw is located at its first frame outside Node', () => {
  const stack = 'Error: boom\n    at Object.<anonymous> (/srv/app.cjs:3:9)\n    at Module._compile (node:internal/modules/cjs/loader:1554:14)';
  assert.deepEqual(thrownAtLocation(stack), { file: '/srv/app.cjs', line: 3, column: 9 });
  const esm = 'Error: boom\n    at file:///srv/app.mjs:1:7\n    at ModuleJob.run (node:internal/modules/esm/module_job:325:25)';
  assert.deepEqual(thrownAtLocation(esm), { file: '/srv/app.mjs', line: 1, column: 7 });
});
