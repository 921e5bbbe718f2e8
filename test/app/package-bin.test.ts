// Tests for src/app/package-bin.ts: a bin name finds the script node_modules/.bin links to, from the
// working directory or a parent, as npx does.

import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPackageBin, isBinName } from '../../src/app/package-bin.js';

function project(t: { after(fn: () => void): void }): string {
  const root = realpathSync(mkdtempSync(join(tmpdir(), 'warden-bin-')));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  mkdirSync(join(root, 'node_modules', 'tool', 'bin'), { recursive: true });
  mkdirSync(join(root, 'node_modules', '.bin'));
  writeFileSync(join(root, 'node_modules', 'tool', 'bin', 'tool'), '#!/usr/bin/env node\nrequire("node:http");\n');
  symlinkSync('../tool/bin/tool', join(root, 'node_modules', '.bin', 'tool'));
  writeFileSync(join(root, 'node_modules', '.bin', 'shell-tool'), '#!/bin/sh\nexec true\n');
  mkdirSync(join(root, 'app', 'src'), { recursive: true });
  return root;
}

test('a bin name resolves to the script its node_modules/.bin link points at', (t) => {
  const root = project(t);
  assert.equal(findPackageBin('tool', root), join(root, 'node_modules', 'tool', 'bin', 'tool'));
});

test('a bin in a parent directory is found from a subdirectory', (t) => {
  const root = project(t);
  assert.equal(findPackageBin('tool', join(root, 'app', 'src')), join(root, 'node_modules', 'tool', 'bin', 'tool'));
});

test('a missing bin and a shell-script shim give undefined', (t) => {
  const root = project(t);
  assert.equal(findPackageBin('nope', root), undefined);
  assert.equal(findPackageBin('shell-tool', root), undefined);
});

test('only bare names are bin names', () => {
  assert.equal(isBinName('next'), true);
  assert.equal(isBinName('json-server'), true);
  assert.equal(isBinName('./app.js'), false);
  assert.equal(isBinName('src/app.js'), false);
});
