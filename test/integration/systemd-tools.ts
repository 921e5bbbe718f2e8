// The systemd tools the systemd tests run (systemd-analyze, systemd-socket-activate, systemd-notify):
// a test without one is skipped on a developer's machine, and fails under CI, where a missing tool
// means the suite did not test what it claims.

import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { TestContext } from 'node:test';

export function findTool(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as NodeJS.ErrnoException).code !== 'EACCES') throw error;
    }
  }
  return undefined;
}

/** True when the tool is there; otherwise skips the test (or, under CI, throws). */
export function toolOrSkip(t: TestContext, name: string): boolean {
  if (findTool(name) !== undefined) return true;
  if (process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false') {
    throw new Error(`${name} is not installed, and CI is set: install Debian's systemd package (apt-get install -y systemd)`);
  }
  t.skip(`${name} is not installed (Debian: apt-get install -y systemd)`);
  return false;
}
