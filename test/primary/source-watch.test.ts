// Which file changes --reload acts on, decided without a file system.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveServeOptions } from '../../src/config/resolve.js';
import { isWatchedPath } from '../../src/primary/source-watch.js';

const defaults = resolveServeOptions({ reload: true }, {}, () => 1);
const watched = (path: string) => isWatchedPath(path, defaults.reloadInclude, defaults.reloadExclude);

test('source files reload by default, in any folder', () => {
  for (const path of ['app.js', 'src/routes/users.ts', 'lib/a.mjs', 'b.cjs', 'c.mts', 'd.cts', 'config/settings.json']) assert.equal(watched(path), true, path);
});

test('node_modules, dot folders, dot files and other files do not', () => {
  for (const path of ['node_modules/express/index.js', 'a/node_modules/b/c.js', '.git/index', '.cache/x.js', 'src/.app.js.swp', 'README.md', 'logs/out.log']) {
    assert.equal(watched(path), false, path);
  }
});

test('user globs: exclude wins over include', () => {
  assert.equal(isWatchedPath('src/a.test.js', ['**/*.js'], ['**/*.test.js']), false);
  assert.equal(isWatchedPath('src/a.js', ['**/*.js'], ['**/*.test.js']), true);
  assert.equal(isWatchedPath('templates/page.html', ['**/*.html'], []), true);
});
