// Test helper: starts a real `warden serve` (bin/warden.js) on 127.0.0.1 with port 0 for the service
// and admin servers, reads both ports from its startup line on stdout, and hands its processes to
// ownProcesses at once, so the primary and every worker it ever had (stopped, spinning or not) is
// killed by pid even when a test fails.
import { spawn } from 'node:child_process';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

import { ownProcesses } from '../integration/harness.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const WARDEN = fileURLToPath(new URL('../../../bin/warden.js', import.meta.url));

export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../../../test/fixtures/${name}`, import.meta.url));
}

export interface WardenServer {
  pid: number;
  port: number;
  adminUrl: string;
  /** Everything warden wrote to stdout and stderr so far. */
  output(): string;
}

const STARTUP_LINE = /on http:\/\/127\.0\.0\.1:(\d+) \(admin http:\/\/127\.0\.0\.1:(\d+), control \S+, pid (\d+)\)/;

export async function startWarden(t: TestContext, args: string[]): Promise<WardenServer> {
  const child = spawn(process.execPath, [WARDEN, 'serve', ...args, '--port', '0', '--admin-port', '0'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('warden did not start');
  ownProcesses(t).own(pid, 'warden primary');

  let stdout = '';
  let output = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
  });
  const ports = await new Promise<{ port: number; adminPort: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`warden printed no startup line within 15 s; output:\n${output}`)), 15_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      output += chunk;
      const match = STARTUP_LINE.exec(stdout);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ port: Number(match[1]), adminPort: Number(match[2]) });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`warden exited (${code ?? signal}) before its startup line; output:\n${output}`));
    });
  });
  return { pid, port: ports.port, adminUrl: `http://127.0.0.1:${ports.adminPort}`, output: () => output };
}
